"""The batch agents of an app: which topics they take, delivering batches, flushing, revoking.

Guarantees (at least once, as Faust's agents):
- Records of a partition reach its agent in offset order, one batch per fetch.
- A batch's table writes go to the cache of its partition number (state.py; shared by the batch
  agents of every topic, since keys and partitions agree across topics) and reach the tables at the
  next flush: when the oldest unflushed record is `flush_interval_s` old, when `flush_records`
  records are waiting, or when the worker stops. Only then are the offsets acknowledged, so a
  commit (which first flushes the producer: changelogs and sent events) covers nothing whose
  effects are not in the tables and their changelogs.
- On revocation the partition's cache is flushed first, while its tables are still this worker's.
  Its offsets may still be uncommitted (Faust forgets acknowledgements of revoked partitions), so
  the next owner can replay records whose effects are already in the tables: effects must be
  idempotent (as they must for Faust's agents after a crash), and events may be sent again.
- A table written by a batch agent must be written only by batch agents: a direct write would be
  overwritten by the cache at the next flush. Others read it through `latest` (the cache first).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

from faust.events import Event
from faust.types import TP, TableT, TopicT

from engine import faust_internals as internals
from engine.faust_internals import BatchConsumer
from engine.limits import ROW_LIMIT_BYTES, RefusedRecords
from engine.telemetry.logs import record_context
from engine.telemetry.metrics import NullMetrics

from .state import CachedRows, PartitionState

__all__ = ["BatchAgents", "PartitionBatch", "BatchHandler"]


@dataclass
class PartitionBatch:
    """What a batch agent gets: the records of one partition from one fetch, in offset order.

    `records` are the client's records (`key`, `value`, `offset`, `timestamp`, `headers`, ...).
    """

    tp: TP
    records: Sequence[Any]
    _state: PartitionState
    _to_message: Callable[[TP, Any], Any]
    #: The record the agent is working on, where it says so (agents/decoding.py): derived events
    #: name it as their source position.
    current_record: Any = None

    def rows(self, table: TableT) -> CachedRows:
        """The table's rows as this agent sees them (cached; written back at the next flush)."""
        return self._state.rows(table)

    def message(self, record: Any):
        """The Faust message for a record (for dead letters, which keep its topic, partition, offset)."""
        return self._to_message(self.tp, record)


_NOT_CACHED = object()
_NO_METRICS = NullMetrics()

BatchHandler = Callable[[PartitionBatch], Awaitable[None]]


class _Progress:
    """Records handled by an agent and when the first and last were: served on /health."""

    __slots__ = ("records", "first_at", "last_at")

    def __init__(self) -> None:
        self.records = 0
        self.first_at: Optional[float] = None
        self.last_at: Optional[float] = None

    def as_dict(self) -> Dict[str, Any]:
        return {"records": self.records, "first_at": self.first_at, "last_at": self.last_at}


