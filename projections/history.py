"""A bounded per-key history of a read model's row: the row after each change, by commit time and LSN, for as-of reads.

A history row is {"entries": [[commit µs, LSN, row or None], ...], "born": bool}, oldest first; an
entry's row is None when the key was deleted. Entries follow in the order Debezium emits an account's
changes: PostgreSQL makes a row's writers wait for each other's commit (the row lock), so for one
account both the commit time and the change's own LSN increase from entry to entry. `born` is True
while the first entry is the row's insert and nothing was pruned before it: then a time before it
is a time the row did not exist (404), otherwise one the history does not reach (410).
Pure functions; tables/history.py holds the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from cdc.changes import Change, Op

__all__ = ["History", "record_change", "entry_time_us", "state_at", "AsOf"]

History = Dict[str, Any]


def entry_time_us(change: Change) -> Optional[int]:
    """A change's commit time in microseconds (ts_us, else ts_ms), None when the record does not say."""
    source = change.source
    if source.commit_ts_us is not None:
        return source.commit_ts_us
    return None if source.commit_ts_ms is None else source.commit_ts_ms * 1000


def record_change(history: Optional[Mapping[str, Any]], change: Change, row: Optional[Mapping[str, Any]], *,
                  now_us: int, retention_us: int, max_entries: int) -> Optional[History]:
    """The history after `change` left the key at `row` (None: deleted); None when the change says no time.

    Pruned at each write: entries older than `retention_us` before `now_us` go, except the newest of them
    (it is the state at the cut), and at most `max_entries` are kept (a row stays far under the row limit).
    """
    at = entry_time_us(change)
    if at is None:
        return dict(history) if history is not None else None
    entries: List[List[Any]] = [list(e) for e in (history or {}).get("entries", [])]
    born = bool((history or {}).get("born")) if entries else change.op is Op.CREATE
    if entries and (at, change.source.lsn or 0) <= (entries[-1][0], entries[-1][1] or 0):
        return dict(history or {})  # a redelivery of a change already recorded
    entries.append([at, change.source.lsn, dict(row) if row is not None else None])
    cut = now_us - retention_us
    first = 0
    while first + 1 < len(entries) and entries[first + 1][0] <= cut:
        first += 1
    first = max(first, len(entries) - max_entries)
    if first:
        entries, born = entries[first:], False
    return {"entries": entries, "born": born}


@dataclass(frozen=True)
class AsOf:
    """The row at the asked position; `row` None when it did not exist then (or was deleted). `too_old`
    when the history does not reach back that far: `history_from` is the oldest entry then."""

    row: Optional[Dict[str, Any]] = None
    commit_us: Optional[int] = None
    lsn: Optional[int] = None
    too_old: bool = False
    history_from: Optional[List[Any]] = None


def state_at(history: Optional[Mapping[str, Any]], *, at_us: Optional[int] = None,
             at_lsn: Optional[int] = None) -> AsOf:
    """The row as of commit time `at_us` (every change committed at or before it) or as of WAL position
    `at_lsn` (every change whose own LSN is at or before it); give exactly one."""
    if (at_us is None) == (at_lsn is None):
        raise ValueError("give at_us or at_lsn")
    entries = (history or {}).get("entries") or []
    found = None
    for entry in entries:
        position = entry[0] if at_us is not None else entry[1]
        if position is None or position > (at_us if at_us is not None else at_lsn):
            break
        found = entry
    if found is None:
        if entries and not (history or {}).get("born"):
            return AsOf(too_old=True, history_from=entries[0])
        return AsOf()
    return AsOf(row=found[2], commit_us=found[0], lsn=found[1])
