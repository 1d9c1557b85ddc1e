"""AgentDriver: the app's agents in process, as Faust's test_context or Kafka Streams' TopologyTestDriver.

Records go in on a topic; the agents subscribed to it take them as the worker does (batch agents a
partition's batch at a time through the real BatchAgents and an unstarted Faust consumer of the
worker's transport; stream agents one event at a time); the rows they write land in the tables
(memory store) at a flush; what they send lands in an in-memory log, and records sent to a topic
that an agent takes (customer-account-updates) are taken in turn, until nothing is left. No
broker, no processes, no threads.

    with AgentDriver.open() as driver:
        driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", row))
        driver.run()
        driver.rows(balance_by_account)[42], driver.sent(BALANCE_LOW.name)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Sequence, Tuple

from aiokafka.partitioner import murmur2
from aiokafka.structs import ConsumerRecord
from faust.events import Event
from faust.exceptions import AlreadyConfiguredWarning
from faust.types import TP, RecordMetadata

from engine import faust_internals
from ops.deadletters.letters import DeadLetter, dead_letter_topic_name
from schemas.codec.envelope import decode_envelope
from topics import PARTITIONS

__all__ = ["AgentDriver", "MemoryProducer", "Sent", "AGENT_MODULES"]

#: Every module that declares agents or tables (what the worker autodiscovers of them).
AGENT_MODULES = ("tables.alerts", "tables.balances", "tables.customers", "tables.rule_state", "tables.turnover",
                 "agents.accounts", "agents.customers", "agents.transactions", "agents.domain_events")
#: Rounds of forwarding (agents feeding agents) before the driver calls it a loop.
MAX_ROUNDS = 20


def default_partition(key: Optional[bytes], partitions: int = PARTITIONS) -> int:
    """Kafka's default partitioner for a keyed record (a null key goes to partition 0 here)."""
    return 0 if key is None else (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class Sent:
    """A record on the in-memory log."""

    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: Tuple[Tuple[str, bytes], ...]
    timestamp_ms: int

    def json(self) -> Any:
        return json.loads(self.value)

    def envelope(self):
        """(envelope, payload) of an event in the Avro envelope (alerts, BalanceLow)."""
        return decode_envelope(self.value)


class MemoryProducer:
    """Stands in for Faust's producer: keeps each record in an in-memory log instead of sending it.

    Faust's own publishing path runs up to the producer (serialisation, partition of a changelog,
    callbacks such as the table's persisted offset); only the network is left out.
    """

    def __init__(self) -> None:
        self.log: Dict[TP, List[Sent]] = defaultdict(list)
        self.sent: List[Sent] = []          # in the order sent
        self.declared: Dict[str, int] = {}  # topic -> partitions
        self.flushes = 0
        self._pending: list = []

    def append(self, topic: str, key: Optional[bytes], value: Optional[bytes], *, partition: Optional[int] = None,
               headers: Any = None, timestamp_ms: Optional[int] = None) -> Sent:
        """Put a record on the log; like a Kafka producer, a record without a time gets the current time."""
        partition = default_partition(key) if partition is None else partition
        timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        tp = TP(topic, partition)
        items = headers.items() if isinstance(headers, dict) else (headers or ())
        record = Sent(topic, partition, len(self.log[tp]), key, value, tuple((k, v) for k, v in items), timestamp_ms)
        self.log[tp].append(record)
        self.sent.append(record)
        return record

    # ------------------------------------------------------------------ what Faust calls

    async def maybe_start(self) -> None:
        pass

    async def send(self, topic: str, key: Optional[bytes], value: Optional[bytes], partition: Optional[int],
                   timestamp: Optional[float], headers: Any, *, transactional_id: Optional[str] = None):
        future = asyncio.get_running_loop().create_future()
        future.set_result(await self.send_and_wait(topic, key, value, partition, timestamp, headers))
        return future

    async def send_and_wait(self, topic: str, key: Optional[bytes], value: Optional[bytes],
                            partition: Optional[int], timestamp: Optional[float], headers: Any, *,
                            transactional_id: Optional[str] = None) -> RecordMetadata:
        record = self.append(topic, key, value, partition=partition, headers=headers,
                             timestamp_ms=None if timestamp is None else int(timestamp * 1000))
        return RecordMetadata(topic, record.partition, TP(topic, record.partition), record.offset, timestamp)

    def send_soon(self, fut) -> None:
        # Faust buffers these (table changelogs) and publishes them from a background task.
        self._pending.append(fut)

    async def flush(self) -> None:
        self.flushes += 1
        while self._pending:
            fut = self._pending.pop(0)
            await fut.message.channel.publish_message(fut, wait=True)

    async def create_topic(self, topic: str, partitions: int, replication: int, **kwargs: Any) -> None:
        self.declared[topic] = partitions

    def key_partition(self, topic: str, key: Optional[bytes]) -> TP:
        return TP(topic, default_partition(key))


class _EventStream:
    """What a stream agent iterates: its events, as `stream.events()` yields them."""

    def __init__(self, events: Sequence[Event]) -> None:
        self._events = events

    async def events(self) -> AsyncIterator[Event]:
        for event in self._events:
            yield event


class AgentDriver:
    """Feeds records to the app's agents in process and shows what they wrote and sent (see module doc)."""

    def __init__(self, app) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.producer = MemoryProducer()
        self._positions: Dict[TP, int] = defaultdict(int)  # next offset each partition's agent takes
        self._stream_agents: Dict[str, Any] = {}
        for agent in app.agents.values():
            for topic in getattr(agent.channel, "topics", ()):
                self._stream_agents[topic] = agent

    @classmethod
    @contextlib.contextmanager
    def open(cls) -> Iterator["AgentDriver"]:
        """The app with every agent and table, a memory store, empty tables and an in-memory producer."""
        from app import app

        if str(app.conf.store) != "memory://":
            # Tables open their store on first use, from this setting (each is checked in _start):
            # Faust's warning that the old value may still be in use does not apply to them.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AlreadyConfiguredWarning)
                app.conf.store = "memory://"
        for module in AGENT_MODULES:
            importlib.import_module(module)
        driver = cls(app)
        asyncio.set_event_loop(driver.loop)
        try:
            driver.loop.run_until_complete(driver._start())
            yield driver
        finally:
            driver.loop.run_until_complete(driver._stop())
            asyncio.set_event_loop(None)
            driver.loop.close()

    async def _start(self) -> None:
        app = self.app
        for table in app.tables.values():
            assert type(table.data).__module__ == "faust.stores.memory", f"{table.name} is not in the memory store"
            table.data.clear()
        app.producer = self.producer
        consumer = app.transport.create_consumer(callback=_never, on_partitions_revoked=_never,
                                                 on_partitions_assigned=_never, beacon=app.beacon)
        # No broker to ask: every topic has the pipeline's partitions, and all of them are this
        # worker's and active (as after an assignment and the tables' recovery).
        consumer.topic_partitions = lambda topic: PARTITIONS
        consumer.resume_partitions({TP(topic, p) for topic in [*app.batch_agents.topics, *self._stream_agents]
                                    for p in range(PARTITIONS)})
        app.consumer = consumer
        self.consumer = consumer
        app.tables.recovery.completed.set()  # nothing to recover: the views answer (views/routing.py)

    async def _stop(self) -> None:
        # Flush and forget the batch agents' partitions, so the next driver starts from nothing cached.
        await self.app.batch_agents.on_revoked(self.consumer, faust_internals.active_partitions(self.consumer))
        await self.producer.flush()
        self.app.consumer = None
        self.app.producer = None

    # ------------------------------------------------------------------ input

    def pipe(self, topic: str, key: Optional[bytes], value: Optional[bytes], headers: Any = (), *,
             partition: Optional[int] = None, timestamp_ms: Optional[int] = None) -> Sent:
        """Put a record on `topic` (partitioned by its key, as a Kafka producer would); `run` delivers it."""
        return self.producer.append(topic, key, value, partition=partition, headers=list(headers),
                                    timestamp_ms=timestamp_ms)

    def run(self, *, flush: bool = True) -> None:
        """Deliver every record not yet taken to its agents, round after round while agents feed agents.

        With `flush` (the default) the batch agents' cached rows are written to the tables at the end,
        as at a flush; without it they stay cached (what `batch_agents.latest` serves).
        """
        self.loop.run_until_complete(self._run(flush))

    async def _run(self, flush: bool) -> None:
        for _ in range(MAX_ROUNDS):
            if not await self._deliver_round():
                break
        else:
            raise AssertionError(f"agents still feeding each other after {MAX_ROUNDS} rounds")
        if flush:
            await self.app.batch_agents.flush_due(self.consumer, force=True)
            await self.producer.flush()

    async def _deliver_round(self) -> bool:
        batches: Dict[TP, List[ConsumerRecord]] = {}
        for tp, log in list(self.producer.log.items()):
            taken = self._positions[tp]
            if taken >= len(log) or (tp.topic not in self.app.batch_agents.topics
                                     and tp.topic not in self._stream_agents):
                continue
            batches[tp] = [_consumer_record(r) for r in log[taken:]]
            self._positions[tp] = len(log)
        if not batches:
            return False
        batch_tps = {tp: rs for tp, rs in batches.items() if tp.topic in self.app.batch_agents.topics}
        if batch_tps:
            await self.app.batch_agents.deliver(self.consumer, batch_tps, self.app.consumer_generation_id)
        for tp, records in batches.items():
            if tp.topic in self._stream_agents:
                events = [self._event(tp, r) for r in records]
                await self._stream_agents[tp.topic].fun(_EventStream(events))
        return True

    def _event(self, tp: TP, record: ConsumerRecord) -> Event:
        message = faust_internals.to_message(self.consumer, tp, record)
        return Event(self.app, message.key, message.value, message.headers, message)

    # ------------------------------------------------------------------ output

    def rows(self, table) -> Dict[Any, Any]:
        """The table's stored rows (what a flush wrote), by key."""
        return dict(table.data.items())

    def latest(self, table, key: Any) -> Any:
        """The row the views serve: the batch agents' cache first, then the table."""
        return self.app.batch_agents.latest(table, key)

    def sent(self, topic: str) -> List[Sent]:
        """Records the agents sent to `topic` (and any piped there), in the order sent."""
        return [r for r in self.producer.sent if r.topic == topic]

    def dead_letters(self, source_topic: str) -> List[DeadLetter]:
        return [DeadLetter.from_record(_consumer_record(r)) for r in self.sent(dead_letter_topic_name(source_topic))]


async def _never(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the driver's consumer is never started: nothing should call back into it")


def _consumer_record(record: Sent) -> ConsumerRecord:
    return ConsumerRecord(topic=record.topic, partition=record.partition, offset=record.offset,
                          timestamp=record.timestamp_ms,
                          timestamp_type=0, key=record.key, value=record.value, checksum=None,
                          serialized_key_size=len(record.key or b""), serialized_value_size=len(record.value or b""),
                          headers=list(record.headers))