class BatchAgents:
    def __init__(self, app, *, flush_interval_s: float, flush_records: int,
                 refused: Optional[RefusedRecords] = None, row_limit: int = ROW_LIMIT_BYTES) -> None:
        self.app = app
        self.flush_interval_s = flush_interval_s
        self.flush_records = flush_records
        #: Rows over `row_limit` are refused at the flush (state.CachedRows.write_back) and reported here.
        self.refused = refused if refused is not None else RefusedRecords()
        self.row_limit = row_limit
        self.topics: Dict[str, TopicT] = {}
        self._handlers: Dict[str, BatchHandler] = {}
        self._names: Dict[str, str] = {}
        self._states: Dict[int, PartitionState] = {}  # by partition number
        self._progress: Dict[str, _Progress] = {}
        self._agents: Dict[str, str] = {}  # topic -> the agent's short name (a metrics and log label)
        # Held while a batch is handled or flushed; revocation waits for it, so a partition's
        # cache is never dropped (or its tables closed) under a running batch.
        self.lock = asyncio.Lock()

    # ------------------------------------------------------------------ registration

    def register(self, topic: TopicT, handler: BatchHandler) -> None:
        for name in topic.topics:
            if name in self._handlers:
                raise ValueError(f"topic {name!r} already has a batch agent ({self._names[name]})")
            self.topics[name] = topic
            self._handlers[name] = handler
            self._names[name] = f"{handler.__module__}.{handler.__qualname__}"
            self._agents[name] = handler.__name__
            self._progress[name] = _Progress()

    def subscribe(self) -> None:
        """Add the topics to the app's conductor, so the consumer subscribes to them."""
        for topic in set(self.topics.values()):
            self.app.topics.add(topic)

    def latest(self, table: TableT, key: Any) -> Any:
        """`table`'s row for `key` as the batch agents see it: from their cache, else from the table.

        What the web views read, so that they are as fresh as the agents, not a flush behind (as
        Kafka Streams' interactive queries read through its record cache).
        """
        for state in self._states.values():
            rows = state.cached_rows(table)
            if rows is not None:
                value = rows.cached(key, _NOT_CACHED)
                if value is not _NOT_CACHED:
                    return value
        return table.get(key)

    def discard_caches(self) -> None:
        """Forget every partition's cached rows and pending offsets, unflushed: the next batch starts cold.

        For benchmarks that hand the same batch over again (dev/bench/metrics_cost.py); the worker
        never calls it: a partition it gives up is flushed first (on_revoked).
        """
        self._states.clear()

    def cache_sizes(self):
        """(partition, rows cached per table, rows changed per table) of every partition held."""
        return [(p, *state.cache_sizes()) for p, state in sorted(self._states.items())]

    @property
    def metrics(self):
        return getattr(self.app, "metrics", None) or _NO_METRICS

    def progress(self) -> Dict[str, Dict[str, Any]]:
        return {self._names[name]: {"topic": name, **p.as_dict()} for name, p in self._progress.items()}

    # ------------------------------------------------------------------ called by the consumer

    async def deliver(self, consumer: BatchConsumer, batches: Mapping[TP, List[Any]], generation_id: int) -> None:
        """Hand each partition's records to its agent (the consumer's fetch loop awaits this)."""
        async with self.lock:
            for tp, records in batches.items():
                if consumer.app.consumer_generation_id != generation_id or not consumer.flow_active:
                    # A rebalance began: the new assignment seeks to the committed offsets, so
                    # what was fetched before it is fetched again.
                    return
                if tp not in internals.active_partitions(consumer):
                    continue
                await self._deliver(consumer, tp, records)

    async def _deliver(self, consumer: BatchConsumer, tp: TP, records: List[Any]) -> None:
        # The next offset to read: set here after each batch, and by Faust when it seeks.
        read_offset = internals.read_offset(consumer, tp)
        if read_offset is not None and records[0].offset < read_offset:
            # An offset before the read position was delivered already.
            records = [r for r in records if r.offset >= read_offset]
            if not records:
                return
        state = self._states.get(tp.partition)
        if state is None:
            message = internals.to_message(consumer, tp, records[0])
            state = self._states[tp.partition] = PartitionState(
                tp.partition, Event(self.app, message.key, message.value, message.headers, message))
        # Offsets skipped between two batches (compacted away, transaction markers) are done too.
        first = records[0].offset if read_offset is None else min(read_offset, records[0].offset)
        started = time.time()
        metrics = self.metrics
        dead_before = metrics.dead_letters_of(tp.topic, tp.partition)
        began = time.perf_counter()
        with state.current(), record_context(self._agents[tp.topic], tp.topic, tp.partition, records[0].offset):
            await self._handlers[tp.topic](PartitionBatch(tp, records, state, partial(internals.to_message, consumer)))
        metrics.batch_done(self._agents[tp.topic], tp.topic, tp.partition, len(records),
                           len(records) - (metrics.dead_letters_of(tp.topic, tp.partition) - dead_before),
                           time.perf_counter() - began)
        last = records[-1].offset
        internals.set_read_offset(consumer, tp, last + 1)
        positions = getattr(self.app, "source_positions", None)
        if positions is not None:  # the batch's rows are visible now (views read through the cache)
            positions.consumed(tp, last + 1)
        state.processed(tp, first, last, len(records))
        # Faust's livelock check (verify_event_path) reports a partition whose stream takes nothing.
        internals.mark_stream_inbound(consumer.app, tp, time.monotonic())
        progress = self._progress[tp.topic]
        if progress.first_at is None:
            progress.first_at = started
        progress.last_at = time.time()
        progress.records += len(records)

    async def flush_due(self, consumer: BatchConsumer, *, force: bool = False) -> int:
        """Flush the partitions whose cache is due (all with `force`); returns records acknowledged."""
        now = time.monotonic()
        acked = 0
        async with self.lock:
            due = [s for s in self._states.values()
                   if force or s.due(self.flush_interval_s, self.flush_records, now)]
            began = time.perf_counter()
            if due:
                await self._events_delivered()
            for state in due:
                # The first flush's time includes waiting for the events sent before it.
                acked += self._flush(consumer, state, began=began)
                began = None
            if due:
                # The rows' changelog records delivered now, not at the next commit: until then a kill
                # leaves local rows the changelogs lack, which the next start discards (engine/state_guard.py).
                await self.app.producer.flush()
        if acked:
            await internals.commit_if_due(consumer)
        return acked

    def _flush(self, consumer: BatchConsumer, state: PartitionState, *, began: Optional[float] = None) -> int:
        acked = 0
        began = time.perf_counter() if began is None else began
        guard = getattr(self.app, "state_guard", None)
        if guard is not None and state.has_changes():
            guard.before_write()
        offsets = state.write_back(row_limit=self.row_limit, refuse=self.refused.refuse)
        self.metrics.flushed(state.partition, time.perf_counter() - began, state.written)
        for tp, done in offsets.items():
            committed = internals.committed_offset(consumer, tp)
            if committed is not None and done.start < committed:
                done = range(committed, done.stop)
            # Acknowledged in bulk, as consumer.ack() would one message at a time: the commit
            # takes the first unbroken run of acknowledged offsets.
            acked += internals.acknowledge(consumer, tp, done)
        return acked

    async def _events_delivered(self) -> None:
        """Wait until every record sent so far (the agents' derived events) is on the broker.

        Called before rows reach the tables: once a row says a change was applied, a replay skips
        that change, so what the change was to send must already be sent. Otherwise a crash between
        the table write and the send would lose the event (a BalanceLow, an alert).
        """
        await self.app.producer.flush()

    async def on_revoked(self, consumer: BatchConsumer, revoked: Iterable[TP]) -> None:
        """Flush, then forget, the partitions revoked (call with the lock held, before Faust's revocation)."""
        states = [self._states.pop(p) for p in {tp.partition for tp in revoked if tp.topic in self.topics}
                  if p in self._states]
        positions = getattr(self.app, "source_positions", None)
        if positions is not None:
            positions.forget(revoked)
        if states:
            await self._events_delivered()
        for state in states:
            self._flush(consumer, state)
        if states:
            # The rows' changelog records on the broker before the partition is handed over: its next
            # owner recovers from the changelog, and should find them there.
            await self.app.producer.flush()
