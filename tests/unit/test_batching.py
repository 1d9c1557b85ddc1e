"""engine/batching/: the write-back cache of a partition and the bookkeeping of batches, flushes and acks.

The consumer and tables are the stand-ins of tests/support/batch_fakes.py; the real consumer and
tables are exercised by tests/support/agent_driver.py and end to end by the integration and e2e
tests (tests/e2e/test_crash_consistency.py).
"""

from __future__ import annotations

import asyncio
import inspect
from types import SimpleNamespace

import pytest
from faust.types import TP

from engine.batching import BatchAgents, PartitionState
from engine.batching.state import CachedRows
from engine.faust_internals import BatchConsumer
from engine.limits import RefusedRecords
from tests.support.batch_fakes import FakeConsumer, FakeTable

TOPIC = "ledger.public.transactions"
TP0 = TP(TOPIC, 0)


class _Event:
    """Stands in for a faust Event: a message with a partition (and weak-referenceable, as Event is)."""

    def __init__(self, partition: int):
        self.message = SimpleNamespace(partition=partition, topic=TOPIC)


def _event(partition: int):
    return _Event(partition)


def _record(offset: int, key: bytes = b"1", value: bytes = b"{}"):
    return SimpleNamespace(topic=TOPIC, partition=0, offset=offset, key=key, value=value, timestamp=0,
                           headers=[])


class FakeProducer:
    """Notes when it was flushed, and which table writes had happened by then."""

    def __init__(self):
        self.flushes = 0
        #: Per flush, the table writes made before it (set by a test that hands its table over).
        self.watched = None
        self.writes_at_flush = []

    async def flush(self):
        self.flushes += 1
        if self.watched is not None:
            self.writes_at_flush.append(len(self.watched.writes))


@pytest.fixture
def agents():
    app = SimpleNamespace(consumer_generation_id=1, producer=FakeProducer())
    return BatchAgents(app, flush_interval_s=0.5, flush_records=1000)


def test_cached_rows_read_each_key_once_and_write_back_each_changed_key_once():
    table = FakeTable()
    dict.__setitem__(table, 7, "seven")
    state = PartitionState(3, _event(3))
    with state.current():
        rows = state.rows(table)
        assert rows.get(7) == "seven" and rows.get(7) == "seven" and rows.get(8) is None
        rows[7] = "SEVEN"
        rows[7] = "Seven"
        rows[8] = "eight"
        assert rows.get(7) == "Seven"
    assert [k for k, _ in table.reads] == [7, 8]          # one read per key
    assert table.writes == []                            # nothing reaches the table before the flush
    state.processed(TP(TOPIC, 3), 10, 12, 3)
    assert state.write_back() == {TP(TOPIC, 3): range(10, 13)}
    assert sorted(table.writes) == [(7, "Seven", 3), (8, "eight", 3)]   # once per key, in the partition
    assert {p for _, p in table.reads} == {3}


def test_write_back_empties_the_cache_so_the_next_interval_reads_the_table_again():
    table = FakeTable()
    state = PartitionState(0, _event(0))
    with state.current():
        state.rows(table)[1] = "a"
    state.processed(TP0, 0, 0, 1)
    state.write_back()
    assert state.write_back() == {}                      # nothing pending any more
    with state.current():
        assert state.rows(table).get(1) == "a"
    assert [k for k, _ in table.reads] == [1]


def test_due_by_age_or_by_records():
    state = PartitionState(0, _event(0))
    assert not state.due(0.5, 100, now=1e12)             # nothing pending
    state.processed(TP0, 0, 9, 10)
    assert not state.due(0.5, 100, now=state.pending_since + 0.1)
    assert state.due(0.5, 100, now=state.pending_since + 0.5)
    state.processed(TP0, 10, 109, 100)
    assert state.due(0.5, 100, now=state.pending_since)


def test_rows_of_one_table_are_one_cache():
    state = PartitionState(0, _event(0))
    table = FakeTable()
    assert state.rows(table) is state.rows(table)
    assert isinstance(state.rows(table), CachedRows)


def _deliver(agents, consumer, records, generation=1):
    asyncio.run(agents.deliver(consumer, {TP0: records}, generation))


def _register(agents, handler):
    topic = SimpleNamespace(topics=[TOPIC])
    agents.register(topic, handler)
    return topic


