"""GET /live/alerts: new alerts as Server-Sent Events (`event: alert`, JSON data, id = alert_id)."""

from __future__ import annotations

import asyncio
from typing import Optional

from aiohttp import web as aiohttp_web
from faust.web import Request, View
from faust.web.exceptions import ServiceUnavailable

from app import app
from settings import load_settings

from .alert_feed import AlertFeed, FeedUnavailable

__all__ = ["live_alerts"]

#: Keeps proxies from closing an idle stream, and finds clients that went away.
HEARTBEAT_SECONDS = 15.0
_feed: Optional[AlertFeed] = None


def _alert_feed() -> AlertFeed:
    global _feed
    if _feed is None:
        _feed = AlertFeed(load_settings().kafka_bootstrap, metrics=app.metrics)
    return _feed


@app.on_before_shutdown.connect
async def _end_live_streams(app, **kwargs) -> None:
    # An open stream would hold the web server's shutdown for a minute; end them first.
    if _feed is not None:
        _feed.close_all()


@app.page("/live/alerts")
async def live_alerts(view: View, request: Request):
    if not app.broker_probe.reachable:
        raise ServiceUnavailable("broker unreachable; retry shortly")
    try:
        async with _alert_feed().listen() as queue:
            return await _stream(request, queue)
    except FeedUnavailable as exc:  # raised before the stream began: still time for a JSON error
        raise ServiceUnavailable(str(exc)) from None


async def _stream(request: Request, queue) -> aiohttp_web.StreamResponse:
    response = aiohttp_web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    await response.write(b": live\n\n")  # the feed is positioned: alerts from now on arrive
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)
        except asyncio.TimeoutError:
            await response.write(b": heartbeat\n\n")
            continue
        if item is None:
            break
        alert_id, data = item
        await response.write(b"id: " + alert_id.encode() + b"\nevent: alert\ndata: " + data + b"\n\n")
    return response
