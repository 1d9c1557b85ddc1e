"""GET /health: whether this worker is ready to answer, and if not, why."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app

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
    return view.json({"status": "not-ready" if reasons else "ready", "reasons": reasons},
                     status=503 if reasons else 200)
