"""Draining Faust's producer buffer before a commit (engine/transport/kafka.py), against Faust's real
ProducerBuffer: its own flush gives up after 0.1 s without a record leaving; ours waits for every record."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest
from faust.transport.producer import ProducerBuffer

from engine.faust_internals import producer_buffer_idle
from engine.transport.kafka import ProducerStalled, drain_producer_buffer

#: Longer than the 0.1 s Faust's flush waits for a record to leave: a busy machine's event loop.
SLOW_SEND_S = 0.25


def slow_buffer(sent: list, *, delay: float = SLOW_SEND_S, stuck: bool = False) -> ProducerBuffer:
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))

    async def send_pending(message):  # what hands a record to the client (aiokafka's send)
        await asyncio.sleep(3600 if stuck else delay)
        sent.append(message)

    buffer._send_pending = send_pending  # read when the buffer's sending task starts
    return buffer


def run(coroutine):
    return asyncio.run(coroutine)


@asynccontextmanager
async def running(buffer: ProducerBuffer, records=()):
    """The buffer started with `records` put in it; stopped at the end with whatever is left dropped (its
    stop would flush them, which raises once it is stopping)."""
    await buffer.start()
    try:
        for record in records:
            buffer.put(record)
        yield buffer
    finally:
        buffer.pending = asyncio.Queue()
        await buffer.stop()


def test_fausts_own_flush_returns_with_records_still_in_the_buffer():
    async def go():
        sent: list = []
        async with running(slow_buffer(sent), range(4)) as buffer:
            await buffer.flush()
            return len(sent), buffer.size

    handed, left = run(go())
    assert handed < 4 and left > 0, "Faust's flush changed: it now waits for slow sends; drain may be redundant"


def test_the_drain_returns_only_once_every_record_is_handed_over():
    async def go():
        sent: list = []
        async with running(slow_buffer(sent), range(4)) as buffer:
            await drain_producer_buffer(buffer, stall_s=10)
            return list(sent), producer_buffer_idle(buffer)

    sent, idle = run(go())
    assert sent == [0, 1, 2, 3] and idle


def test_an_empty_buffer_drains_at_once():
    async def go():
        async with running(slow_buffer([])) as buffer:
            await asyncio.wait_for(drain_producer_buffer(buffer, stall_s=10), timeout=1)

    run(go())


def test_a_buffer_that_sends_nothing_stops_the_drain_instead_of_letting_a_commit_through():
    async def go():
        async with running(slow_buffer([], stuck=True), ["a", "b"]) as buffer:
            with pytest.raises(ProducerStalled, match="sent nothing"):
                await drain_producer_buffer(buffer, stall_s=0.5)

    run(go())


def test_a_buffer_that_never_started_drains_at_once():
    async def go():
        buffer = slow_buffer([])  # a worker stopping before its producer started (waiting for its broker)
        await asyncio.wait_for(drain_producer_buffer(buffer, stall_s=10), timeout=1)

    run(go())
