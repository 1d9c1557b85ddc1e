"""engine/transport/end_offsets.py: listed end offsets corrected by the high watermark of a fetch.

The Kafka client is a stand-in that answers as Tansu 0.6 does (tests/integration covers the real
broker): ListOffsets says the last batch's base offset + 1, a fetch's high watermark says the truth.
"""

from __future__ import annotations

import asyncio
from typing import Dict, List, Optional

import pytest
from aiokafka.structs import TopicPartition

from engine.transport import end_offsets
from engine.transport.end_offsets import EndOffsetsUnknown, true_end_offsets

T0, T1, T2 = (TopicPartition("changelog", p) for p in range(3))


class BrokerStandIn:
    """The AIOKafkaConsumer calls true_end_offsets makes, answering from `highwaters`."""

    instances: List["BrokerStandIn"] = []

    def __init__(self, highwaters: Dict[TopicPartition, Optional[int]], **config) -> None:
        self.highwaters, self.config = highwaters, config
        self.assigned: List[TopicPartition] = []
        self.seeks: Dict[TopicPartition, int] = {}
        self.fetched: List[tuple] = []
        self.started = self.stopped = False
        BrokerStandIn.instances.append(self)

    async def start(self) -> None:
        self.started = True

    def assign(self, tps) -> None:
        self.assigned = list(tps)

    def seek(self, tp, offset) -> None:
        self.seeks[tp] = offset

    async def getmany(self, *tps, timeout_ms: int, max_records: int):
        self.fetched.append(tps)
        await asyncio.sleep(0)
        return {}

    def highwater(self, tp) -> Optional[int]:
        return self.highwaters.get(tp) if self.fetched else None

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def broker(monkeypatch):
    BrokerStandIn.instances = []

    def install(highwaters):
        monkeypatch.setattr(end_offsets, "AIOKafkaConsumer", lambda **config: BrokerStandIn(highwaters, **config))
        return BrokerStandIn.instances

    return install


def test_the_larger_of_listed_and_fetched_end_wins(broker):
    probes = broker({T0: 3, T1: 7})
    corrected = asyncio.run(true_end_offsets("broker:9092", {T0: 1, T1: 7}))
    assert corrected == {T0: 3, T1: 7}
    (probe,) = probes
    assert probe.seeks == {T0: 0, T1: 6}                 # each partition's last listed record
    assert probe.config["bootstrap_servers"] == "broker:9092" and probe.config["group_id"] is None
    assert probe.stopped


def test_empty_partitions_are_not_probed_and_nothing_starts_when_all_are_empty(broker):
    probes = broker({})
    assert asyncio.run(true_end_offsets("broker:9092", {T0: 0, T1: None})) == {T0: 0, T1: None}
    assert probes == []


def test_a_partition_without_an_answer_is_an_error_not_its_listed_undercount(broker):
    probes = broker({T0: 5})
    with pytest.raises(EndOffsetsUnknown, match=r"within 0 s for changelog\[1\]"):
        asyncio.run(true_end_offsets("broker:9092", {T0: 2, T1: 4, T2: 0}, timeout=0.05))
    (probe,) = probes
    assert set(probe.assigned) == {T0, T1} and probe.stopped
    assert all(T0 not in tps for tps in probe.fetched[1:])  # answered partitions are not fetched again


def test_the_probe_stops_even_when_a_fetch_fails(broker, monkeypatch):
    probes = broker({T0: 5})

    async def failing_getmany(*tps, timeout_ms, max_records):
        raise OSError("connection reset")

    monkeypatch.setattr(BrokerStandIn, "getmany", lambda self, *tps, **kw: failing_getmany(*tps, **kw))
    with pytest.raises(OSError):
        asyncio.run(true_end_offsets("broker:9092", {T0: 2}))
    assert probes[0].stopped
