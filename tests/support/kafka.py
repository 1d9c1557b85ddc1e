"""Reading and writing topics in tests with a plain aiokafka client."""

from __future__ import annotations

import asyncio
from typing import List

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from engine.faust_internals import refresh_metadata

__all__ = ["produce", "read_topic", "committed_offsets"]


def produce(bootstrap: str, topic: str, *, key: bytes, value: bytes, headers=None) -> None:
    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=key, value=value, headers=headers)
        finally:
            await producer.stop()

    asyncio.run(run())


#: How long read_topic may take before it gives up: a broker that stops answering fails the test
#: with a sentence instead of holding it until the suite's timeout.
READ_TIMEOUT = 120.0


def read_topic(bootstrap: str, topic: str, *, timeout: float = READ_TIMEOUT) -> List[ConsumerRecord]:
    """Every record on the topic now (from the beginning to the end of each partition)."""

    async def run():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await refresh_metadata(consumer)
                partitions = consumer.partitions_for_topic(topic) or set()
            from aiokafka.structs import TopicPartition

            tps = [TopicPartition(topic, p) for p in partitions]
            if not tps:
                return []
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            records: List[ConsumerRecord] = []
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    records.extend(messages)
                if all([await _at_end(consumer, tp) for tp in tps]):
                    return records
        finally:
            await consumer.stop()

    async def bounded():
        try:
            return await asyncio.wait_for(run(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"reading {topic} from {bootstrap} took over {timeout:.0f} s") from None

    return asyncio.run(bounded())


async def _at_end(consumer: AIOKafkaConsumer, tp) -> bool:
    highwater = consumer.highwater(tp)
    if highwater is None:
        return False
    return await consumer.position(tp) >= highwater


def committed_offsets(bootstrap: str, group: str, topic: str, records: List[ConsumerRecord]) -> dict:
    """The group's committed offset of each partition that `records` (read off `topic`) come from."""

    async def run():
        from aiokafka.structs import TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            return {p: await consumer.committed(TopicPartition(topic, p)) for p in {r.partition for r in records}}
        finally:
            await consumer.stop()

    return asyncio.run(run())
