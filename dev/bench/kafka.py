"""The benchmark's broker: a bare Tansu started and stopped by the benchmark, topics, loading and reading.

Only the broker is needed: the events are written as Debezium would write them (dev/bench/dataset.py),
so neither PostgreSQL nor Kafka Connect runs. Tansu 0.6 undercounts ListOffsets(latest), so every
"how far is this topic" question here is answered by a fetch (transport/end_offsets.py).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord, TopicPartition

from dev.stack.broker import tansu_binary
from dev.stack.processes import port_is_open
from engine.faust_internals import refresh_metadata
from engine.transport.end_offsets import true_end_offsets

from .dataset import PARTITIONS, Record

__all__ = ["Broker", "free_port", "create_topics", "load", "end_offsets", "total", "read_records",
           "first_and_last_timestamps", "TOPIC_CONFIG", "committed"]

#: Explicit retention on every topic the benchmark creates: Quix Streams reads these from the
#: broker and fails on a topic without them (Tansu reports no defaults).
TOPIC_CONFIG = {"retention.ms": "604800000", "retention.bytes": "-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A memory-backed Tansu broker of our own: a fresh world per use, on a free port of the loopback.

    Tansu binds without SO_REUSEADDR, so a port that a recent broker used (its connections in
    TIME_WAIT) is refused for a while: a broker that cannot bind is retried on another free port.
    """

    def __init__(self, log_file: Path, port: Optional[int] = None):
        self.port, self.log_file = port, log_file
        self.process: Optional[subprocess.Popen] = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "Broker":
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            port = self.port if (self.port and attempt == 0) else free_port()
            if port_is_open("127.0.0.1", port):
                continue
            url = f"tcp://127.0.0.1:{port}"
            with open(self.log_file, "ab") as log:
                self.process = subprocess.Popen(
                    [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                     "--storage-engine", "memory://tansu/"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + 30
            while self.process.poll() is None and not port_is_open("127.0.0.1", port) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)  # a bind failure ends the process just after it prints its banner
            if self.process.poll() is None and port_is_open("127.0.0.1", port):
                self.port = port
                return self
            stop_process(self.process)
        raise RuntimeError(f"the benchmark's broker did not start; see {self.log_file}")

    def __exit__(self, *exc) -> None:
        stop_process(self.process)


def stop_process(process: Optional[subprocess.Popen], timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaped."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def create_topics(bootstrap: str, names: Iterable[str], partitions: int = PARTITIONS) -> None:
    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [NewTopic(n, num_partitions=partitions, replication_factor=1, topic_configs=dict(TOPIC_CONFIG))
                       for n in names if n not in existing]
            if missing:
                await admin.create_topics(missing)
        finally:
            await admin.close()

    asyncio.run(run())


def producer(bootstrap: str, **extra):
    from confluent_kafka import Producer

    # Kafka Connect's producer defaults (no compression, acks=all), batching as it does under load.
    return Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "compression.type": "none",
                     "enable.idempotence": False, "queue.buffering.max.messages": 500000, **extra})


def load(bootstrap: str, topic: str, records: Sequence[Record]) -> float:
    """Write `records` to `topic` in order, each to its partition; the seconds it took."""
    started = time.monotonic()
    p = producer(bootstrap)
    errors: List[str] = []

    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))

    for i, r in enumerate(records):
        while True:
            try:
                p.produce(topic, value=r.value, key=r.key, partition=r.partition, on_delivery=delivered)
                break
            except BufferError:
                p.poll(0.05)
        if i % 5000 == 0:
            p.poll(0)
    if p.flush(120) != 0 or errors:
        raise RuntimeError(f"loading {topic} failed: {errors[:3] or 'records left unsent'}")
    return time.monotonic() - started


def end_offsets(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> Dict[int, int]:
    """The true end offset of each partition (0 for a topic that does not exist yet)."""

    async def run():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            await refresh_metadata(consumer)
            known = consumer.partitions_for_topic(topic)
            if not known:
                return {p: 0 for p in range(partitions)}
            tps = [TopicPartition(topic, p) for p in sorted(known)]
            listed = await consumer.end_offsets(tps)
        finally:
            await consumer.stop()
        corrected = await true_end_offsets(bootstrap, listed)
        return {tp.partition: end or 0 for tp, end in corrected.items()}

    return asyncio.run(run())


def committed(bootstrap: str, group: str, topic: str, partitions: int = PARTITIONS) -> Dict[int, int]:
    """The consumer group's committed offset of each partition of `topic` (0 where none)."""

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        await admin.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            found = await admin.list_consumer_group_offsets(group, partitions=tps)
        finally:
            await admin.close()
        return {tp.partition: max(0, found[tp].offset) if tp in found else 0 for tp in tps}

    return asyncio.run(run())


def total(offsets: Dict[int, int], since: Optional[Dict[int, int]] = None) -> int:
    return sum(end - (since or {}).get(p, 0) for p, end in offsets.items())


def read_records(bootstrap: str, topic: str, since: Optional[Dict[int, int]] = None,
                 timeout: float = 60.0) -> List[ConsumerRecord]:
    """Every record of `topic` after `since` (per partition) up to its end now."""
    until = end_offsets(bootstrap, topic)

    async def run():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    max_partition_fetch_bytes=8 << 20)
        await consumer.start()
        records: List[ConsumerRecord] = []
        try:
            wanted = {TopicPartition(topic, p): end for p, end in until.items() if end > (since or {}).get(p, 0)}
            if not wanted:
                return records
            consumer.assign(list(wanted))
            for tp in wanted:
                consumer.seek(tp, (since or {}).get(tp.partition, 0))
            deadline = time.monotonic() + timeout
            while wanted and time.monotonic() < deadline:
                batch = await consumer.getmany(*wanted, timeout_ms=500)
                for tp, messages in batch.items():
                    records.extend(m for m in messages if m.offset < wanted[tp])
                    if messages and messages[-1].offset >= wanted[tp] - 1:
                        del wanted[tp]
            if wanted:
                raise TimeoutError(f"reading {topic} did not reach its end within {timeout:.0f} s")
        finally:
            await consumer.stop()
        return records

    return asyncio.run(run())


def first_and_last_timestamps(bootstrap: str, topic: str) -> Tuple[float, float]:
    """Earliest first-record and latest last-record timestamp (seconds) over the topic's partitions."""
    until = end_offsets(bootstrap, topic)

    async def run():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        firsts, lasts = [], []
        try:
            for p, end in until.items():
                if not end:
                    continue
                tp = TopicPartition(topic, p)
                consumer.assign([tp])
                for offset, out in ((0, firsts), (end - 1, lasts)):
                    consumer.seek(tp, offset)
                    for _ in range(40):
                        batch = await consumer.getmany(tp, timeout_ms=250)
                        hit = [m for m in batch.get(tp, ()) if m.offset == offset]
                        if hit:
                            out.append(hit[0].timestamp / 1000)
                            break
        finally:
            await consumer.stop()
        return min(firsts), max(lasts)

    return asyncio.run(run())
