"""The private Faust and aiokafka members engine/faust_internals.py names, checked against the pinned classes.

Real classes and a real (unstarted) consumer of the worker's transport, not a stand-in: an upgrade
that renames or removes a member fails here, naming it, instead of in production.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from faust.sensors.monitor import Monitor
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from engine import faust_internals
from engine.app import EngineApp
from engine.assignment import BalancedCopartitionedAssignor, BalancedPartitionAssignor
from engine.batching.consumer import BatchingConsumerMixin
from engine.faust_internals import OVERRIDES, BatchConsumer
from engine.startup import LedgerBootStrategy
from engine.transport import kafka as our_transport

DATA_MEMBERS = sorted(BatchConsumer.__annotations__)
METHODS = sorted(name for name, value in vars(BatchConsumer).items()
                 if inspect.isfunction(value) and not name.startswith("__"))


def _parameters(function) -> tuple:
    """Parameter names after self, without *args / **kwargs."""
    return tuple(p.name for p in inspect.signature(function).parameters.values()
                 if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def _resolve(owner: str):
    module, _, name = owner.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.fixture(scope="module")
def consumer():
    """The consumer the worker's transport builds (Faust's aiokafka Consumer with our mixin), never started."""

    async def build():
        app = EngineApp("faust-contract", broker="kafka://127.0.0.1:9", store="memory://")
        return app.consumer

    return asyncio.run(build())


def test_the_worker_consumer_is_fausts_aiokafka_consumer(consumer):
    assert isinstance(consumer, faust_aiokafka.Consumer)
    assert isinstance(consumer, BatchingConsumerMixin)


@pytest.mark.parametrize("member", DATA_MEMBERS)
def test_the_consumer_has_each_data_member_batch_agents_use(consumer, member):
    assert hasattr(consumer, member), (
        f"faust's Consumer has no `{member}` any more: engine/faust_internals.py (BatchConsumer) must follow "
        f"the upgrade")


def test_the_consumer_members_behave_as_batch_agents_expect(consumer):
    tp = TP("contract-topic", 0)
    # Offsets and acknowledgements default per partition, as the fetch loop and ack() rely on.
    assert consumer._read_offset[tp] is None, "`_read_offset` no longer defaults to None"
    assert consumer._committed_offset[tp] is None, "`_committed_offset` no longer defaults to None"
    assert consumer._acked[tp] == [], "`_acked` is no longer a list per partition"
    assert consumer._acked_index[tp] == set(), "`_acked_index` is no longer a set per partition"
    assert isinstance(consumer._n_acked, int), "`_n_acked` is no longer a count"
    assert consumer._commit_every == consumer.app.conf.broker_commit_every, (
        "`_commit_every` is no longer broker_commit_every")
    assert consumer.flow_active is True


@pytest.mark.parametrize("member", METHODS)
def test_the_consumer_has_each_method_batch_agents_call(member):
    real = getattr(faust_aiokafka.Consumer, member, None)
    assert callable(real) and not getattr(real, "__isabstractmethod__", False), (
        f"faust's aiokafka Consumer has no method `{member}` any more")
    expected = _parameters(getattr(BatchConsumer, member))
    assert _parameters(real)[:len(expected)] == expected, (
        f"faust's Consumer.{member} now takes {_parameters(real)}, BatchConsumer says {expected}")


@pytest.mark.parametrize("override", OVERRIDES, ids=lambda o: f"{o.owner.split(':')[1]}.{o.member}")
def test_each_member_we_override_is_still_there_with_its_parameters(override):
    owner = _resolve(override.owner)
    real = getattr(owner, override.member, None)
    assert callable(real), f"{override.owner} has no `{override.member}` any more: our override is dead code"
    assert _parameters(real) == override.parameters, (
        f"{override.owner}.{override.member} now takes {_parameters(real)}, we override it as {override.parameters}")


def test_every_private_member_we_override_is_listed():
    listed = {o.member for o in OVERRIDES}
    ours = (BatchingConsumerMixin, our_transport._Consumer, our_transport._ConsumerThread, LedgerBootStrategy,
            EngineApp, BalancedPartitionAssignor)
    for cls in ours:
        for name, value in vars(cls).items():
            if not callable(value) or name.startswith("__"):
                continue
            inherited = any(name in vars(base) for base in cls.__mro__[1:]
                            if base.__module__.startswith(("faust.", "mode.")))
            if name.startswith("_") and inherited:
                assert name in listed, f"{cls.__qualname__}.{name} overrides a private member not in OVERRIDES"


class _Event:
    """Weak-referenceable, as Faust's Event."""


def test_current_event_of_sets_what_faust_reads():
    from faust.streams import _current_event

    assert isinstance(_current_event, contextvars.ContextVar), "faust.streams._current_event is no ContextVar"
    event = _Event()
    assert faust.current_event() is None
    with faust_internals.current_event_of(event):
        assert faust.current_event() is event
    assert faust.current_event() is None


def test_the_monitor_keeps_stream_inbound_time():
    assert "stream_inbound_time" in Monitor.__annotations__, "faust's Monitor has no `stream_inbound_time` any more"
    assert callable(getattr(faust_aiokafka.Consumer, "verify_event_path", None))


def test_aiokafka_reads_fetch_max_wait_ms_at_start_and_has_a_metadata_client():
    async def check():
        client = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=321)
        try:
            assert getattr(client, "_fetch_max_wait_ms", None) == 321, (
                "aiokafka's AIOKafkaConsumer has no `_fetch_max_wait_ms` any more")
            faust_internals.set_fetch_max_wait(client, 50)
            assert client._fetch_max_wait_ms == 50
            assert callable(getattr(getattr(client, "_client", None), "force_metadata_update", None)), (
                "AIOKafkaConsumer._client.force_metadata_update is gone")
        finally:
            await client.stop()

    asyncio.run(check())
    # Set before start, read at start: a value written later would never reach the fetcher.
    assert "self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start), (
        "AIOKafkaConsumer.start no longer reads `_fetch_max_wait_ms`")


def test_the_assignor_members_we_rewrite_and_swap_are_there():
    from faust.assignor import partition_assignor
    from faust.assignor.client_assignment import CopartitionedAssignment
    from faust.assignor.copartitioned_assignor import CopartitionedAssignor

    assert partition_assignor.CopartitionedAssignor is CopartitionedAssignor, (
        "faust.assignor.partition_assignor no longer names CopartitionedAssignor: engine/assignment.py swaps it")
    clients = {"m1": CopartitionedAssignment(actives={0}, topics={"t"})}
    assignor = CopartitionedAssignor(topics={"t"}, cluster_asgn=clients, num_partitions=2, replicas=0)
    assert faust_internals.copartitioned_clients(assignor) is clients
    with faust_internals.copartitioned_assignor(BalancedCopartitionedAssignor):
        assert partition_assignor.CopartitionedAssignor is BalancedCopartitionedAssignor
    assert partition_assignor.CopartitionedAssignor is CopartitionedAssignor


def test_the_app_assigns_with_the_balanced_assignor():
    async def build():
        return EngineApp("faust-contract-assignor", broker="kafka://127.0.0.1:9", store="memory://").assignor

    assert isinstance(asyncio.run(build()), BalancedPartitionAssignor)
