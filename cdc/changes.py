"""Typed changes decoded from Debezium records: operation, table, key, row images, source position."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping, Optional

__all__ = ["Op", "Typing", "SourcePosition", "Change", "Tombstone", "DecodeError"]


class Op(str, enum.Enum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # a row from a snapshot
    TRUNCATE = "t"
    MESSAGE = "m"  # a logical decoding message (pg_logical_emit_message)
    #: A flattened record (ExtractNewRecordState) that does not say which operation made it:
    #: no `__op` field or header. `after` is the row as it now is; it was created, updated or
    #: read by a snapshot, and the record cannot tell which. Not a Debezium code.
    UPSERT = "upsert"


class Typing(str, enum.Enum):
    """Where a change's row values got their Python types from."""

    #: No schema to read: values are the JSON the connector wrote (a precise decimal is base64
    #: text, a date a day count). Only code that knows the connector's settings may read them.
    WIRE = "wire"
    #: The record's own Kafka Connect schema (schemas.enable=true): each value is the Python value
    #: of its Debezium logical type (Decimal, date, datetime, UUID, bytes...); a plain Connect
    #: `string` stays text, so decimal.handling.mode=string gives decimal text.
    CONNECT = "connect"
    #: Declared column types (cdc.columns.ColumnTypes) and the connector's modes: each value is
    #: the Python value of its PostgreSQL type (numeric is always a Decimal, bytea always bytes).
    SQL = "sql"


@dataclass(frozen=True)
class SourcePosition:
    """Where in the database's history a change comes from; None where the record does not say."""

    lsn: Optional[int]
    tx_id: Optional[int]
    commit_ts_ms: Optional[int]
    #: True for snapshot reads; None when the record does not say (a flattened record without
    #: `__snapshot`).
    snapshot: Optional[bool]
    #: The LSN of the last transaction committed before this change (the first half of Debezium's
    #: `source.sequence`); None for snapshot reads and where the record does not say.
    commit_lsn: Optional[int] = None
    #: The commit time in microseconds (Debezium's `source.ts_us`), None where the record does not say.
    commit_ts_us: Optional[int] = None

    def order(self) -> Optional[tuple[int, int]]:
        """(commit LSN, LSN): increasing in the order Debezium emits streamed changes; None when unknown."""
        if self.commit_lsn is None or self.lsn is None:
            return None
        return (self.commit_lsn, self.lsn)


@dataclass(frozen=True)
class Change:
    """One change of one row (or a truncate, or a logical decoding message).

    `before`/`after` are the row images: `after` for c, r, u and UPSERT, `before` for d (None only
    for a delete that ExtractNewRecordState reduced to a tombstone with headers); a message's
    `after` is {"prefix", "content"}. A flattened record never has a `before` for updates.
    """

    op: Op
    schema: Optional[str]
    table: Optional[str]
    key: Any
    before: Optional[Mapping[str, Any]]
    after: Optional[Mapping[str, Any]]
    source: SourcePosition
    typing: Typing = Typing.WIRE


@dataclass(frozen=True)
class Tombstone:
    """A null value after a delete: tells log compaction to forget the key.

    Also what a value of JSON `null` decodes to (Kafka Connect reads it as a null value too):
    ExtractNewRecordState with delete.tombstone.handling.mode=tombstone and schemas disabled
    writes a delete as the four bytes `null`, which is then the only trace of the delete.
    """

    key: Any


class DecodeError(ValueError):
    """A record that cannot be decoded exactly; the reason says why. Callers dead-letter it."""
