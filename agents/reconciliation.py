"""Periodic reconciliation in the worker: the read models against the ledger, as metrics.

Off unless RECONCILE_INTERVAL_S and RECONCILE_DATABASE_URL are set; turn it on in one worker (each
run covers every key, through the views). A run is `python -m ops.reconcile`'s, on a thread (it
reads the ledger and the views with blocking clients); what it finds goes to the
`ledgerstream_reconcile_*` metrics and, per difference, to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time

from app import app
from ops.reconcile.gauges import ReconcileGauges
from ops.reconcile.reconciler import reconcile
from ops.reconcile.views import ViewsClient, ViewsError
from settings import load_settings

__all__ = ["reconcile_periodically"]

logger = logging.getLogger(__name__)
#: Differences logged per run, at most (the metrics count them all).
LOGGED_DIFFERENCES = 20


@app.task
async def reconcile_periodically() -> None:
    settings = load_settings()
    if not settings.reconcile_interval_s or not settings.reconcile_database_url:
        return
    gauges = ReconcileGauges(getattr(app.metrics, "registry", None))
    views = ViewsClient(settings.web_url, token=settings.web_token)
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.reconcile_interval_s)
        started = time.monotonic()
        try:
            report = await loop.run_in_executor(None, lambda: reconcile(
                settings.reconcile_database_url, views, retention_days=settings.turnover_retention_days))
        except ViewsError as exc:
            gauges.failed()
            logger.warning("Reconciliation failed: %s", exc)
            continue
        except Exception as exc:  # the ledger unreachable, a query failing: the next run tries again
            gauges.failed()
            # Only the class: a database error's text may quote the connection string.
            logger.warning("Reconciliation failed: %s; the next run is in %s s", type(exc).__name__,
                           settings.reconcile_interval_s)
            continue
        gauges.report(report, ended_at=time.time(), seconds=time.monotonic() - started)
        for difference in report.differences[:LOGGED_DIFFERENCES]:
            logger.error("Read model differs from the ledger: %s", difference)
        logger.info("Reconciled at %s: %s; %d difference(s), %d key(s) still changing", report.lsn,
                    report.checked, len(report.differences), len(report.unsettled))
