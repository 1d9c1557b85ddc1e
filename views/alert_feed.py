"""A live feed of new alerts from every worker: one consumer of alerts.withdrawals, fanned out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator, Dict, Optional, Set

import orjson
from aiokafka import AIOKafkaConsumer

from schemas.codec.envelope import decode_envelope
from schemas.codec.errors import AvroDecodeError
from topics import WITHDRAWAL_ALERTS

__all__ = ["AlertFeed", "FeedUnavailable", "alert_json"]

log = logging.getLogger(__name__)

#: The one event type of alerts.withdrawals (agents/publishing.py).
ALERT_EVENT_TYPE = "WithdrawalAlert"


class FeedUnavailable(Exception):
    """The feed cannot start (broker unreachable, no alerts topic); the message says so."""


def alert_json(payload) -> Dict:
    return {
        "alert_id": payload.alert_id, "rule": payload.rule, "account_id": payload.account_id,
        "trigger_txn_id": payload.trigger_txn_id, "count": payload.count, "total": payload.total,
        "window_start": payload.window_start.isoformat(), "window_end": payload.window_end.isoformat(),
        "txn_ids": list(payload.txn_ids), "detected_at": payload.detected_at.isoformat(),
        # Where each withdrawal behind the alert came from (WithdrawalAlert v2; none in v1).
        "sources": list(getattr(payload, "sources", ()) or ()),
    }


class AlertFeed:
    """Reads alerts from the topic's end while anyone listens; each listener gets a bounded queue
    of (alert_id, JSON bytes)."""

    def __init__(self, bootstrap_servers: str, *, queue_size: int = 1000, metrics=None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.queue_size = queue_size
        #: Listener count and dropped alerts go here (engine/telemetry/metrics.py), when given.
        self.metrics = metrics
        self._listeners: Set[asyncio.Queue] = set()
        self._task: Optional[asyncio.Task] = None
        self._ready = asyncio.Event()

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(self.queue_size)
        self._listeners.add(queue)
        self._count_listeners()
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.ensure_future(self._consume())
        try:
            await self._wait_ready(self._task)
            yield queue
        finally:
            self._listeners.discard(queue)
            self._count_listeners()
            if not self._listeners and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _wait_ready(self, task: asyncio.Task, timeout: float = 30.0) -> None:
        """Until the feed is positioned; FeedUnavailable (before any byte of the stream) if it cannot be."""
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ready, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._ready.is_set():
            return
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise FeedUnavailable(f"the alert feed cannot read {WITHDRAWAL_ALERTS.name} "
                                  f"({type(task.exception()).__name__}); retry shortly")
        raise FeedUnavailable(f"the alert feed could not reach the end of {WITHDRAWAL_ALERTS.name} "
                              f"within {timeout:.0f} s; retry shortly")

    def _count_listeners(self) -> None:
        if self.metrics is not None:
            self.metrics.live_listeners(len(self._listeners))

    def close_all(self) -> None:
        """End every listener's stream (each gets None): the worker is shutting down."""
        for queue in list(self._listeners):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

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
            for tp in consumer.assignment():
                await consumer.position(tp)
            self._ready.set()
            async for message in consumer:
                try:
                    envelope, payload = decode_envelope(message.value)
                except AvroDecodeError as exc:
                    log.warning("alert feed skips an undecodable alert at offset %s: %s", message.offset, exc)
                    continue
                if envelope.event_type != ALERT_EVENT_TYPE:  # a valid event, but not an alert
                    log.warning("alert feed skips a %s event at offset %s: not a %s", envelope.event_type,
                                message.offset, ALERT_EVENT_TYPE)
                    continue
                item = (payload.alert_id, orjson.dumps(alert_json(payload)))
                for queue in list(self._listeners):
                    if queue.full():  # a slow listener loses its oldest alert, not everyone's feed
                        queue.get_nowait()
                        if self.metrics is not None:
                            self.metrics.live_alert_dropped()
                    queue.put_nowait(item)
        finally:
            await consumer.stop()
