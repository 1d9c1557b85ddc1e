"""Reading dead-letter topics to their end, and sending letters back to their source topics."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from ops.broker_calls import BrokerError, guarded

from .letters import DLQ_SUFFIX, DeadLetter, replay_headers

__all__ = ["BrokerError", "Broker", "Sent"]


@dataclass(frozen=True)
class Sent:
    letter: DeadLetter
    topic: str
    partition: int
    offset: int


class Broker:
    """The broker as the command needs it: a consumer to read, a producer (when replaying) to send."""

    def __init__(self, bootstrap: str, *, timeout: float = 30.0) -> None:
        self.bootstrap = bootstrap
        self.timeout = timeout
        self._consumer: Optional[AIOKafkaConsumer] = None
        self._producer: Optional[AIOKafkaProducer] = None
        #: Each topic's partitions, as the broker listed them at the start.
        self._topics: Dict[str, Set[int]] = {}

    async def __aenter__(self) -> "Broker":
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                          auto_offset_reset="earliest", request_timeout_ms=int(self.timeout * 1000),
                                          client_id="ledgerstream-deadletters")
        try:
            await self._guarded(self._consumer.start())
            names = await self._guarded(self._consumer.topics())
            # Read once: the consumer's metadata narrows to the topics it reads later.
            self._topics = {name: set(self._consumer.partitions_for_topic(name) or ()) for name in names}
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        for client in (self._producer, self._consumer):
            if client is not None:
                await client.stop()

    async def _guarded(self, awaitable):
        return await guarded(awaitable, self.bootstrap, self.timeout)

    def dead_letter_topics(self) -> List[str]:
        return sorted(t for t in self._topics if t.endswith(DLQ_SUFFIX))

    def has_topic(self, topic: str) -> bool:
        return topic in self._topics

    def partitions(self, topic: str) -> Set[int]:
        return set(self._topics.get(topic, ()))

    async def read(self, topic: str, *, limit: Optional[int] = None) -> List[DeadLetter]:
        """Every record of the topic now, from the beginning to the end of each partition, in order;
        with a limit, stop once that many are read (a topic can hold more than memory does)."""
        tps = [TopicPartition(topic, p) for p in sorted(self.partitions(topic))]
        if not tps:
            return []
        consumer = self._started_consumer()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        letters: Dict[TopicPartition, List[DeadLetter]] = {tp: [] for tp in tps}
        deadline = time.monotonic() + self.timeout
        while True:
            batch = await self._guarded(consumer.getmany(*tps, timeout_ms=500))
            for tp, records in batch.items():
                letters[tp].extend(DeadLetter.from_record(r) for r in records)
            if limit is not None and sum(map(len, letters.values())) >= limit:
                return [letter for tp in tps for letter in letters[tp]][:limit]
            # The high watermark of a fetch response is exact (the local broker's ListOffsets is not).
            if all([await self._at_end(tp) for tp in tps]):
                break
            if time.monotonic() > deadline:
                raise BrokerError(f"Could not read {topic} to its end within {self.timeout:.0f} s; "
                                  "check the broker and try again, or raise --timeout.")
        return [letter for tp in tps for letter in letters[tp]]

    async def _at_end(self, tp: TopicPartition) -> bool:
        consumer = self._started_consumer()
        highwater = consumer.highwater(tp)
        return highwater is not None and await consumer.position(tp) >= highwater

    def _started_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the broker is not open; use it as `async with Broker(...) as broker`")
        return self._consumer

    async def send(self, letters: Sequence[DeadLetter], target: str) -> List[Sent]:
        """Each letter to `target` (the source topic the caller checked), in its source partition, in order."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                              request_timeout_ms=int(self.timeout * 1000),
                                              client_id="ledgerstream-deadletters")
            await self._guarded(self._producer.start())
        sent = []
        for letter in letters:
            partition = self.target_partition(letter, target)
            metadata = await self._guarded(self._producer.send_and_wait(
                target, key=letter.key, value=letter.value, partition=partition,
                headers=replay_headers(letter)))
            sent.append(Sent(letter, metadata.topic, metadata.partition, metadata.offset))
        return sent

    def target_partition(self, letter: DeadLetter, target: str) -> Optional[int]:
        """The partition the original was read from: state lives in the key's partition, whatever
        partitioner wrote it first. None (the key's default partition) if `target` has no such one."""
        partition = letter.source_partition
        return partition if partition in self.partitions(target) else None


def run(coroutine):
    return asyncio.run(coroutine)


def dlq_names(topics: Iterable[str]) -> List[str]:
    """Source or dead-letter topic names as dead-letter topic names, in the order given, once each."""
    names: List[str] = []
    for topic in topics:
        name = topic if topic.endswith(DLQ_SUFFIX) else f"{topic}{DLQ_SUFFIX}"
        if name not in names:
            names.append(name)
    return names
