"""GET /health: whether this worker is ready to answer, and if not, why."""

from __future__ import annotations

from faust.exceptions import ConsumerNotStarted
from faust.web import Request, Response, View

from app import app
from outbox.registry import registry

__all__ = ["get_health"]


@app.page("/health")
async def get_health(view: View, request: Request) -> Response:
    reasons = []
    probe = app.broker_probe
    if not probe.reachable:
        reasons.append("broker unreachable")
    # The Kafka services start once the broker first answers: until then there is nothing to ask them.
    if probe.answered:
        if app.rebalancing:
            reasons.append("rebalancing")
        if not app.tables.recovery.completed.is_set():
            reasons.append("recovering tables from their changelogs")
        if not _assignment():
            reasons.append("no partitions assigned yet")
    body = {"status": "not-ready" if reasons else "ready", "reasons": reasons,
            "unhandled_domain_events": dict(registry.unhandled),
            # Records each batch agent has handled, and when the first and last were (epoch seconds).
            "batch_agents": app.batch_agents.progress(),
            # Rows and events not written because they were over their size limit (engine/limits.py).
            "refused_records": app.batch_agents.refused.as_dict()}
    if probe.unreachable:
        body["broker"] = probe.unreachable
    return view.json(body, status=503 if reasons else 200)


def _assignment():
    try:
        return app.consumer.assignment()
    except ConsumerNotStarted:  # starting right after the broker first answered
        return set()
