"""Turn the connector's heartbeats into source positions: read them, then capture the end offsets after them."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Collection, Optional, Set

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from faust.types import TP

from engine import faust_internals as internals
from engine.positions import Position, SourcePositions
from engine.transport.end_offsets import EndOffsetsUnknown, true_end_offsets

__all__ = ["HeartbeatWatch"]

log = logging.getLogger(__name__)


class HeartbeatWatch:
    """One consumer of the heartbeat topic (every partition, from its end, no group) per worker.

    For each newer heartbeat it reads (every one while a request waits for a position, else at most
    every `idle_interval_s`), it captures the end offsets of the source partitions this worker's
    batch agents read, and hands both to `positions` as a checkpoint.
    """

    def __init__(self, app, *, topic: str, source_topics: Collection[str],
                 heartbeat_of: Callable[[Optional[bytes]], Optional[object]], idle_interval_s: float) -> None:
        self.app = app
        self.topic = topic
        self.source_topics = set(source_topics)
        self.heartbeat_of = heartbeat_of
        self.idle_interval_s = idle_interval_s
        self.positions: SourcePositions = app.source_positions
        self._last_lsn = -1
        self._last_at = 0.0

    async def run(self, bootstrap_servers: str, *, probe_end_offsets: bool) -> None:
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None,
                                        enable_auto_commit=False, fetch_max_wait_ms=100)
            try:
                await consumer.start()
                await self._follow(consumer, bootstrap_servers, probe_end_offsets)
            except KafkaError as exc:  # the broker went away: start over, the positions wait meanwhile
                log.warning("Heartbeat watch: %r; reconnecting", exc)
                await asyncio.sleep(1.0)
            finally:
                await asyncio.shield(consumer.stop())

    async def _follow(self, consumer: AIOKafkaConsumer, bootstrap_servers: str, probe: bool) -> None:
        partitions = None
        while not partitions:  # Connect creates the topic at the first heartbeat
            await consumer.topics()  # fresh metadata
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                await asyncio.sleep(0.5)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        while True:
            fetched = await consumer.getmany(timeout_ms=1000)
            newest = None
            for records in fetched.values():
                for record in records:
                    beat = self.heartbeat_of(record.value)
                    if beat is not None and (newest is None or beat.lsn > newest.lsn):  # type: ignore[attr-defined]
                        newest = beat
            if newest is None or newest.lsn <= self._last_lsn:  # type: ignore[attr-defined]
                continue
            if not self.positions.waiting and time.monotonic() - self._last_at < self.idle_interval_s:
                continue
            await self._checkpoint(consumer, bootstrap_servers, probe,
                                   Position(newest.lsn, newest.ts_ms))  # type: ignore[attr-defined]

    async def _checkpoint(self, consumer: AIOKafkaConsumer, bootstrap_servers: str, probe: bool,
                          position: Position) -> None:
        owned = self._owned()
        if owned:
            listed = await consumer.end_offsets([TopicPartition(tp.topic, tp.partition) for tp in owned])
            try:
                ends = await true_end_offsets(bootstrap_servers, listed) if probe else listed
            except EndOffsetsUnknown as exc:
                # No checkpoint rather than one that asks for less than was written: waiting readers
                # wait for the next heartbeat.
                log.warning("Heartbeat watch: no checkpoint at %s: %s", position, exc)
                return
            # The offsets of every record written before the heartbeat was read, or more: a checkpoint
            # may ask for more than it needs, never less.
            self.positions.checkpoint(position, {TP(tp.topic, tp.partition): end or 0 for tp, end in ends.items()},
                                      self._consumed)
        self._last_lsn, self._last_at = position.lsn, time.monotonic()

    def _owned(self) -> Set[TP]:
        consumer = getattr(self.app, "consumer", None)
        if consumer is None:
            return set()
        try:
            return {tp for tp in internals.active_partitions(consumer) if tp.topic in self.source_topics}
        except Exception:  # not started yet
            return set()

    def _consumed(self, tp: TP) -> Optional[int]:
        consumer = self.app.consumer
        if tp not in internals.active_partitions(consumer):
            return None
        # None: nothing committed nor read yet, the partition is read from its start.
        offset = internals.read_offset(consumer, tp)
        return offset if offset is not None else 0
