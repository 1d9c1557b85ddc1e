"""Reading a topic from its start to where it ended when the reading began: no consumer group, nothing
committed, so a command that reads (a backtest, a shadow report) never moves a worker's offsets or partitions."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Dict, List

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from engine.transport.end_offsets import EndOffsetsUnknown, true_end_offsets
from ops.broker_calls import BrokerError, guarded

__all__ = ["BrokerError", "TopicReader"]


class TopicReader:
    """One topic read once, batch by batch; `total` and `done` say how far (records, by offsets).

    A topic the broker does not have is an error, or, with `missing_ok`, a topic with nothing in it.
    """

    def __init__(self, bootstrap: str, topic: str, *, timeout: float = 30.0, missing_ok: bool = False) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout = timeout
        self.missing_ok = missing_ok
        self.total = 0
        self.done = 0

    async def batches(self) -> AsyncIterator[List[ConsumerRecord]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", client_id="ledgerstream-backtest",
                                    request_timeout_ms=int(self.timeout * 1000))
        try:
            await self._guarded(consumer.start())
            tps = await self._partitions(consumer)
            if not tps:
                return
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            starts = await self._guarded(consumer.beginning_offsets(tps))
            try:
                # The broker's listed ends may undercount (the local broker); a fetch's high watermark does not.
                ends = await true_end_offsets(self.bootstrap, await self._guarded(consumer.end_offsets(tps)),
                                              timeout=self.timeout)
            except EndOffsetsUnknown:
                raise BrokerError(f"The broker at {self.bootstrap} did not say where {self.topic} ends; check "
                                  "that it runs and is not overloaded, and try again.") from None
            remaining: Dict[TopicPartition, int] = {tp: ends[tp] or 0 for tp in tps if (ends[tp] or 0) > starts[tp]}
            self.total = sum(end - starts[tp] for tp, end in remaining.items())
            consumer.pause(*[tp for tp in tps if tp not in remaining])
            quiet_since = time.monotonic()
            while remaining:
                fetched = await consumer.getmany(*remaining, timeout_ms=500)
                batch: List[ConsumerRecord] = []
                for tp, records in fetched.items():
                    end = remaining.get(tp)
                    if end is None:
                        continue
                    batch.extend(r for r in records if r.offset < end)
                    if records and records[-1].offset + 1 >= end:
                        del remaining[tp]
                        consumer.pause(tp)
                left = 0
                for tp, end in list(remaining.items()):
                    position = await consumer.position(tp)
                    if position >= end:  # past the end without a record at end - 1 (a gap, a marker)
                        del remaining[tp]
                        consumer.pause(tp)
                    else:
                        left += end - position
                self.done = self.total - left
                if batch:
                    quiet_since = time.monotonic()
                    yield batch
                elif time.monotonic() - quiet_since > self.timeout:
                    raise BrokerError(f"The broker at {self.bootstrap} sent nothing of {self.topic} for "
                                      f"{self.timeout:.0f} s before its end; check that it runs and try again.")
            self.done = self.total
        finally:
            await asyncio.shield(consumer.stop())

    async def _partitions(self, consumer: AIOKafkaConsumer) -> List[TopicPartition]:
        topics = await self._guarded(consumer.topics())
        if self.topic not in topics:
            if self.missing_ok:
                return []
            raise BrokerError(f"The broker at {self.bootstrap} has no topic {self.topic}; check the name, or start "
                              "the pipeline that writes it first.")
        return [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]

    async def _guarded(self, awaitable):
        return await guarded(awaitable, self.bootstrap, self.timeout)
