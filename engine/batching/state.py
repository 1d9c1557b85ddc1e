"""A partition's table rows between two flushes: read once from the table, written back once."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from faust.events import Event
from faust.types import TP, TableT

from engine.faust_internals import current_event_of
from engine.limits import Refusal

__all__ = ["PartitionState", "CachedRows"]

_MISSING = object()
_DELETED = object()


class CachedRows:
    """One table's rows of one partition, as batch agents see them.

    `get` reads the table once per key and then serves the cached value; `rows[key] = value` and
    `del rows[key]` change only the cache and mark the key dirty. Values are held as the table
    would return them (the same JSON-shaped objects), so code reads the same whether a row is
    cached or not.
    """

    __slots__ = ("table", "_values", "_dirty", "changelog_records")

    def __init__(self, table: TableT) -> None:
        self.table = table
        self._values: Dict[Any, Any] = {}
        self._dirty: Set[Any] = set()
        #: Changelog records the last write_back produced (a delete of a row never stored makes none).
        self.changelog_records = 0

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            # Read under the partition's current event (PartitionState.current): Faust's RocksDB
            # store picks the partition's database from it.
            value = self._values[key] = self.table.get(key)
        return default if value is None or value is _DELETED else value

    def cached(self, key: Any, default: Any = None) -> Any:
        """The cached row of `key` (None when deleted or absent), or `default` if the cache has not seen it."""
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            return default
        return None if value is _DELETED else value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._values[key] = value
        self._dirty.add(key)

    def __delitem__(self, key: Any) -> None:
        self._values[key] = _DELETED
        self._dirty.add(key)

    def write_back(self, *, row_limit: Optional[int] = None, partition: Optional[int] = None,
                   refuse: Optional[Callable[[Refusal], None]] = None) -> int:
        """Write each changed row to the table once (a RocksDB put or delete and a changelog record).

        A row whose changelog record (serialized key and value) is over `row_limit` bytes is not
        written: the table keeps the key's previous row and `refuse` is told (log, count, dead
        letter), so one oversized key never stops the producer, and with it every other key.
        """
        table, values = self.table, self._values
        topic = table.changelog_topic if row_limit is not None else None
        unstored = 0
        for key in self._dirty:
            value = values[key]
            if value is _DELETED:
                try:
                    del table[key]
                except KeyError:  # never stored: nothing to delete
                    unstored += 1
                continue
            if topic is not None:
                key_bytes = topic.prepare_key(key, None)[0] or b""
                size = len(key_bytes) + len(topic.prepare_value(value, None)[0] or b"")
                if size > row_limit:
                    if refuse is not None:
                        refuse(Refusal(topic.get_topic_name(), partition, key_bytes, size,
                                       f"row of {size} bytes is over the row limit of {row_limit} bytes; not "
                                       f"written, the table keeps the key's previous row"))
                    unstored += 1
                    continue
            table[key] = value
        written = len(self._dirty)
        self.changelog_records = written - unstored
        # Rows read but not changed stay valid (batch agents are the partition's only writers of
        # these tables), yet are dropped too: the cache holds one interval's working set, not the table.
        self._values.clear()
        self._dirty.clear()
        return written


class PartitionState:
    """What batch agents have done in one partition number since the last flush.

    Every topic and table here has the same partitions, and a key's partition is the same in all
    of them, so the rows of partition 2 of a table are shared by the batch agents of partition 2
    of every topic: one cache per partition and table, whichever agent touches it. Also holds, per
    topic partition, the offsets processed whose effects are not yet in the tables (acknowledged
    to the consumer at the flush, not before).
    """

    def __init__(self, partition: int, event: Event) -> None:
        self.partition = partition
        #: A real event of this partition, made the current event around table access: Faust's
        #: stores and changelogs take the partition from it.
        self._event = event
        self._rows: Dict[str, CachedRows] = {}
        self._pending: Dict[TP, List[int]] = {}  # tp -> [first, last] offset processed since the last flush
        self.pending_records = 0
        self.pending_since = 0.0                 # monotonic time of the first pending record
        self.written: Dict[str, Tuple[int, int]] = {}  # the last flush's (rows, changelog records) per table

    def cache_sizes(self) -> Tuple[Dict[str, int], Dict[str, int]]:
        """Rows cached and rows changed since the last flush, per table name."""
        return ({name: len(rows._values) for name, rows in self._rows.items()},
                {name: len(rows._dirty) for name, rows in self._rows.items()})

    def has_changes(self) -> bool:
        """Whether a write-back would write anything (a row changed since the last flush)."""
        return any(rows._dirty for rows in self._rows.values())

    def rows(self, table: TableT) -> CachedRows:
        rows = self._rows.get(table.name)
        if rows is None:
            rows = self._rows[table.name] = CachedRows(table)
        return rows

    def cached_rows(self, table: TableT):
        """The table's cached rows here, or None when no batch agent touched the table since the last flush."""
        return self._rows.get(table.name)

    @contextmanager
    def current(self) -> Iterator[None]:
        with current_event_of(self._event):
            yield

    def processed(self, tp: TP, first_offset: int, last_offset: int, records: int) -> None:
        span = self._pending.get(tp)
        if span is None:
            self._pending[tp] = [first_offset, last_offset]
        else:
            span[1] = last_offset
        if not self.pending_records:
            self.pending_since = time.monotonic()
        self.pending_records += records

    def due(self, interval_s: float, max_records: int, now: float) -> bool:
        return bool(self._pending) and (self.pending_records >= max_records
                                        or now - self.pending_since >= interval_s)

    def write_back(self, *, row_limit: Optional[int] = None,
                   refuse: Optional[Callable[[Refusal], None]] = None) -> Dict[TP, range]:
        """Flush the cached rows into the tables; returns, per topic partition, the offsets now done.

        `written` then holds, per table name, (rows written, changelog records) of this flush.
        """
        written = self.written = {}
        with self.current():
            for name, rows in self._rows.items():
                written[name] = (rows.write_back(row_limit=row_limit, partition=self.partition, refuse=refuse),
                                 rows.changelog_records)
        done = {tp: range(first, last + 1) for tp, (first, last) in self._pending.items()}
        self._pending.clear()
        self.pending_records = 0
        return done
