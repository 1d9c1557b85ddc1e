"""A partition's table rows between two flushes: read once from the table, written back once."""

from __future__ import annotations

import time
import weakref
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Set

from faust.events import Event
from faust.streams import _current_event
from faust.types import TP, TableT

__all__ = ["PartitionState", "CachedRows"]

_MISSING = object()


class CachedRows:
    """One table's rows of one partition, as a batch agent sees them.

    `get` reads the table once per key and then serves the cached value; `rows[key] = value`
    changes only the cache and marks the key dirty. Values are held as the table would return
    them (the same JSON-shaped objects), so code reads the same whether a row is cached or not.
    """

    __slots__ = ("table", "_values", "_dirty")

    def __init__(self, table: TableT) -> None:
        self.table = table
        self._values: Dict[Any, Any] = {}
        self._dirty: Set[Any] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            # Read under the partition's current event (PartitionState.current): Faust's RocksDB
            # store picks the partition's database from it.
            value = self._values[key] = self.table.get(key)
        return default if value is None else value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._values[key] = value
        self._dirty.add(key)

    @property
    def dirty(self) -> int:
        return len(self._dirty)

    def write_back(self) -> int:
        """Write each changed row to the table once (a RocksDB put and a changelog record)."""
        table, values = self.table, self._values
        for key in self._dirty:
            table[key] = values[key]
        written = len(self._dirty)
        # Rows read but not changed stay valid (this worker is the partition's only writer), yet
        # are dropped too: the cache holds one flush interval's working set, not the table.
        self._values.clear()
        self._dirty.clear()
        return written


class PartitionState:
    """What a batch agent has done on one partition since the last flush.

    Holds the cached rows of each table the agent touched and the offsets it has processed whose
    effects are not yet in the tables (acknowledged to the consumer at the flush, not before).
    """

    def __init__(self, tp: TP, event: Event) -> None:
        self.tp = tp
        #: A real event of this partition, made the current event around table access: Faust's
        #: stores and changelogs take the partition from it.
        self._event = event
        self._rows: Dict[str, CachedRows] = {}
        self.pending_from: Optional[int] = None  # first offset processed since the last flush
        self.pending_to: Optional[int] = None    # last offset processed since the last flush
        self.pending_records = 0
        self.pending_since = 0.0                 # monotonic time of the first pending record

    def rows(self, table: TableT) -> CachedRows:
        rows = self._rows.get(table.name)
        if rows is None:
            rows = self._rows[table.name] = CachedRows(table)
        return rows

    @contextmanager
    def current(self) -> Iterator[None]:
        token = _current_event.set(weakref.ref(self._event))
        try:
            yield
        finally:
            _current_event.reset(token)

    def processed(self, first_offset: int, last_offset: int, records: int) -> None:
        if self.pending_from is None:
            self.pending_from = first_offset
            self.pending_since = time.monotonic()
        self.pending_to = last_offset
        self.pending_records += records

    def due(self, interval_s: float, max_records: int, now: float) -> bool:
        return self.pending_from is not None and (
            self.pending_records >= max_records or now - self.pending_since >= interval_s)

    def write_back(self) -> Optional[range]:
        """Flush the cached rows into the tables; returns the offsets whose effects are now there."""
        with self.current():
            for rows in self._rows.values():
                rows.write_back()
        if self.pending_from is None:
            return None
        done = range(self.pending_from, self.pending_to + 1)
        self.pending_from = self.pending_to = None
        self.pending_records = 0
        return done
