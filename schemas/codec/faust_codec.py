"""The envelope as a Faust codec: topics name it like any serializer once register_codecs() has run."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

from faust.serializers import codecs

from schemas.catalog import default_catalog
from schemas.records import Envelope

from .envelope import DecodedEvent, decode_envelope, encode_envelope, reader_schemas

__all__ = ["CODEC_NAME", "EnvelopeCodec", "register_codecs"]

#: The serializer name topics use, e.g. app.topic(..., value_serializer=CODEC_NAME).
CODEC_NAME = "avro-envelope"


class EnvelopeCodec(codecs.Codec):
    """Encodes an Envelope (see eventcodec.envelope.wrap); decodes to a DecodedEvent(envelope, payload).

    Payloads are read with `reader_versions` (event type -> version; default the newest). A
    record that cannot be decoded raises AvroDecodeError, which Faust wraps in its
    ValueDecodeError; agents that dead-letter read "raw" and call decode_envelope themselves.
    """

    def __init__(self, children: Optional[Tuple[codecs.CodecT, ...]] = None, *,
                 reader_versions: Optional[Mapping[str, int]] = None, **kwargs: Any) -> None:
        if reader_versions:
            kwargs["reader_versions"] = dict(reader_versions)
        super().__init__(children, **kwargs)

    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, DecodedEvent):
            obj = obj.envelope
        if not isinstance(obj, Envelope):
            raise TypeError(f"the {CODEC_NAME} codec encodes an Envelope (see wrap()), not a {type(obj).__name__}")
        return encode_envelope(obj)

    def _loads(self, s: bytes) -> DecodedEvent:
        return decode_envelope(s, self.kwargs.get("reader_versions"))


def register_codecs(reader_versions: Optional[Mapping[str, int]] = None) -> None:
    """Register the envelope codec as CODEC_NAME in Faust's codec registry (again replaces it).

    Call it once when a worker starts, before any record is sent or received; it reads the
    schema files, so a reader version that does not exist fails here, not on the first record.
    """
    reader_schemas(default_catalog(), reader_versions)
    codecs.register(CODEC_NAME, EnvelopeCodec(reader_versions=reader_versions))
