"""A live feed of new alerts from every worker: one consumer of alerts.withdrawals, fanned out.

Every alert a listener gets carries the feed's position after it (views/feed_position.py). A
listener that comes back with the last position it saw first reads what it missed from the topic
itself (a short-lived consumer of its own), then joins the shared feed, skipping what it has: no
alert is lost or repeated across a reconnect. A listener too slow for the shared feed loses its
oldest queued alerts, and is told how many and since which position. At most `max_listeners` listen
at once. When the shared consumer fails (its task ends, or the broker stops answering), every
listener's stream ends, so clients reconnect and resume from their position; the failure is logged
and kept for /health and /status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Dict, List, Optional, Set, Tuple

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from schemas.codec.envelope import decode_envelope
from schemas.codec.errors import AvroDecodeError
from topics import WITHDRAWAL_ALERTS

from .feed_position import Position, format_position

__all__ = ["AlertFeed", "FeedUnavailable", "TooManyListeners", "Listener", "Item", "alert_json", "MAX_CATCH_UP"]

log = logging.getLogger(__name__)

#: The one event type of alerts.withdrawals (agents/publishing.py).
ALERT_EVENT_TYPE = "WithdrawalAlert"
#: The most records a returning listener reads back; further back than that it is told what it missed.
MAX_CATCH_UP = 2000
#: (partition, offset, alert id, alert JSON)
Item = Tuple[int, int, str, bytes]
#: Records fanned out between two turns of the streams (a fetched batch arrives without a pause).
YIELD_EVERY = 64
#: How often a running feed asks whether the broker still answers it.
BROKER_CHECK_SECONDS = 1.0


class FeedUnavailable(Exception):
    """The feed cannot start (broker unreachable, no alerts topic); the message says so."""


class TooManyListeners(Exception):
    """The feed has as many listeners as it takes; the message says so."""


class FeedFailed(Exception):
    """The shared consumer cannot go on (the broker stopped answering it)."""


def alert_json(payload) -> Dict:
    return {
        "alert_id": payload.alert_id, "rule": payload.rule, "account_id": payload.account_id,
        "trigger_txn_id": payload.trigger_txn_id, "count": payload.count, "total": payload.total,
        "window_start": payload.window_start.isoformat(), "window_end": payload.window_end.isoformat(),
        "txn_ids": list(payload.txn_ids), "detected_at": payload.detected_at.isoformat(),
        # Where each withdrawal behind the alert came from (WithdrawalAlert v2; none in v1).
        "sources": list(getattr(payload, "sources", ()) or ()),
        # The rule's severity and version in the catalogue (v3; empty and 0 in older events).
        "severity": getattr(payload, "severity", ""), "rule_version": getattr(payload, "rule_version", 0),
    }


def _alert_of(message) -> Optional[Tuple[str, bytes]]:
    """(alert id, JSON) of a record of the alerts topic; None (logged) for what is not an alert."""
    try:
        envelope, payload = decode_envelope(message.value)
    except AvroDecodeError as exc:
        log.warning("alert feed skips an undecodable alert at offset %s: %s", message.offset, exc)
        return None
    if envelope.event_type != ALERT_EVENT_TYPE:  # a valid event, but not an alert
        log.warning("alert feed skips a %s event at offset %s: not a %s", envelope.event_type,
                    message.offset, ALERT_EVENT_TYPE)
        return None
    return payload.alert_id, orjson.dumps(alert_json(payload))


@dataclass(eq=False)  # one per client, kept in a set by identity
class Listener:
    """One client of the feed: its queue of the shared feed's items, and where it is."""

    queue: asyncio.Queue
    #: The next offset per partition this listener has not had: what its ids say.
    position: Position = field(default_factory=dict)
    #: Alerts lost since it last read (a slow reader), told to it with the next read.
    dropped: int = 0
    #: What it missed while away, read back from the topic, delivered before the queue.
    backlog: List[Item] = field(default_factory=list)
    #: The shared feed's position when it joined: where the backlog ends and the queue takes over.
    joined_at: Position = field(default_factory=dict)
    #: Where the client stood when it began to lose alerts (told with the count); None while none are lost.
    lost_since: Optional[str] = None
    #: Why the stream must end (the feed failed, the worker stops); None while it goes on.
    ended: Optional[str] = None

    def take(self, item: Item) -> Optional[Tuple[str, bytes]]:
        """(id, data) of an item to send, None for one it had (read back and also queued)."""
        partition, offset, _, data = item
        if offset < self.position.get(partition, 0):
            return None
        self.position[partition] = offset + 1
        return format_position(self.position), data

    def backlog_sent(self) -> None:
        """The backlog is out: the listener stands where it joined the shared feed (or past it)."""
        self.backlog = []
        for partition, offset in self.joined_at.items():
            self.position[partition] = max(self.position.get(partition, 0), offset)

    def take_dropped(self) -> Tuple[int, Optional[str]]:
        """(alerts lost since last told, the position the loss began after); (0, None) when none were."""
        dropped, since = self.dropped, self.lost_since
        self.dropped, self.lost_since = 0, None
        return dropped, since

    def lose(self, count: int, since: Optional[Position] = None) -> None:
        """`count` alerts will not reach this listener: from `since` (default: where it stands) on."""
        if self.lost_since is None:
            self.lost_since = format_position(self.position if since is None else since)
        self.dropped += count

    def end(self, reason: str) -> None:
        """End the stream after what it is writing now; what is still queued it reads back on resuming."""
        if self.ended is None:
            self.ended = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class AlertFeed:
    """Reads alerts from the topic's end while anyone listens; each listener gets a bounded queue."""

    def __init__(self, bootstrap_servers: str, *, queue_size: int = 1000, max_listeners: int = 1000,
                 metrics=None, broker_down: Optional[Callable[[], Optional[str]]] = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.queue_size = queue_size
        self.max_listeners = max_listeners
        #: Listener count, dropped alerts and failures go here (engine/telemetry/metrics.py), when given.
        self.metrics = metrics
        #: Why the broker does not answer (the worker's broker probe), None while it does.
        self.broker_down = broker_down
        self._listeners: Set[Listener] = set()
        self._task: Optional[asyncio.Task] = None
        self._ready = asyncio.Event()
        #: The next offset per partition the shared consumer will fan out.
        self._fed: Position = {}
        #: Failures of the shared consumer so far, and the last one: {"reason", "at"} (epoch seconds).
        self.failures = 0
        self.last_failure: Optional[Dict[str, object]] = None
        #: Whether the last consumer failed (until the next one is positioned).
        self._failed = False

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def state(self) -> Dict[str, object]:
        """The feed for /health and /status: its consumer, listeners, their cap and its failures."""
        if self._task is not None and not self._task.done():
            consumer = "running" if self._ready.is_set() else "starting"
        else:  # no consumer: none needed (no listener), or the last one failed and none was needed since
            consumer = "failed" if self._failed else "idle"
        return {"consumer": consumer, "listeners": len(self._listeners), "max_listeners": self.max_listeners,
                "failures": self.failures, "last_failure": self.last_failure}

    @contextlib.asynccontextmanager
    async def listen(self, resume_from: Optional[Position] = None) -> AsyncIterator[Listener]:
        """A listener from now on, or from `resume_from` (a position this feed gave) on.

        TooManyListeners when `max_listeners` already listen (checked and added in one step)."""
        if len(self._listeners) >= self.max_listeners:
            raise TooManyListeners(f"the live feed has its most listeners ({self.max_listeners}, "
                                   "LIVE_FEED_MAX_LISTENERS); retry later")
        listener = Listener(asyncio.Queue(self.queue_size))
        self._listeners.add(listener)
        self._count_listeners()
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.ensure_future(self._run())
        try:
            await self._wait_ready(self._task)
            # Everything from here on reaches the queue: the listener stands at the shared feed's position.
            now = dict(self._fed)
            listener.position, listener.joined_at = dict(now), now
            if resume_from is not None:
                await self._read_back(listener, resume_from, now)
            yield listener
        finally:
            self._listeners.discard(listener)
            self._count_listeners()
            if not self._listeners and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _wait_ready(self, task: asyncio.Task, timeout: float = 30.0) -> None:
        """Until the feed is positioned; FeedUnavailable (before any byte of the stream) if it cannot be."""
        if self._ready.is_set():
            return
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ready, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._ready.is_set():
            return
        if task.done() and self.last_failure is not None:
            raise FeedUnavailable(f"the alert feed cannot read {WITHDRAWAL_ALERTS.name} "
                                  f"({self.last_failure['reason']}); retry shortly")
        raise FeedUnavailable(f"the alert feed could not reach the end of {WITHDRAWAL_ALERTS.name} "
                              f"within {timeout:.0f} s; retry shortly")

    async def _read_back(self, listener: Listener, since: Position, until: Position, timeout: float = 30.0) -> None:
        """Put the alerts between `since` and `until` (the shared feed's position) in the listener's backlog."""
        start = {}
        per_partition = MAX_CATCH_UP // max(1, len(until))
        for partition, end in until.items():
            # A position past the end is from another life of the topic: nothing to read back there.
            begin = min(since.get(partition, 0), end)
            if end - begin > per_partition:  # too far back: tell the listener instead of flooding it
                listener.lose(end - per_partition - begin, since)
                begin = end - per_partition
            if begin < end:
                start[partition] = listener.position[partition] = begin
        if not start:
            return
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100)
        await consumer.start()
        try:
            consumer.assign([TopicPartition(WITHDRAWAL_ALERTS.name, p) for p in start])
            for partition, offset in start.items():
                consumer.seek(TopicPartition(WITHDRAWAL_ALERTS.name, partition), offset)
            pending = set(start)
            deadline = time.monotonic() + timeout
            while pending:
                if time.monotonic() > deadline:
                    raise FeedUnavailable(
                        f"could not read back the missed alerts within {timeout:.0f} s; retry shortly")
                batches = await consumer.getmany(timeout_ms=200)
                for tp, messages in batches.items():
                    for message in messages:
                        if message.offset >= until[tp.partition]:
                            break
                        alert = _alert_of(message)
                        if alert is not None:
                            listener.backlog.append((tp.partition, message.offset, *alert))
                for partition in list(pending):
                    tp = TopicPartition(WITHDRAWAL_ALERTS.name, partition)
                    if await consumer.position(tp) >= until[partition]:
                        pending.discard(partition)
                        consumer.pause(tp)
        finally:
            await consumer.stop()
        listener.backlog.sort(key=lambda item: (item[1], item[0]))

    def _count_listeners(self) -> None:
        if self.metrics is not None:
            self.metrics.live_listeners(len(self._listeners))

    def close_all(self, reason: str = "the worker is shutting down") -> None:
        """End every listener's stream (each gets None)."""
        for listener in list(self._listeners):
            listener.end(reason)

    async def _run(self) -> None:
        """The shared consumer, watched: when it fails, every stream ends and the failure is kept."""
        consume = asyncio.ensure_future(self._consume())
        watch = asyncio.ensure_future(self._watch_broker())
        try:
            await asyncio.wait({consume, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # cancelled (no listener left) or one ended: the other goes too
            consume.cancel()
            watch.cancel()
        # Not ready from here on: a listener joining while this one winds down waits for it, then is told.
        self._ready.clear()
        failed = consume if consume.done() and not consume.cancelled() else watch
        error = failed.exception() if not failed.cancelled() else None
        reason = str(error) if isinstance(error, FeedFailed) else (
            f"the alert consumer failed ({type(error).__name__}: {error})" if error is not None
            else "the alert consumer stopped")
        self._fail(reason, error)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await consume  # its consumer stops in its finally

    async def _watch_broker(self) -> None:
        """FeedFailed once the broker stops answering: no alert can come, so listeners should not wait."""
        if self.broker_down is None:
            await asyncio.Event().wait()
            return
        while True:
            await asyncio.sleep(BROKER_CHECK_SECONDS)
            reason = self.broker_down()
            if reason is not None:
                raise FeedFailed(f"the broker stopped answering the alert feed ({reason})")

    def _fail(self, reason: str, error: Optional[BaseException]) -> None:
        self._failed = True
        self.failures += 1
        self.last_failure = {"reason": reason, "at": time.time()}
        ended = len(self._listeners)
        log.error("live alert feed failed: %s; ending %d listener stream(s), they resume from their position",
                  reason, ended, exc_info=error if error is not None and not isinstance(error, FeedFailed) else None)
        if self.metrics is not None:
            self.metrics.live_feed_failed()
        self.close_all(reason)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(WITHDRAWAL_ALERTS.name, bootstrap_servers=self.bootstrap_servers,
                                    group_id=None, auto_offset_reset="latest", enable_auto_commit=False,
                                    # A live feed: the local broker holds a fetch for its whole wait.
                                    fetch_max_wait_ms=100)
        await consumer.start()
        try:
            # Position at the end before telling listeners they are live, so nothing after is missed.
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            self._fed = {tp.partition: await consumer.position(tp) for tp in consumer.assignment()}
            self._ready.set()
            self._failed = False
            fanned = 0
            async for message in consumer:
                fanned += 1
                if fanned % YIELD_EVERY == 0:  # a fetched batch arrives without a pause: let the streams write
                    await asyncio.sleep(0)
                alert = _alert_of(message)
                # Fanned out and marked fed in one step: a listener joining now sees it in one or the other.
                self._fed[message.partition] = message.offset + 1
                if alert is None:
                    continue
                item = (message.partition, message.offset, *alert)
                for listener in list(self._listeners):
                    if listener.ended is not None:  # ending: it reads back what it misses on resuming
                        continue
                    if listener.queue.full():  # a slow listener loses its oldest alert, not everyone's feed
                        listener.queue.get_nowait()
                        listener.lose(1)
                        if self.metrics is not None:
                            self.metrics.live_alert_dropped()
                    listener.queue.put_nowait(item)
        finally:
            await consumer.stop()
