"""The event envelope in practice: wrap a payload, encode it, decode it with this reader's own versions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Mapping, NamedTuple, Optional
from uuid import UUID, uuid4

from schemas.catalog import SchemaCatalog, default_catalog
from schemas.files import ENVELOPE, SchemaVersion
from schemas.records import Envelope, event_of, record_class

from .errors import AvroDecodeError
from .single_object import decode_single_object, encode_single_object, read_writer

__all__ = [
    "ENVELOPE_VERSION",
    "Envelope",
    "DecodedEvent",
    "wrap",
    "encode_envelope",
    "decode_envelope",
    "reader_schemas",
]

#: The envelope version this code writes and reads with (schemas/envelope/v1.avsc).
ENVELOPE_VERSION = 1


class DecodedEvent(NamedTuple):
    envelope: Envelope
    #: The payload in the reader's version: its record class, or a dict when it has none.
    payload: Any


def wrap(
    payload: Any,
    event_type: str,
    version: int,
    *,
    source: str,
    partition_key: str,
    caused_by: Optional[Envelope] = None,
    correlation_id: Optional[str] = None,
    occurred_at: Optional[datetime] = None,
    event_id: Optional[UUID] = None,
    recorded_at: Optional[datetime] = None,
    catalog: Optional[SchemaCatalog] = None,
) -> Envelope:
    """An envelope around `payload` (a record class instance or a mapping) encoded as `event_type` `version`.

    The event id is new (uuid4) and recorded_at is now unless given; occurred_at defaults to
    recorded_at. An event caused by another carries the cause's correlation id and has the
    cause's event id as causation id; a first cause correlates by its own event id. Raises
    AvroEncodeError when the payload does not fit its schema, LookupError for an unknown
    event type or version, ValueError for contradicting arguments.
    """
    catalog = catalog or default_catalog()
    known = event_of(payload)
    if known is not None and known != (event_type, version):
        raise ValueError(f"a {type(payload).__name__} is {known[0]} v{known[1]}, not {event_type} v{version}")
    if event_type == ENVELOPE:
        raise ValueError("an envelope wraps an event, not another envelope")
    writer = catalog.get(event_type, version)
    if caused_by is not None:
        if correlation_id is not None and correlation_id != caused_by.correlation_id:
            raise ValueError(
                f"correlation id {correlation_id!r} contradicts the cause's {caused_by.correlation_id!r}:"
                " an effect belongs to its cause's correlation"
            )
        correlation_id = caused_by.correlation_id
    event_id = event_id or uuid4()
    recorded_at = recorded_at or datetime.now(timezone.utc)
    return Envelope(
        event_id=event_id,
        event_type=event_type,
        event_version=version,
        occurred_at=occurred_at or recorded_at,
        recorded_at=recorded_at,
        source=source,
        correlation_id=correlation_id or str(event_id),
        causation_id=None if caused_by is None else caused_by.event_id,
        partition_key=partition_key,
        payload=encode_single_object(payload, writer),
    )


def encode_envelope(envelope: Envelope, *, catalog: Optional[SchemaCatalog] = None) -> bytes:
    """The envelope single-object encoded; raises AvroEncodeError, naming the field, if a value does not fit."""
    catalog = catalog or default_catalog()
    return encode_single_object(envelope, catalog.get(ENVELOPE, ENVELOPE_VERSION))


def decode_envelope(
    data: Any, reader_versions: Optional[Mapping[str, int]] = None, *, catalog: Optional[SchemaCatalog] = None
) -> DecodedEvent:
    """(envelope, payload) of encoded bytes, the payload read with this reader's version of its event type.

    `reader_versions` maps event types to the version this consumer reads (default: the newest
    in the catalog); a version the catalog lacks raises LookupError before the bytes are looked
    at, since that is a bug in the consumer, not in the record. Anything wrong with the bytes
    raises AvroDecodeError, with the reason, and nothing else.
    """
    catalog = catalog or default_catalog()
    readers = reader_schemas(catalog, reader_versions)
    _, fields = decode_single_object(data, catalog, reader=catalog.get(ENVELOPE, ENVELOPE_VERSION))
    envelope = Envelope(**fields)
    try:
        writer = read_writer(envelope.payload, catalog)
        if writer.subject == ENVELOPE or (writer.subject, writer.version) != (
            envelope.event_type,
            envelope.event_version,
        ):
            raise AvroDecodeError(
                f"the envelope says {envelope.event_type} v{envelope.event_version}"
                f" but its payload was written with {writer.label}"
            )
        reader = readers.get(writer.subject) or catalog.latest(writer.subject)
        _, payload = decode_single_object(envelope.payload, catalog, reader=reader)
    except AvroDecodeError as exc:
        raise AvroDecodeError(f"payload of event {envelope.event_id}: {exc}") from exc.__cause__
    record = record_class(reader.subject, reader.version)
    return DecodedEvent(envelope, payload if record is None else record(**payload))


def reader_schemas(catalog: SchemaCatalog, reader_versions: Optional[Mapping[str, int]]) -> Dict[str, SchemaVersion]:
    """The schema versions a consumer reads with, by event type; raises LookupError for one the catalog lacks."""
    return {event_type: catalog.get(event_type, version) for event_type, version in (reader_versions or {}).items()}