def test_offsets_are_acknowledged_only_at_the_flush(agents):
    table = FakeTable()
    seen = []

    async def handler(batch):
        seen.extend(r.offset for r in batch.records)
        rows = batch.rows(table)
        for r in batch.records:
            rows[int(r.key)] = (rows.get(int(r.key)) or 0) + 1

    _register(agents, handler)
    consumer = FakeConsumer(agents.app, active={TP0})
    _deliver(agents, consumer, [_record(0), _record(1), _record(2, key=b"2")])
    _deliver(agents, consumer, [_record(4), _record(5)])  # 3 is not there (compacted, a marker)
    assert seen == [0, 1, 2, 4, 5]
    assert consumer._read_offset[TP0] == 6
    assert consumer._acked == {} and table.writes == []
    assert asyncio.run(agents.flush_due(consumer)) == 0            # nothing due yet: no flush of any kind
    assert agents.app.producer.flushes == 0
    assert asyncio.run(agents.flush_due(consumer, force=True)) == 6
    assert consumer._acked[TP0] == [0, 1, 2, 3, 4, 5]      # the skipped offset 3 is done too
    assert consumer._n_acked == 6
    assert sorted(table.writes) == [(1, 4, 0), (2, 1, 0)]
    assert agents.progress()[f"{handler.__module__}.{handler.__qualname__}"]["records"] == 5


def _recording(agents) -> list:
    """Registers a batch agent that notes the offsets it is handed; returns that list."""
    seen = []

    async def handler(batch):
        seen.extend(r.offset for r in batch.records)

    _register(agents, handler)
    return seen


def test_records_before_the_read_offset_are_not_handled_again(agents):
    seen = _recording(agents)
    consumer = FakeConsumer(agents.app, active={TP0})
    consumer._read_offset[TP0] = 5                          # Faust seeked to the committed offset 5
    consumer._committed_offset[TP0] = 5
    _deliver(agents, consumer, [_record(3), _record(4), _record(5), _record(6)])
    assert seen == [5, 6]
    asyncio.run(agents.flush_due(consumer, force=True))
    assert consumer._acked[TP0] == [5, 6]


def test_nothing_is_handled_after_a_rebalance_began_or_for_a_partition_not_assigned(agents):
    seen = _recording(agents)
    consumer = FakeConsumer(agents.app, active={TP0})
    _deliver(agents, consumer, [_record(0)], generation=0)  # fetched under generation 0, now 1
    consumer.active = set()
    _deliver(agents, consumer, [_record(0)])
    assert seen == [] and consumer._read_offset[TP0] is None


def test_a_revoked_partition_is_flushed_then_forgotten(agents):
    table = FakeTable()

    async def handler(batch):
        batch.rows(table)[1] = "x"

    _register(agents, handler)
    consumer = FakeConsumer(agents.app, active={TP0})
    _deliver(agents, consumer, [_record(0)])
    agents.app.producer.watched = table
    asyncio.run(agents.on_revoked(consumer, {TP0, TP("other-topic", 1)}))
    assert table.writes == [(1, "x", 0)] and consumer._acked[TP0] == [0]
    # Once before the rows (the events they stand for are sent), once after (their changelog records).
    assert agents.app.producer.writes_at_flush == [0, 1]
    assert asyncio.run(agents.flush_due(consumer, force=True)) == 0


def test_agents_of_two_topics_share_the_rows_of_a_partition(agents):
    table = FakeTable()
    other = TP("ledger.public.accounts", 0)

    async def count(batch):
        rows = batch.rows(table)
        rows[1] = (rows.get(1) or 0) + len(batch.records)

    async def count_too(batch):
        await count(batch)

    _register(agents, count)
    agents.register(SimpleNamespace(topics=[other.topic]), count_too)
    consumer = FakeConsumer(agents.app, active={TP0})
    consumer.active = {TP0, other}
    asyncio.run(agents.deliver(consumer, {TP0: [_record(0), _record(1)], other: [_record(7)]}, 1))
    asyncio.run(agents.flush_due(consumer, force=True))
    assert table.writes == [(1, 3, 0)]                   # one row, one write, both agents' counts
    assert consumer._acked[TP0] == [0, 1] and consumer._acked[other] == [7]


def test_deleted_rows_read_as_missing_and_are_deleted_at_the_flush():
    table = FakeTable()
    dict.__setitem__(table, 5, "five")
    state = PartitionState(0, _event(0))
    with state.current():
        rows = state.rows(table)
        assert rows.get(5) == "five"
        del rows[5]
        del rows[6]                                      # never stored
        assert rows.get(5) is None and rows.get(5, "gone") == "gone"
    state.write_back()
    assert 5 not in table and table.writes == []


