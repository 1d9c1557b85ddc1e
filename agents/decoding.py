"""The head every CDC batch agent shares: decode each record, or dead-letter it and go on."""

from __future__ import annotations

from typing import AsyncIterator, Callable, Tuple, TypeVar

from app import app
from cdc.changes import Change, DecodeError, Tombstone
from cdc.decode import decode_change
from engine.batching import PartitionBatch

from .dead_letters import dead_letter_message

__all__ = ["decoded_changes"]

T = TypeVar("T")


async def decoded_changes(batch: PartitionBatch, project: Callable[[Change], T], *,
                          agent: str) -> AsyncIterator[Tuple[Change, T]]:
    """Each record's Debezium change and what `project` makes of it, in offset order.

    Tombstones (the null record after a delete) are skipped. A record that does not decode, or
    that `project` rejects with a DecodeError, goes to the topic's dead-letter topic with the reason.
    While the caller works on a change, `batch.current_record` is its record (its source position).
    Once the batch is done its changes are visible to the views: their freshness (from the source
    commit) is observed then, per batch, with the partition's last commit time and LSN.
    """
    metrics = app.metrics
    measure = metrics.enabled  # off: not even the commit times are collected
    commit_times = []
    last = None
    for record in batch.records:
        try:
            change = decode_change(record.key, record.value)
            if isinstance(change, Tombstone):
                continue
            projected = project(change)
        except DecodeError as exc:
            await dead_letter_message(batch.message(record), exc, agent=agent)
            continue
        batch.current_record, last = record, change
        if measure and change.source.commit_ts_ms is not None:
            commit_times.append(change.source.commit_ts_ms)
        yield change, projected
    batch.current_record = None
    if commit_times:
        table = f"{last.schema}.{last.table}" if last.schema else str(last.table)
        metrics.changes_applied(table, batch.tp.topic, batch.tp.partition, commit_times, last.source.lsn)
