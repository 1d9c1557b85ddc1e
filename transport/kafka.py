"""Faust's aiokafka transport, with end offsets corrected for the local broker when asked to."""

from __future__ import annotations

from typing import List, Mapping

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from .end_offsets import true_end_offsets

__all__ = ["Transport"]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def _highwaters(self, partitions: List[TP]) -> Mapping[TP, int]:
        listed = await super()._highwaters(partitions)
        if self.consumer.in_transaction:
            return listed
        transport = self.transport
        servers = faust_aiokafka.server_list(transport.url, transport.default_port)
        return await true_end_offsets(servers, listed)


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
