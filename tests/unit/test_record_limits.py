"""engine/limits.py and the transport's producer: a record over the broker's limit fails alone, never the worker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.errors import MessageSizeTooLargeError, RequestTimedOutError
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as faust_aiokafka

from engine.limits import RefusedRecords
from engine.transport.kafka import _Producer


def _producer(refused: RefusedRecords) -> _Producer:
    producer = object.__new__(_Producer)  # only `send` is exercised: no client, no service
    producer.__dict__["app"] = SimpleNamespace(batch_agents=SimpleNamespace(refused=refused))
    return producer


def _failing_send(error):
    async def send(self, *args, **kwargs):
        raise ProducerSendError(f"Error while sending: {error!r}") from error
    return send


def test_a_record_over_the_producer_limit_is_refused_and_its_future_fails(monkeypatch):
    monkeypatch.setattr(faust_aiokafka.Producer, "send", _failing_send(MessageSizeTooLargeError("too big")))
    refused = RefusedRecords()

    async def run():
        fut = await _producer(refused).send("app-turnover-changelog", b'"1:2026-03-01"', b"x" * 10, 2, None, None)
        with pytest.raises(ProducerSendError):
            await fut

    asyncio.run(run())
    assert refused.as_dict()["by_topic"] == {"app-turnover-changelog": 1}
    assert refused.last["partition"] == 2 and refused.last["key"] == '"1:2026-03-01"'
    assert "record limit" in refused.last["reason"]


def test_other_send_errors_are_not_taken_for_a_size_refusal(monkeypatch):
    monkeypatch.setattr(faust_aiokafka.Producer, "send", _failing_send(RequestTimedOutError()))
    refused = RefusedRecords()
    with pytest.raises(ProducerSendError):
        asyncio.run(_producer(refused).send("t", b"k", b"v", 0, None, None))
    assert refused.as_dict()["count"] == 0
