"""Where a change comes from: an envelope's `source` block, or a flattened record's metadata, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .changes import DecodeError, SourcePosition

__all__ = ["envelope_position", "int_or_none", "is_snapshot", "text_or_none"]

#: What Debezium's `snapshot` (source field, or the transform's `__snapshot`) says for streamed changes.
_SNAPSHOT_FALSE = {None, False, "false"}


def envelope_position(source: Mapping[str, Any]) -> SourcePosition:
    """The position an envelope's `source` block gives (PostgreSQL connector fields)."""
    return SourcePosition(
        lsn=int_or_none(source.get("lsn"), "source.lsn"),
        tx_id=int_or_none(source.get("txId"), "source.txId"),
        commit_ts_ms=int_or_none(source.get("ts_ms"), "source.ts_ms"),
        snapshot=source.get("snapshot") not in _SNAPSHOT_FALSE,  # is_snapshot, inlined: every record passes here
        commit_lsn=_commit_lsn(source.get("sequence")),
        commit_ts_us=int_or_none(source.get("ts_us"), "source.ts_us"),
    )


def is_snapshot(value: Any) -> bool:
    """`true`, `last`, `first`, `incremental`...: a snapshot read; null, false or "false": streamed."""
    return value not in _SNAPSHOT_FALSE


def int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"`{name}` is {value!r}, not an integer")
    return value


def text_or_none(value: Any, name: str) -> str | None:
    """Text, or None for null and empty text; anything else is an error."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DecodeError(f"`{name}` is {value!r}, not text")
    return value


def _commit_lsn(sequence: Any) -> int | None:
    """The first half of Postgres' `source.sequence`, '["<last commit lsn>","<lsn>"]', or None."""
    if sequence is None:
        return None
    try:
        parts = orjson.loads(sequence) if isinstance(sequence, str) else sequence
        return int(parts[0]) if parts and parts[0] is not None else None
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, KeyError):
        raise DecodeError(f"`source.sequence` is {sequence!r}, not [commit LSN, LSN]") from None
