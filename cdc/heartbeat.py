"""The connector's heartbeats: logical decoding messages that say how far in the WAL it has read.

The ledger connector runs `heartbeat.action.query` (ops/connectors/ledger-postgres.yaml) every
`heartbeat.interval.ms`: a non-transactional `pg_logical_emit_message` with prefix HEARTBEAT_PREFIX.
Debezium emits it, at its own WAL position, onto `<topic.prefix>.message` (topics.HEARTBEATS) after
every transaction whose commit record comes before it in the WAL (logical decoding outputs a
transaction when it reads its commit record, and a non-transactional message when it reads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import orjson

__all__ = ["HEARTBEAT_PREFIX", "Heartbeat", "heartbeat_of"]

#: The prefix of the heartbeat message (the connector file's action query names the same).
HEARTBEAT_PREFIX = "ledgerstream.heartbeat"


@dataclass(frozen=True)
class Heartbeat:
    #: The message's own WAL position: every transaction committed before it was emitted before it.
    lsn: int
    #: The database's time at that position (Debezium's source.ts_ms), epoch milliseconds.
    ts_ms: Optional[int]


def heartbeat_of(value: Optional[bytes]) -> Optional[Heartbeat]:
    """The heartbeat a `<prefix>.message` record carries, or None for any other record (another
    prefix, something that does not decode): never an error, the topic is
    read only for heartbeats."""
    if not value:
        return None
    try:
        envelope: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(envelope, dict) or envelope.get("op") != "m":
        return None
    message, source = envelope.get("message"), envelope.get("source")
    if not isinstance(message, dict) or message.get("prefix") != HEARTBEAT_PREFIX or not isinstance(source, dict):
        return None
    lsn, ts_ms = source.get("lsn"), source.get("ts_ms")
    if isinstance(lsn, bool) or not isinstance(lsn, int) or lsn < 0:
        return None
    return Heartbeat(lsn, ts_ms if isinstance(ts_ms, int) and not isinstance(ts_ms, bool) else None)
