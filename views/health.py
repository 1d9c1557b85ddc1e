"""GET /health: whether this worker is ready to answer, and if not, why."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from domain.registry import registry

__all__ = ["get_health"]


@app.page("/health")
async def get_health(view: View, request: Request) -> Response:
    reasons = []
    if app.rebalancing:
        reasons.append("rebalancing")
    if not app.tables.recovery.completed.is_set():
        reasons.append("recovering tables from their changelogs")
    if not app.consumer.assignment():
        reasons.append("no partitions assigned yet")
    return view.json({"status": "not-ready" if reasons else "ready", "reasons": reasons,
                      "unhandled_domain_events": dict(registry.unhandled)},
                     status=503 if reasons else 200)
