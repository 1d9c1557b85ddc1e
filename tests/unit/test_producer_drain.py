"""Draining Faust's producer buffer before a commit (engine/transport/kafka.py), against Faust's real
ProducerBuffer: its own flush gives up after 0.1 s without a record leaving; ours waits for every record."""

from __future__ import annotations

import asyncio
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


def test_fausts_own_flush_returns_with_records_still_in_the_buffer():
    async def go():
        sent: list = []
        buffer = slow_buffer(sent)
        await buffer.start()
        try:
            for n in range(4):
                buffer.put(n)
            await buffer.flush()
            return len(sent), buffer.size
        finally:
            buffer.pending = asyncio.Queue()  # what is left would make its stop raise
            await buffer.stop()

    handed, left = run(go())
    assert handed < 4 and left > 0, "Faust's flush changed: it now waits for slow sends; drain may be redundant"


def test_the_drain_returns_only_once_every_record_is_handed_over():
    async def go():
        sent: list = []
        buffer = slow_buffer(sent)
        await buffer.start()
        try:
            for n in range(4):
                buffer.put(n)
            await drain_producer_buffer(buffer, stall_s=10)
            return list(sent), producer_buffer_idle(buffer)
        finally:
            await buffer.stop()

    sent, idle = run(go())
    assert sent == [0, 1, 2, 3] and idle


def test_an_empty_buffer_drains_at_once():
    async def go():
        buffer = slow_buffer([])
        await buffer.start()
        try:
            await asyncio.sleep(0)  # the sending task waits for a record
            await asyncio.wait_for(drain_producer_buffer(buffer, stall_s=10), timeout=1)
        finally:
            await buffer.stop()

    run(go())


def test_a_buffer_that_sends_nothing_stops_the_drain_instead_of_letting_a_commit_through():
    async def go():
        buffer = slow_buffer([], stuck=True)
        await buffer.start()
        try:
            buffer.put("a")
            buffer.put("b")
            with pytest.raises(ProducerStalled, match="sent nothing"):
                await drain_producer_buffer(buffer, stall_s=0.5)
        finally:
            buffer.pending = asyncio.Queue()  # nothing left for its stop to flush
            await buffer.stop()

    run(go())


def test_a_buffer_that_never_started_drains_at_once():
    async def go():
        buffer = slow_buffer([])  # a worker stopping before its producer started (waiting for its broker)
        await asyncio.wait_for(drain_producer_buffer(buffer, stall_s=10), timeout=1)

    run(go())
