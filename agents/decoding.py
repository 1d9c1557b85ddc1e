"""The head every CDC batch agent shares: decode each record, or dead-letter it and go on."""

from __future__ import annotations

from typing import AsyncIterator, Callable, Tuple, TypeVar

from engine.batching import PartitionBatch
from cdc.changes import Change, DecodeError, Tombstone
from cdc.decode import decode_change

from .dead_letters import dead_letter_message

__all__ = ["decoded_changes"]

T = TypeVar("T")


async def decoded_changes(batch: PartitionBatch, project: Callable[[Change], T], *,
                          agent: str) -> AsyncIterator[Tuple[Change, T]]:
    """Each record's Debezium change and what `project` makes of it, in offset order.

    Tombstones (the null record after a delete) are skipped. A record that does not decode, or
    that `project` rejects with a DecodeError, goes to the topic's dead-letter topic with the reason.
    """
    for record in batch.records:
        try:
            change = decode_change(record.key, record.value)
            if isinstance(change, Tombstone):
                continue
            projected = project(change)
        except DecodeError as exc:
            await dead_letter_message(batch.message(record), exc, agent=agent)
            continue
        yield change, projected
