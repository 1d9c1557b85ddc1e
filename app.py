"""The ledgerstream Faust app: built from settings; agents, tables and views are autodiscovered.

Importing this module builds the App object and nothing else: no network, no logging setup.
Run a worker with `faust -A app worker` (see the Makefile).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import faust
from mode.utils.objects import cached_property

from engine.batching import BatchAgents
from settings import Settings, SettingsError, load_settings
from engine.startup import BrokerProbe, LedgerBootStrategy

__all__ = ["LedgerApp", "create_app", "app"]


class LedgerApp(faust.App):
    """faust.App with batch agents (batching/), a Kafka transport that can correct end offsets
    (transport/end_offsets.py), and a worker that serves /health first and waits for the broker
    instead of crashing (startup.py)."""

    BootStrategy = LedgerBootStrategy

    def __init__(self, *args, end_offsets_probe: bool = False, fetch_max_wait_ms: Optional[int] = None,
                 web_token: str = "", state_flush_interval_s: float = 5.0, state_flush_records: int = 20000,
                 **kwargs) -> None:
        # Read by transport/kafka.py.
        self.end_offsets_probe = end_offsets_probe
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._web_token = web_token
        self.batch_agents = BatchAgents(self, flush_interval_s=state_flush_interval_s,
                                        flush_records=state_flush_records)
        super().__init__(*args, **kwargs)

    def batch_agent(self, topic):
        """Decorator: `async def handler(batch: PartitionBatch)` takes `topic` a partition's batch at a time."""
        def register(handler):
            self.batch_agents.register(topic, handler)
            return handler
        return register

    async def on_start(self) -> None:
        await super().on_start()
        self.batch_agents.subscribe()

    def on_webserver_init(self, web) -> None:
        if self._web_token:
            from views.auth import require_bearer_token

            require_bearer_token(web, self._web_token)

    def _new_transport(self):
        from engine.transport.kafka import Transport

        return Transport(self.conf.broker_consumer, self)

    @cached_property
    def broker_probe(self) -> BrokerProbe:
        bootstrap = ",".join(f"{url.host}:{url.port or 9092}" for url in self.conf.broker)
        return BrokerProbe(bootstrap, loop=self.loop, beacon=self.beacon)


def create_app(settings: Settings) -> faust.App:
    timeouts = {
        name: value
        for name, value in (
            ("broker_rebalance_timeout", settings.broker_rebalance_timeout),
            ("broker_session_timeout", settings.broker_session_timeout),
            ("broker_heartbeat_interval", settings.broker_heartbeat_interval),
        )
        if value is not None
    }
    return LedgerApp(
        settings.app_id,
        end_offsets_probe=settings.broker_end_offsets_probe,
        fetch_max_wait_ms=settings.broker_fetch_max_wait_ms,
        # Batch a few milliseconds of changelog and event records per request: a quarter less CPU
        # per event and far less broker work (results/), for at most 10 ms more latency.
        producer_linger=settings.producer_linger_ms / 1000,
        web_token=settings.web_token,
        state_flush_interval_s=settings.state_flush_interval_ms / 1000,
        state_flush_records=settings.state_flush_records,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        # One folder per app id: state of another app (or an earlier id) is never read as ours.
        datadir=str(Path(settings.data_dir) / settings.app_id),
        autodiscover=["agents", "tables", "views"],
        origin="app",
        web_bind=settings.web_bind,
        web_port=settings.web_port,
        canonical_url=settings.canonical_url,
        web_in_thread=False,
        # The changelog of a table is its source of truth; compacted, it keeps the last value per key.
        table_standby_replicas=0,
        topic_replication_factor=1,
        producer_acks=-1,
        processing_guarantee=settings.checked_processing_guarantee(),
        **timeouts,
    )


def _app_or_exit() -> faust.App:
    """The app, or an exit with one sentence naming the bad setting: `faust -A app worker` imports
    this module, and a traceback would bury the sentence."""
    try:
        return create_app(load_settings())
    except SettingsError as exc:
        raise SystemExit(f"error: {exc}") from None


app = _app_or_exit()
