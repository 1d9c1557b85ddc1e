"""GET /metrics: the worker's Prometheus metrics (text format), behind WEB_TOKEN when set."""

from __future__ import annotations

from aiohttp import web as aiohttp_web
from faust.web import Request, View
from prometheus_client import CONTENT_TYPE_LATEST

from app import app

__all__ = ["get_metrics"]


@app.page("/metrics")
async def get_metrics(view: View, request: Request):
    if not app.metrics.enabled:
        return view.error(404, "metrics are off on this worker; set METRICS_ENABLED=true to serve them")
    # A plain aiohttp response: its Content-Type carries the exposition format's version.
    return aiohttp_web.Response(body=app.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
