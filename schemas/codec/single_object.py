"""Avro single-object encoding: marker C3 01, the writer schema's 8-byte fingerprint, then the Avro body."""

from __future__ import annotations

import dataclasses
import io
import weakref
from collections.abc import Mapping
from typing import Any, Dict, Optional, Tuple

import fastavro
from fastavro.read import SchemaResolutionError

from schemas.catalog import SchemaCatalog
from schemas.files import SchemaVersion

from .errors import AvroDecodeError, AvroEncodeError
from .values import Check, compile_check

__all__ = ["MARKER", "HEADER_SIZE", "as_avro_record", "encode_single_object", "read_writer", "decode_single_object"]

MARKER = b"\xc3\x01"
#: Marker and fingerprint: the bytes before the Avro body.
HEADER_SIZE = len(MARKER) + 8

_FIELD_NAMES: Dict[type, Tuple[str, ...]] = {}
_CHECKS: "weakref.WeakKeyDictionary[SchemaVersion, Check]" = weakref.WeakKeyDictionary()


def as_avro_record(record: Any) -> Mapping[str, Any]:
    """A record class instance (any dataclass) or a mapping, as the mapping fastavro writes."""
    if isinstance(record, (dict, Mapping)):  # dict first: the ABC check is slow
        return record
    kind = type(record)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(kind):
            raise AvroEncodeError(f"cannot encode a {kind.__name__}: give a record class instance or a mapping")
        names = _FIELD_NAMES[kind] = tuple(field.name for field in dataclasses.fields(kind))
    # Shallow on purpose: dataclasses.asdict would deep-copy every list of every record.
    return {name: getattr(record, name) for name in names}


def encode_single_object(record: Any, writer: SchemaVersion) -> bytes:
    """`record` single-object encoded with `writer`; raises AvroEncodeError, naming the field, if it does not fit."""
    value = as_avro_record(record)
    problem = _check(writer)(value, "")
    if problem:
        raise AvroEncodeError(f"{writer.label}: {problem}")
    out = io.BytesIO()
    out.write(MARKER)
    out.write(writer.fingerprint)
    try:
        # The check above already refuses unknown fields; strict_allow_default keeps the writer
        # from ever dropping one silently, and fills a missing field from its default.
        fastavro.schemaless_writer(out, writer.parsed, value, strict_allow_default=True)
    except Exception as exc:  # fastavro's writer raises ValueError, TypeError, OverflowError, UnicodeError...
        raise AvroEncodeError(f"{writer.label}: {type(exc).__name__}: {exc}") from exc
    return out.getvalue()


def _check(writer: SchemaVersion) -> Check:
    check = _CHECKS.get(writer)
    if check is None:
        check = _CHECKS[writer] = compile_check(writer.schema)
    return check


def read_writer(data: Any, catalog: SchemaCatalog) -> SchemaVersion:
    """The writer schema named by the header of `data`; raises AvroDecodeError when there is none."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise AvroDecodeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:2] != MARKER[: len(data[:2])] or not data:
        raise AvroDecodeError(
            f"not Avro single-object encoded: it starts with {data[:2].hex(' ') or 'nothing'}, not the marker c3 01"
        )
    if len(data) < HEADER_SIZE:
        raise AvroDecodeError(f"truncated: {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    fingerprint = data[2:HEADER_SIZE]
    writer = catalog.by_fingerprint(fingerprint)
    if writer is None:
        raise AvroDecodeError(
            f"unknown writer schema fingerprint {fingerprint.hex()}: no schema file of this reader has it"
            " (a producer on a newer schema, or not an event of this pipeline)"
        )
    return writer


def decode_single_object(
    data: Any, catalog: SchemaCatalog, reader: Optional[SchemaVersion] = None
) -> Tuple[SchemaVersion, Dict[str, Any]]:
    """(writer schema, value) of single-object encoded `data`, read with `reader` (default: the writer).

    Avro schema resolution turns the writer's data into the reader's shape: fields the reader
    added take their defaults, fields it dropped are skipped. Anything wrong with the bytes, or
    a writer the reader cannot read, raises AvroDecodeError and nothing else.
    """
    writer = read_writer(data, catalog)
    if reader is not None and reader.subject != writer.subject:
        raise AvroDecodeError(f"written as {writer.label}, but {reader.subject} was expected")
    body = io.BytesIO(bytes(data))
    body.seek(HEADER_SIZE)
    resolve_with = None if reader is None or reader is writer else reader.parsed
    try:
        value = fastavro.schemaless_reader(body, writer.parsed, resolve_with)
    except SchemaResolutionError as exc:
        # Only a reader schema (resolve_with) makes fastavro resolve, so a reader is known here.
        raise AvroDecodeError(
            f"{(reader or writer).label} cannot read data written with {writer.label}: {exc}") from exc
    except Exception as exc:
        # Corrupt bytes surface from fastavro as EOFError, ValueError, IndexError, OverflowError,
        # UnicodeDecodeError and more; the contract is one error type the caller can dead-letter on.
        raise AvroDecodeError(
            f"{writer.label} body is corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(value, dict):  # schemas/files.py admits record schemas only
        raise AvroDecodeError(f"{writer.label} body is not a record")
    left = len(data) - body.tell()
    if left:
        raise AvroDecodeError(f"{left} bytes left over after the {writer.label} body: corrupt, or more than one record")
    return writer, value
