"""Provenance of derived events: the source position of each change behind one, and its trace context."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from cdc.changes import Change
from engine.telemetry.trace import TRACEPARENT, header_value, traceparent
from schemas.records import SourcePosition

__all__ = ["source_of", "as_source_position", "trace_headers"]


def source_of(record: Any, topic: str, change: Change, txn_id: Optional[int] = None) -> list:
    """A change's position, compact as stored in the rule history: [topic, partition, offset, lsn, tx_id, txn_id]."""
    return [topic, record.partition, record.offset, change.source.lsn, change.source.tx_id, txn_id]


def as_source_position(source: Sequence) -> SourcePosition:
    topic, partition, offset, lsn, tx_id, txn_id = source
    return SourcePosition(topic=topic, partition=partition, offset=offset, lsn=lsn, tx_id=tx_id, txn_id=txn_id)


def trace_headers(*, event_id: str, cause: Change, cause_record: Any = None) -> List[tuple]:
    """The `traceparent` header of an event caused by `cause` (the trace of its record, or of its SQL commit)."""
    incoming = header_value(getattr(cause_record, "headers", None), TRACEPARENT)
    seed = f"ledger-tx-{cause.source.tx_id}" if cause.source.tx_id is not None else f"ledger-lsn-{cause.source.lsn}"
    return [(TRACEPARENT, traceparent(event_id=event_id, trace_seed=seed, incoming=incoming).encode())]
