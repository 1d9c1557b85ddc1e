"""The two ways encoding fails: bytes that are not a readable event, and values that do not fit a schema."""

from __future__ import annotations

__all__ = ["AvroDecodeError", "AvroEncodeError"]


class AvroDecodeError(ValueError):
    """Bytes that cannot be read as an event; the message says why. Dead-letter the record and go on."""


class AvroEncodeError(ValueError):
    """A value that does not fit its writer schema: a bug in the producer, never sent."""
