"""The worker's Prometheus metrics: one registry per app, fed per batch (not per record) by the engine.

Names follow Prometheus' conventions: `ledgerstream_` prefix, base units (seconds, records),
`_total` for counters. docs/metrics.md describes every family. `NullMetrics` has the same hooks
and does nothing: METRICS_ENABLED=false (and the cost benchmark) use it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .histogram import FastHistogram

__all__ = ["Metrics", "NullMetrics", "FRESHNESS_BUCKETS", "PREFIX"]

PREFIX = "ledgerstream"
#: Seconds from a source commit to the change being visible: milliseconds when flowing, minutes behind a backlog.
FRESHNESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
HANDLER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
FLUSH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: Dead letters kept per topic with their reasons, for the console.
LATEST_DEAD_LETTERS = 5
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class NullMetrics:
    """The hooks, doing nothing (metrics off)."""

    enabled = False

    def batch_done(self, agent: str, topic: str, partition: int, size: int, handled: int, seconds: float) -> None: ...
    def dead_lettered(self, agent: str, topic: str, partition: int, offset: Optional[int] = None,
                      reason: str = "") -> None: ...
    def dead_letters_of(self, topic: str, partition: int) -> int: return 0
    def latest_dead_letters(self) -> Dict[str, List[Dict[str, Any]]]: return {}
    def flushed(self, partition: int, seconds: float, rows: Mapping[str, Tuple[int, int]]) -> None: ...
    def changes_applied(self, source_table: str, topic: str, partition: int, commit_ts_ms: Sequence[int],
                        last_lsn: Optional[int]) -> None: ...
    def event_sent(self, topic: str, event_type: str, delivery: Any) -> None: ...
    def event_send_failed(self, topic: str, event_type: str) -> None: ...
    def http_request(self, view: str, method: str, status: int, seconds: float) -> None: ...
    def forwarded(self, view: str, failed: bool) -> None: ...
    def live_listeners(self, count: int) -> None: ...
    def live_alert_dropped(self) -> None: ...
    def live_listener_refused(self) -> None: ...
    def live_listener_cut(self) -> None: ...
    def live_feed_failed(self) -> None: ...
    def domain_event(self, event_type: str, version: int, handled: bool) -> None: ...
    def watch(self, app: Any) -> None: ...


class Metrics(NullMetrics):
    """Every metric family of a worker, in its own registry (so two apps in one process never mix)."""

    enabled = True

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        p = PREFIX
        atp = ("agent", "topic", "partition")
        self.records = Counter(f"{p}_agent_records", "Records an agent handled (dead letters not included).",
                               atp, registry=registry)
        self.dead_letters = Counter(f"{p}_agent_dead_letters", "Records an agent sent to a dead-letter topic.",
                                    atp, registry=registry)
        self.batch_size = Histogram(f"{p}_agent_batch_size_records", "Records per batch handed to a batch agent.",
                                    atp, buckets=BATCH_SIZE_BUCKETS, registry=registry)
        self.batch_seconds = Histogram(f"{p}_agent_batch_duration_seconds", "Time a batch agent took for one batch.",
                                       atp, buckets=HANDLER_BUCKETS, registry=registry)
        self.flushes = Counter(f"{p}_flushes", "Flushes of a partition's cached rows into its tables.",
                               ("partition",), registry=registry)
        self.flush_seconds = Histogram(f"{p}_flush_duration_seconds",
                                       "Time of one flush: waiting for sent events, then writing the rows.",
                                       ("partition",), buckets=FLUSH_BUCKETS, registry=registry)
        self.flush_rows = Counter(f"{p}_flush_rows", "Cached rows written into a table by flushes.",
                                  ("table", "partition"), registry=registry)
        self.flush_changelog = Counter(f"{p}_flush_changelog_records",
                                       "Changelog records flushes wrote (a put or a delete of a stored row).",
                                       ("table", "partition"), registry=registry)
        self.events_sent = Counter(f"{p}_events_sent", "Derived events sent.", ("topic", "event_type"),
                                   registry=registry)
        self.send_failures = Counter(f"{p}_event_send_failures", "Derived events the producer failed to send.",
                                     ("topic", "event_type"), registry=registry)
        self.freshness = FastHistogram(
            f"{p}_freshness_seconds",
            "Seconds from a change's commit in the source database (Debezium source.ts_ms) "
            "to it being visible to the views.",
            ("source_table",), FRESHNESS_BUCKETS)
        self.last_commit = Gauge(f"{p}_last_applied_commit_timestamp_seconds",
                                 "Source commit time (Unix seconds) of the last change applied.",
                                 ("topic", "partition"), registry=registry)
        self.last_lsn = Gauge(f"{p}_last_applied_lsn",
                              "Source LSN of the last change applied (PostgreSQL WAL position).",
                              ("topic", "partition"), registry=registry)
        self.http_requests = Counter(f"{p}_http_requests", "Web requests answered.", ("view", "method", "status"),
                                     registry=registry)
        self.http_seconds = Histogram(f"{p}_http_request_duration_seconds", "Time to answer a web request.",
                                      ("view",), buckets=HTTP_BUCKETS, registry=registry)
        self.forwards = Counter(f"{p}_http_forwards", "Requests forwarded to the worker owning the key.",
                                ("view",), registry=registry)
        self.forward_failures = Counter(f"{p}_http_forward_failures",
                                        "Forwarded requests that got no answer from the owner.", ("view",),
                                        registry=registry)
        self.listeners = Gauge(f"{p}_live_listeners", "Clients listening to /live/alerts.", registry=registry)
        self.dropped = Counter(f"{p}_live_alerts_dropped", "Alerts a slow /live/alerts listener lost.",
                               registry=registry)
        self.live_refused = Counter(f"{p}_live_listeners_refused",
                                    "/live/alerts clients turned away (503): as many listened as allowed.",
                                    registry=registry)
        self.live_cut = Counter(f"{p}_live_listeners_cut",
                                "/live/alerts clients disconnected because they took no write within the timeout.",
                                registry=registry)
        self.live_failures = Counter(f"{p}_live_feed_failures",
                                     "Failures of the live feed's consumer (every stream ended; clients resume).",
                                     registry=registry)
        self.domain_events = Counter(f"{p}_domain_events", "Domain events by type, version and outcome.",
                                     ("event_type", "version", "outcome"), registry=registry)
        registry.register(_Callback([self.freshness.collect]))
        self._batch_children: Dict[Tuple[str, str, int], Tuple[Any, Any, Any]] = {}
        self._dead_by_tp: Dict[Tuple[str, int], int] = {}
        self._latest_dead: Dict[str, Deque[Dict[str, Any]]] = {}

    # ------------------------------------------------------------------ hooks (per batch, per flush)

    def batch_done(self, agent: str, topic: str, partition: int, size: int, handled: int, seconds: float) -> None:
        """A batch of `size` records took `seconds`; `handled` of them were not dead-lettered."""
        key = (agent, topic, partition)
        children = self._batch_children.get(key)
        if children is None:
            labels = (agent, topic, str(partition))
            children = self._batch_children[key] = (self.records.labels(*labels), self.batch_size.labels(*labels),
                                                    self.batch_seconds.labels(*labels))
        records, sizes, duration = children
        if handled:
            records.inc(handled)
        sizes.observe(size)
        duration.observe(seconds)

    def dead_lettered(self, agent: str, topic: str, partition: int, offset: Optional[int] = None,
                      reason: str = "") -> None:
        self.dead_letters.labels(agent, topic, str(partition)).inc()
        key = (topic, partition)
        self._dead_by_tp[key] = self._dead_by_tp.get(key, 0) + 1
        # The newest few reasons per topic, for the console (GET /status); the topic holds them all.
        latest = self._latest_dead.setdefault(topic, deque(maxlen=LATEST_DEAD_LETTERS))
        latest.appendleft({"agent": agent, "partition": partition, "offset": offset, "reason": reason[:300],
                           "at": time.time()})

    def latest_dead_letters(self) -> Dict[str, List[Dict[str, Any]]]:
        """Per source topic, the newest dead letters this worker sent (newest first)."""
        return {topic: list(letters) for topic, letters in self._latest_dead.items()}

    def dead_letters_of(self, topic: str, partition: int) -> int:
        """Dead letters of a topic partition so far (the engine subtracts a batch's from its records)."""
        return self._dead_by_tp.get((topic, partition), 0)

    def flushed(self, partition: int, seconds: float, rows: Mapping[str, Tuple[int, int]]) -> None:
        label = str(partition)
        self.flushes.labels(label).inc()
        self.flush_seconds.labels(label).observe(seconds)
        for table, (written, changelog) in rows.items():
            if written:
                self.flush_rows.labels(table, label).inc(written)
            if changelog:
                self.flush_changelog.labels(table, label).inc(changelog)

    def changes_applied(self, source_table: str, topic: str, partition: int, commit_ts_ms: Sequence[int],
                        last_lsn: Optional[int]) -> None:
        """A batch's changes are visible: their freshness, and the partition's last commit time and LSN."""
        if not commit_ts_ms:
            return
        # A clock of the database ahead of the worker's shows as ages below zero (the first bucket).
        self.freshness.observe_ages((source_table,), time.time() * 1000.0, commit_ts_ms, scale=1000.0)
        self.last_commit.labels(topic, str(partition)).set(commit_ts_ms[-1] / 1000.0)
        if last_lsn is not None:
            self.last_lsn.labels(topic, str(partition)).set(last_lsn)

    def event_sent(self, topic: str, event_type: str, delivery: Any) -> None:
        """Count a send; a delivery future that fails later counts as a failure."""
        self.events_sent.labels(topic, event_type).inc()
        add_done_callback = getattr(delivery, "add_done_callback", None)
        if add_done_callback is not None:
            def delivered(future) -> None:
                if future.cancelled() or future.exception() is not None:
                    self.event_send_failed(topic, event_type)
            add_done_callback(delivered)

    def event_send_failed(self, topic: str, event_type: str) -> None:
        self.send_failures.labels(topic, event_type).inc()

    def http_request(self, view: str, method: str, status: int, seconds: float) -> None:
        self.http_requests.labels(view, method, str(status)).inc()
        self.http_seconds.labels(view).observe(seconds)

    def forwarded(self, view: str, failed: bool) -> None:
        self.forwards.labels(view).inc()
        if failed:
            self.forward_failures.labels(view).inc()

    def live_listeners(self, count: int) -> None:
        self.listeners.set(count)

    def live_alert_dropped(self) -> None:
        self.dropped.inc()

    def live_listener_refused(self) -> None:
        self.live_refused.inc()

    def live_listener_cut(self) -> None:
        self.live_cut.inc()

    def live_feed_failed(self) -> None:
        self.live_failures.inc()

    def domain_event(self, event_type: str, version: int, handled: bool) -> None:
        self.domain_events.labels(event_type, str(version), "handled" if handled else "unhandled").inc()

    # ------------------------------------------------------------------ read at scrape time

    def watch(self, app: Any) -> None:
        """Collect the app's consumer positions, cache sizes and readiness at each scrape."""
        self.registry.register(_Callback([lambda: _consumer_families(app), lambda: _cache_families(app),
                                          lambda: _readiness_families(app)]))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Callback(Collector):
    def __init__(self, sources: List[Callable[[], Iterable]]) -> None:
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source()


def _consumer_families(app) -> Iterable[GaugeMetricFamily]:
    """Lag, position, end and committed offset of every input partition this worker holds."""
    from .readiness import assigned_partitions

    labels = ("topic", "partition")
    lag = GaugeMetricFamily(f"{PREFIX}_consumer_lag_records",
                            "Records behind the end of the partition (end offset minus the next offset to handle).",
                            labels=labels)
    position = GaugeMetricFamily(f"{PREFIX}_consumer_position_offset", "The next offset the worker handles.",
                                 labels=labels)
    end = GaugeMetricFamily(f"{PREFIX}_consumer_end_offset",
                            "The partition's end offset (high watermark) as last fetched.", labels=labels)
    committed = GaugeMetricFamily(f"{PREFIX}_consumer_committed_offset", "The consumer group's committed offset.",
                                  labels=labels)
    if app.broker_probe.answered:
        consumer = app.consumer
        changelogs = set(app.tables.changelog_topics)
        batch_topics = app.batch_agents.topics
        for tp in sorted(assigned_partitions(app)):
            if tp.topic in changelogs:  # read by table recovery, not by agents
                continue
            values = [tp.topic, str(tp.partition)]
            done = consumer._committed_offset.get(tp)
            read = consumer._read_offset.get(tp)
            # Batch agents keep the next offset to read; Faust's own loop keeps the last one read.
            following = read if tp.topic in batch_topics else (None if read is None else read + 1)
            if following is None:  # nothing handled yet: where the client will start reading
                following = _client_position(consumer, tp)
            try:
                highwater = consumer.highwater(tp)
            except Exception:
                highwater = None
            if done is not None:
                committed.add_metric(values, done)
            if following is not None:
                position.add_metric(values, following)
            if highwater is not None:
                end.add_metric(values, highwater)
                if following is not None:
                    lag.add_metric(values, max(0, highwater - following))
    yield from (lag, position, end, committed)


def _client_position(consumer, tp) -> Optional[int]:
    """The Kafka client's own next offset for `tp`, None when it has none yet (read without a round trip)."""
    try:
        client = consumer._thread._ensure_consumer()
        state = client._subscription.subscription.assignment.state_value(tp)
        return state.position if state is not None and state.has_valid_position else None
    except Exception:
        return None


def _cache_families(app) -> Iterable[GaugeMetricFamily]:
    rows = GaugeMetricFamily(f"{PREFIX}_cache_rows", "Table rows the batch agents hold in their cache (flushed next).",
                             labels=("table", "partition"))
    dirty = GaugeMetricFamily(f"{PREFIX}_cache_dirty_rows", "Cached rows changed since the last flush.",
                              labels=("table", "partition"))
    for partition, held, changed in app.batch_agents.cache_sizes():
        for table in held:
            rows.add_metric([table, str(partition)], held[table])
            dirty.add_metric([table, str(partition)], changed[table])
    yield from (rows, dirty)


def _readiness_families(app) -> Iterable[GaugeMetricFamily]:
    from .readiness import not_ready_reasons

    ready = GaugeMetricFamily(f"{PREFIX}_ready", "1 when the worker is ready (what /readyz says), else 0.")
    ready.add_metric([], 0 if not_ready_reasons(app) else 1)
    yield ready