def test_flush_commits_once_commit_every_is_reached(agents):
    async def handler(batch):
        pass

    _register(agents, handler)
    consumer = FakeConsumer(agents.app, active={TP0})
    consumer._commit_every = 3
    _deliver(agents, consumer, [_record(0), _record(1), _record(2)])
    asyncio.run(agents.flush_due(consumer, force=True))
    assert consumer.commits == 1 and consumer._n_acked == 0


def test_a_topic_takes_one_batch_agent(agents):
    async def first(batch):
        pass

    async def second(batch):
        pass

    _register(agents, first)
    with pytest.raises(ValueError, match="already has a batch agent"):
        _register(agents, second)


def test_latest_reads_the_cache_first_then_the_table(agents):
    table = FakeTable()
    dict.__setitem__(table, 1, "stored")
    dict.__setitem__(table, 2, "stored too")

    async def handler(batch):
        rows = batch.rows(table)
        rows[1] = "changed"
        del rows[2]

    _register(agents, handler)
    consumer = FakeConsumer(agents.app, active={TP0})
    _deliver(agents, consumer, [_record(0)])
    table.get = lambda key, default=None: dict.get(table, key, default)  # views read with no current event
    assert agents.latest(table, 1) == "changed"
    assert agents.latest(table, 2) is None
    assert agents.latest(table, 3) is None
    dict.__setitem__(table, 3, "only stored")
    assert agents.latest(table, 3) == "only stored"
    asyncio.run(agents.flush_due(consumer, force=True))
    assert agents.latest(table, 1) == "changed" and agents.latest(table, 2) is None


def test_sent_events_are_delivered_before_rows_reach_the_tables_and_their_changelogs_right_after(agents):
    table = FakeTable()
    order = []

    class Producer:
        async def flush(self):
            order.append(("events delivered", list(table.writes)))

    agents.app.producer = Producer()

    async def handler(batch):
        batch.rows(table)[1] = "x"

    _register(agents, handler)
    consumer = FakeConsumer(agents.app, active={TP0})
    _deliver(agents, consumer, [_record(0)])
    asyncio.run(agents.flush_due(consumer, force=True))
    assert order == [("events delivered", []), ("events delivered", [(1, "x", 0)])]
    assert table.writes == [(1, "x", 0)]


def test_the_fake_consumer_has_every_member_batch_agents_use(agents):
    # The real consumer's members are checked against Faust's classes in test_faust_contract.py.
    consumer = FakeConsumer(agents.app, active={TP0})
    members = [*BatchConsumer.__annotations__,
               *(name for name, value in vars(BatchConsumer).items() if inspect.isfunction(value))]
    assert [m for m in members if not hasattr(consumer, m)] == []


def test_a_row_over_the_row_limit_is_refused_and_the_others_are_written():
    table = FakeTable(**{"big": "old"})
    state = PartitionState(0, _event(0))
    refused = RefusedRecords()
    with state.current():
        rows = state.rows(table)
        rows["big"] = "x" * 2000
        rows["small"] = {"count": 1}
    state.write_back(row_limit=1024, refuse=refused.refuse)
    assert table == {"big": "old", "small": {"count": 1}}  # the oversized key keeps its previous row
    health = refused.as_dict()
    assert health["count"] == 1 and health["by_topic"] == {"app-turnover-changelog": 1}
    assert health["last"]["key"] == '"big"' and health["last"]["size"] > 2000
    assert "over the row limit of 1024 bytes" in health["last"]["reason"]


def test_refused_rows_are_handed_to_the_dead_letter_handler():
    letters = []
    refused = RefusedRecords()

    @refused.on_refused
    async def handler(refusal):
        letters.append(refusal)

    async def flush():
        state = PartitionState(3, _event(3))
        with state.current():
            state.rows(FakeTable())["k"] = "y" * 500
        state.write_back(row_limit=100, refuse=refused.refuse)
        await asyncio.gather(*refused.pending())

    asyncio.run(flush())
    assert [(r.topic, r.partition, r.key) for r in letters] == [("app-turnover-changelog", 3, b'"k"')]


def test_discarded_caches_are_forgotten_unflushed(agents):
    table = FakeTable()

    async def handler(batch):
        batch.rows(table)[1] = "x"

    _register(agents, handler)
    consumer = FakeConsumer(agents.app, active={TP0})
    _deliver(agents, consumer, [_record(0)])
    assert agents.latest(table, 1) == "x" and len(agents.cache_sizes()) == 1
    agents.discard_caches()
    assert agents.cache_sizes() == []
    assert asyncio.run(agents.flush_due(consumer, force=True)) == 0
    assert table.writes == [] and consumer._acked == {}
