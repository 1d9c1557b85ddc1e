"""GET /live/alerts: new alerts as Server-Sent Events (`event: alert`, JSON data), resumable.

Each alert's `id:` is the feed's position after it (views/feed_position.py); a client that sends
the last one it saw as `Last-Event-ID` gets exactly the alerts after it, none twice. The
`X-Feed-Position` response header is the position the stream starts at, for a client to resume
from before any alert arrived. `event: dropped` (data `{"dropped": n}`) says n alerts were lost
because the client read too slowly or came back from too far behind.
"""

from __future__ import annotations

import asyncio
from typing import Optional

import orjson
from aiohttp import web as aiohttp_web
from faust.web import Request, View
from faust.web.exceptions import ServiceUnavailable

from app import app
from settings import load_settings

from .alert_feed import AlertFeed, FeedUnavailable, Listener
from .feed_position import format_position, parse_position
from .params import BadParameter

__all__ = ["live_alerts", "POSITION_HEADER"]

#: Keeps proxies from closing an idle stream, and finds clients that went away.
HEARTBEAT_SECONDS = 15.0
#: The position the stream starts at (a browser's fetch reads it; an EventSource need not).
POSITION_HEADER = "X-Feed-Position"
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
    resume_from = None
    last_id = request.headers.get("Last-Event-ID")
    if last_id:
        try:
            resume_from = parse_position(last_id)
        except ValueError as exc:
            raise BadParameter(str(exc), parameter="Last-Event-ID") from None
    if not app.broker_probe.reachable:
        raise ServiceUnavailable("broker unreachable; retry shortly")
    try:
        async with _alert_feed().listen(resume_from) as listener:
            return await _stream(request, listener)
    except FeedUnavailable as exc:  # raised before the stream began: still time for a JSON error
        raise ServiceUnavailable(str(exc)) from None


async def _stream(request: Request, listener: Listener) -> aiohttp_web.StreamResponse:
    response = aiohttp_web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
        POSITION_HEADER: format_position(listener.position)})
    await response.prepare(request)
    await response.write(b": live\n\n")  # the feed is positioned: alerts from now on arrive
    dropped = listener.take_dropped()
    if dropped:  # came back from further than the feed reads back
        await response.write(_dropped_event(dropped))
    for item in listener.backlog:
        await _send(response, listener, item)
    listener.backlog_sent()
    while True:
        try:
            item = await asyncio.wait_for(listener.queue.get(), timeout=HEARTBEAT_SECONDS)
        except asyncio.TimeoutError:
            await response.write(b": heartbeat\n\n")
            continue
        dropped = listener.take_dropped()
        if dropped:
            await response.write(_dropped_event(dropped))
        if item is None:
            break
        await _send(response, listener, item)
    return response


async def _send(response: aiohttp_web.StreamResponse, listener: Listener, item) -> None:
    taken = listener.take(item)
    if taken is not None:
        position, data = taken
        await response.write(b"id: " + position.encode() + b"\nevent: alert\ndata: " + data + b"\n\n")


def _dropped_event(count: int) -> bytes:
    return b"event: dropped\ndata: " + orjson.dumps({"dropped": count}) + b"\n\n"
