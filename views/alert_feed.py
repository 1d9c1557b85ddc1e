"""A live feed of new alerts from every worker: one consumer of alerts.withdrawals, fanned out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator, Dict, Optional, Set

import orjson
from aiokafka import AIOKafkaConsumer

from eventcodec.envelope import decode_envelope
from eventcodec.errors import AvroDecodeError
from topics import WITHDRAWAL_ALERTS

__all__ = ["AlertFeed", "alert_json"]

log = logging.getLogger(__name__)


def alert_json(payload) -> Dict:
    return {
        "alert_id": payload.alert_id, "rule": payload.rule, "account_id": payload.account_id,
        "trigger_txn_id": payload.trigger_txn_id, "count": payload.count, "total": payload.total,
        "window_start": payload.window_start.isoformat(), "window_end": payload.window_end.isoformat(),
        "txn_ids": list(payload.txn_ids), "detected_at": payload.detected_at.isoformat(),
    }


class AlertFeed:
    """Reads alerts from the topic's end while anyone listens; each listener gets a bounded queue
    of (alert_id, JSON bytes)."""

    def __init__(self, bootstrap_servers: str, *, queue_size: int = 1000) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.queue_size = queue_size
        self._listeners: Set[asyncio.Queue] = set()
        self._task: Optional[asyncio.Task] = None
        self._ready = asyncio.Event()

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(self.queue_size)
        self._listeners.add(queue)
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.ensure_future(self._consume())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=30)
            yield queue
        finally:
            self._listeners.discard(queue)
            if not self._listeners and self._task is not None:
                self._task.cancel()
                self._task = None

    def close_all(self) -> None:
        """End every listener's stream (each gets None): the worker is shutting down."""
        for queue in list(self._listeners):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(WITHDRAWAL_ALERTS.name, bootstrap_servers=self.bootstrap_servers,
                                    group_id=None, auto_offset_reset="latest", enable_auto_commit=False)
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
                    payload = decode_envelope(message.value).payload
                except AvroDecodeError as exc:
                    log.warning("alert feed skips an undecodable alert at offset %s: %s", message.offset, exc)
                    continue
                item = (payload.alert_id, orjson.dumps(alert_json(payload)))
                for queue in list(self._listeners):
                    if queue.full():  # a slow listener loses its oldest alert, not everyone's feed
                        queue.get_nowait()
                    queue.put_nowait(item)
        finally:
            await consumer.stop()
