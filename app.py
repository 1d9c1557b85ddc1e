"""The ledgerstream Faust app: built from settings; agents, tables and views are autodiscovered.

Importing this module builds the App object and nothing else: no network, no logging setup.
Run a worker with `faust -A app worker` (see the Makefile).
"""

from __future__ import annotations

import faust

from settings import Settings, load_settings

__all__ = ["LedgerApp", "create_app", "app"]


class LedgerApp(faust.App):
    """faust.App whose Kafka transport can correct end offsets (see transport/end_offsets.py)."""

    def __init__(self, *args, end_offsets_probe: bool = False, **kwargs) -> None:
        self._end_offsets_probe = end_offsets_probe
        super().__init__(*args, **kwargs)

    def _new_transport(self):
        if not self._end_offsets_probe:
            return super()._new_transport()
        from transport.kafka import Transport

        return Transport(self.conf.broker_consumer, self)


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
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=settings.data_dir,
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
        **timeouts,
    )


app = create_app(load_settings())
