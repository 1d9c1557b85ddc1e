"""Faust's aiokafka transport, with batch agents (batching/) and the corrections the local broker needs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import List, Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from engine.batching.consumer import BatchingConsumerMixin
from engine.faust_internals import producer_buffer_idle, set_fetch_max_wait
from engine.limits import Refusal

from .end_offsets import EndOffsetsUnknown, true_end_offsets

__all__ = ["Transport", "ProducerStalled", "drain_producer_buffer"]

log = logging.getLogger(__name__)

#: Probes of the true end offsets before a recovery gives up (and the worker stops, to be restarted).
HIGHWATER_PROBES = 3
#: Seconds Faust's producer buffer may hand no record to the client before a flush gives up (and with it the
#: commit it precedes: the worker stops, to be restarted, rather than commit past unsent changelog records).
BUFFER_STALL_S = 120.0


class ProducerStalled(RuntimeError):
    """Faust's producer buffer handed no record to the client for BUFFER_STALL_S seconds."""


async def drain_producer_buffer(buffer, *, stall_s: float = BUFFER_STALL_S) -> None:
    """Wait until Faust's producer buffer has handed every record to the client (aiokafka's producer).

    Faust's own `ProducerBuffer.flush` returns as soon as no record leaves the buffer for 0.1 s, with
    records still in it. A commit flushes the producer first, so on a busy machine offsets could be
    committed while the changelog records of the rows they cover were still in the buffer; a worker
    killed then left its successor rows older than the committed offsets, and the difference was never
    counted (turnover days short after kills, in the crash and failover tests).
    """
    last_size, since = None, time.monotonic()
    while not producer_buffer_idle(buffer):
        size = buffer.size
        if size != last_size:
            last_size, since = size, time.monotonic()
        elif time.monotonic() - since > stall_s:
            raise ProducerStalled(f"the producer buffer sent nothing for {stall_s:.0f} s with {size} record(s) in it")
        if size:
            await buffer.flush()  # back after one record is handed over, or after 0.1 s without one
        else:
            await asyncio.sleep(0.001)  # the last record is being handed over


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = self.app.fetch_max_wait_ms
        if wait_ms is not None:
            # Faust fixes fetch_max_wait_ms at 1500 with no setting for it. Apache Kafka answers a
            # fetch as soon as data arrives; the local broker holds it for the whole wait, which
            # made every alert about 1.2 s late. The consumer reads this when it starts.
            set_fetch_max_wait(consumer, wait_ms)
        return consumer

    async def _highwaters(self, partitions: List[TP]) -> Mapping[TP, int]:
        listed = await super()._highwaters(partitions)
        if self.consumer.in_transaction or not self.app.end_offsets_probe:
            return listed
        transport = self.transport
        servers = faust_aiokafka.server_list(transport.url, transport.default_port)
        for attempt in range(1, HIGHWATER_PROBES):
            try:
                return await true_end_offsets(servers, listed)
            except EndOffsetsUnknown as exc:
                log.warning("Recovery: %s; probing again (%d of %d)", exc, attempt + 1, HIGHWATER_PROBES)
        # The last try's failure stops the recovery: recovering up to the undercount would lose records silently.
        return await true_end_offsets(servers, listed)


class _Consumer(BatchingConsumerMixin, faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Producer(faust_aiokafka.Producer):
    async def flush(self) -> None:
        """As Faust's, but the buffer is drained completely first (drain_producer_buffer says why); then the
        state guard learns that every table write made before it is on the changelogs (engine/state_guard.py)."""
        guard = getattr(self.app, "state_guard", None)
        writes = guard.writes if guard is not None else 0
        if not self.app.conf.producer_threaded:
            await drain_producer_buffer(self.buffer)
        await super().flush()
        if guard is not None:
            guard.delivered(writes)

    async def send(self, topic, key, value, partition, timestamp, headers, *, transactional_id=None):
        """As Faust's, but a record over the producer's size limit fails alone instead of crashing the worker.

        Faust's producer buffer (table changelogs) lets the error out of its task, which stops the
        worker, and a restarted worker replays into the same crash: one key would stop them all.
        Here the record is refused (log, count on /health, dead letter) and its future fails.
        """
        try:
            return await super().send(topic, key, value, partition, timestamp, headers,
                                      transactional_id=transactional_id)
        except ProducerSendError as exc:
            if not isinstance(exc.__cause__, MessageSizeTooLargeError):
                raise
            refused = getattr(getattr(self.app, "batch_agents", None), "refused", None)
            if refused is not None:
                refused.refuse(Refusal(topic, partition, key, len(key or b"") + len(value or b""),
                                       f"over the producer's record limit ({exc.__cause__}); not sent"))
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer
