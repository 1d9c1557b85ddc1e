"""Typed changes decoded from Debezium records: operation, table, key, row images, source position."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping, Optional

__all__ = ["Op", "SourcePosition", "Change", "Tombstone", "DecodeError"]


class Op(str, enum.Enum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # a row from a snapshot
    TRUNCATE = "t"
    MESSAGE = "m"  # a logical decoding message


@dataclass(frozen=True)
class SourcePosition:
    """Where in the database's history a change comes from."""

    lsn: Optional[int]
    tx_id: Optional[int]
    commit_ts_ms: Optional[int]
    snapshot: bool


@dataclass(frozen=True)
class Change:
    op: Op
    schema: Optional[str]
    table: Optional[str]
    key: Any
    before: Optional[Mapping[str, Any]]
    after: Optional[Mapping[str, Any]]
    source: SourcePosition


@dataclass(frozen=True)
class Tombstone:
    """A null value after a delete: tells log compaction to forget the key."""

    key: Any


class DecodeError(ValueError):
    """A record that cannot be decoded exactly; the reason says why. Callers dead-letter it."""
