"""GET /health: whether this worker is ready to answer, and if not, why."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from engine.telemetry.readiness import not_ready_reasons
from outbox.registry import registry

from .live import feed_state

__all__ = ["get_health"]


@app.page("/health")
async def get_health(view: View, request: Request) -> Response:
    # The same verdict as /readyz (views/probes.py), with the batch agents' progress.
    reasons = not_ready_reasons(app)
    probe = app.broker_probe
    body = {"status": "not-ready" if reasons else "ready", "reasons": reasons,
            "unhandled_domain_events": dict(registry.unhandled),
            # Records each batch agent has handled, and when the first and last were (epoch seconds).
            "batch_agents": app.batch_agents.progress(),
            # Rows and events not written because they were over their size limit (engine/limits.py).
            "refused_records": app.batch_agents.refused.as_dict(),
            # The live alert feed: a failed consumer ended every stream (ready or not: the next listener restarts it).
            "live_feed": feed_state()}
    if probe.unreachable:
        body["broker"] = probe.unreachable
    return view.json(body, status=503 if reasons else 200)

