"""GET /livez (the process and its event loop answer) and GET /readyz (ready to serve, or why not).

A liveness probe restarts what fails it: /livez fails only when nothing answers, never while the
worker waits for its broker or recovers its tables (which can take long, and a restart would only
start it over). A readiness probe takes a worker out of service: /readyz is 503 with reasons until
partitions are assigned, tables are recovered and the broker answers. Both are open (no token).
"""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from engine.telemetry.readiness import not_ready_reasons

__all__ = ["get_livez", "get_readyz"]


@app.page("/livez")
async def get_livez(view: View, request: Request) -> Response:
    # Answering at all is the check: the event loop ran this handler.
    return view.json({"status": "alive"})


@app.page("/readyz")
async def get_readyz(view: View, request: Request) -> Response:
    reasons = not_ready_reasons(app)
    body = {"status": "not-ready" if reasons else "ready", "reasons": reasons}
    if app.broker_probe.unreachable:
        body["broker"] = app.broker_probe.unreachable
    return view.json(body, status=503 if reasons else 200)
