"""GET /status: this worker's pipeline state as JSON, for the console (views/console/) and scripts.

Every number comes from the worker's own metrics registry (engine/telemetry/snapshot.py) and
readiness check; Kafka Connect's connector states are asked for on each request, read-only.
"""

from __future__ import annotations

import time
from typing import Dict, List

from faust.web import Request, Response, View

from app import app
from engine.telemetry.readiness import not_ready_reasons
from engine.telemetry.snapshot import metrics_summary
from settings import load_settings
from tables.balances import balance_by_account

from .connect_status import connect_status
from .live import feed_state
from .params import reject_unknown

__all__ = ["get_status", "partition_owners"]


def partition_owners(app) -> Dict[str, List[int]]:
    """Which worker (canonical URL) holds which partitions of the read models, as the last rebalance said."""
    owners: Dict[str, List[int]] = {}
    try:
        metadata = app.router.table_metadata(balance_by_account.name)
    except Exception:
        return owners
    for url, topics in metadata.items():
        partitions = sorted({p for parts in topics.values() for p in parts})
        if partitions:
            owners[str(url)] = partitions
    return owners


@app.page("/status")
async def get_status(view: View, request: Request) -> Response:
    reject_unknown(request, set())
    reasons = not_ready_reasons(app)
    probe = app.broker_probe
    body = {
        "at": time.time(),
        "worker": str(app.conf.canonical_url),
        "app_id": app.conf.id,
        "ready": not reasons,
        "reasons": reasons,
        "broker": {"reachable": probe.reachable, "error": probe.unreachable or None},
        "owners": partition_owners(app) if probe.answered else {},
        "metrics_enabled": app.metrics.enabled,
        "latest_dead_letters": app.metrics.latest_dead_letters(),
        "live_feed": feed_state(),
        "connect": await connect_status(app.http_client, load_settings().connect_url),
    }
    if app.metrics.enabled:
        body.update(metrics_summary(app.metrics.registry.collect()))
    return view.json(body)
