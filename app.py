"""The ledgerstream Faust app: built from settings; agents, tables and views are autodiscovered.

Importing this module builds the App object and nothing else: no network, no logging setup.
Run a worker with `faust -A app worker` (see the Makefile).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import faust

from engine.app import EngineApp
from engine.telemetry.logs import logging_config
from engine.telemetry.worker import LedgerWorker
from settings import Settings, SettingsError, load_settings
from views.routing import ForwardPolicy

__all__ = ["LedgerApp", "create_app", "app"]


class LedgerApp(EngineApp):
    """The engine's app (engine/app.py: batch agents, transport, start order) with the web views' token,
    the signature and bounds of forwards to a key's owner, and JSON for every error answer."""

    def __init__(self, *args, web_token: str = "", web_access_log: bool = False,
                 forwarding: Optional[ForwardPolicy] = None, **kwargs) -> None:
        self._web_token = web_token
        self._web_access_log = web_access_log
        #: Read by views/routing.py: the peer secret and the bounds of forwards.
        self.forwarding = forwarding or ForwardPolicy(secret=Settings().peer_secret)
        super().__init__(*args, **kwargs)

    async def on_first_start(self) -> None:
        """The worker starts: read and check the rule catalogue first, and stop with its one sentence if it is bad."""
        from agents.rule_book import start_rules
        from detection.catalog import CatalogError

        try:
            start_rules(load_settings(), str(self.conf.datadir))
        except CatalogError as exc:
            self.log.critical("%s", exc)
            raise SystemExit(f"error: {exc}") from None
        await super().on_first_start()

    def on_webserver_init(self, web) -> None:
        from engine.faust_internals import set_web_runner
        from engine.telemetry.web import install_request_metrics
        from engine.web_errors import JsonErrorsAppRunner, json_errors_middleware

        set_web_runner(web, JsonErrorsAppRunner(web.web_app, access_log=None))
        # Outermost: requests refused by the token check are counted (and access-logged) too.
        install_request_metrics(web, self.metrics, access_log=self._web_access_log)
        web.web_app.middlewares.append(json_errors_middleware)
        if self._web_token:
            from views.auth import require_bearer_token

            require_bearer_token(web, self._web_token, self.forwarding.secret)


def create_app(settings: Settings) -> faust.App:
    settings.checked_web_exposure()
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
        forwarding=ForwardPolicy(secret=settings.peer_secret, timeout_s=settings.web_forward_timeout_ms / 1000,
                                 concurrency=settings.web_forward_concurrency),
        state_flush_interval_s=settings.state_flush_interval_ms / 1000,
        state_flush_records=settings.state_flush_records,
        state_row_limit_bytes=settings.state_row_limit_bytes,
        metrics_enabled=settings.metrics_enabled,
        web_access_log=settings.web_access_log,
        log_level=settings.log_level,
        Worker=LedgerWorker,
        logging_config=logging_config(settings.log_level, settings.log_format),
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
        # Faust's own pages: /table serves table contents, /router and /stats the cluster's layout.
        web_router_enabled=settings.web_faust_pages,
        web_tables_enabled=settings.web_faust_pages,
        web_graph_enabled=settings.web_faust_pages,
        web_stats_enabled=settings.web_faust_pages,
        web_metrics_enabled=settings.web_faust_pages,
        # The changelog of a table is its source of truth; compacted, it keeps the last value per key.
        table_standby_replicas=settings.table_standby_replicas,
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
