"""EngineApp: faust.App with the extensions of this package (batch agents, transport, start order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import faust
from faust.types import TopicT
from mode.utils.objects import cached_property

from engine.assignment import BalancedPartitionAssignor
from engine.batching import BatchAgents
from engine.batching.agents import BatchHandler
from engine.limits import ROW_LIMIT_BYTES
from engine.positions import SourcePositions
from engine.startup import BrokerProbe, LedgerBootStrategy
from engine.state_guard import StateGuard
from engine.telemetry.metrics import Metrics, NullMetrics

__all__ = ["EngineApp"]


class EngineApp(faust.App):
    """faust.App with batch agents (batching/), a Kafka transport that can correct end offsets
    (transport/end_offsets.py), and a worker that serves /health first and waits for the broker
    instead of crashing (startup.py)."""

    BootStrategy = LedgerBootStrategy

    def __init__(self, *args: Any, end_offsets_probe: bool = False, fetch_max_wait_ms: Optional[int] = None,
                 state_flush_interval_s: float = 5.0, state_flush_records: int = 20000,
                 state_row_limit_bytes: int = ROW_LIMIT_BYTES, metrics_enabled: bool = True,
                 log_level: str = "info", **kwargs: Any) -> None:
        # Read by transport/kafka.py.
        self.end_offsets_probe = end_offsets_probe
        self.fetch_max_wait_ms = fetch_max_wait_ms
        #: The level LOG_LEVEL asks for (engine/telemetry/worker.py).
        self.log_level = log_level
        #: Prometheus metrics (GET /metrics), or hooks that do nothing when METRICS_ENABLED is off.
        self.metrics: Metrics | NullMetrics = Metrics() if metrics_enabled else NullMetrics()
        self.metrics.watch(self)
        self.batch_agents = BatchAgents(self, flush_interval_s=state_flush_interval_s,
                                        flush_records=state_flush_records, row_limit=state_row_limit_bytes)
        # Every worker gets its share of partitions, with standby replicas too (engine/assignment.py).
        kwargs.setdefault("PartitionAssignor", BalancedPartitionAssignor)
        #: How far each source partition is reflected here (engine/positions.py, fed by agents/heartbeats.py).
        self.source_positions = SourcePositions()
        super().__init__(*args, **kwargs)

    def batch_agent(self, topic: TopicT) -> Callable[[BatchHandler], BatchHandler]:
        """Decorator: `async def handler(batch: PartitionBatch)` takes `topic` a partition's batch at a time."""
        def register(handler: BatchHandler) -> BatchHandler:
            self.batch_agents.register(topic, handler)
            return handler
        return register

    @cached_property
    def state_guard(self) -> StateGuard:
        """Whether the local tables may hold writes their changelogs lack (engine/state_guard.py)."""
        return StateGuard(Path(self.conf.datadir))

    async def on_first_start(self) -> None:
        # Before the tables open: local state a kill left ahead of its changelogs is not trusted.
        self.state_guard.discard_if_unclean(Path(self.conf.tabledir))
        await super().on_first_start()

    async def on_start(self) -> None:
        await super().on_start()
        self.batch_agents.subscribe()

    def _new_transport(self):
        from engine.transport.kafka import Transport

        return Transport(self.conf.broker_consumer, self)

    @cached_property
    def broker_probe(self) -> BrokerProbe:
        bootstrap = ",".join(f"{url.host}:{url.port or 9092}" for url in self.conf.broker)
        return BrokerProbe(bootstrap, loop=self.loop, beacon=self.beacon)
