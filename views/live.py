"""GET /live/alerts: new alerts as Server-Sent Events (`event: alert`, JSON data), resumable.

Each alert's `id:` is the feed's position after it (views/feed_position.py); a client that sends
the last one it saw as `Last-Event-ID` gets exactly the alerts after it, none twice. The
`X-Feed-Position` response header is the position the stream starts at, for a client to resume
from before any alert arrived. `event: dropped` (data `{"dropped": n, "since": position}`) says n
alerts after that position were lost because the client read too slowly or came back from too far
behind. `event: end` (data `{"reason": ...}`) ends the stream from the worker's side (the feed's
consumer failed, the worker stops): reconnect with the last id. A client that takes no write for
LIVE_FEED_WRITE_TIMEOUT_SECONDS is disconnected. Beyond LIVE_FEED_MAX_LISTENERS clients, and while
the broker is unreachable, the answer is a JSON 503 with Retry-After. HEAD answers what GET would,
with the stream's headers and no body, and opens no stream.
"""

from __future__ import annotations

import functools
import logging
import socket
from typing import Optional

from aiohttp import web as aiohttp_web
from faust.web import Request, View

from app import app
from settings import load_settings

from .alert_feed import AlertFeed, FeedUnavailable, Listener, TooManyListeners
from .feed_position import Position, format_position, parse_position
from .live_stream import SSE_HEADERS, WriteTimedOut, pump, write_within
from .params import BadParameter

__all__ = ["LiveAlerts", "POSITION_HEADER", "RETRY_AFTER_SECONDS", "feed_state"]

log = logging.getLogger(__name__)

#: Keeps proxies from closing an idle stream, and finds clients that went away.
HEARTBEAT_SECONDS = 15.0
#: The position the stream starts at (a browser's fetch reads it; an EventSource need not).
POSITION_HEADER = "X-Feed-Position"
#: What a 503 of the feed asks a client to wait before it tries again.
RETRY_AFTER_SECONDS = 5
#: The kernel's send buffer of a stream (it doubles it): fixed, so what a client that stopped reading
#: holds is bounded and a write to it blocks (and times out) soon, instead of after megabytes of
#: autotuned buffer. Far more than a live client needs between two reads.
SEND_BUFFER_BYTES = 64 * 1024
_feed: Optional[AlertFeed] = None


def _alert_feed() -> AlertFeed:
    global _feed
    if _feed is None:
        settings = load_settings()
        _feed = AlertFeed(settings.kafka_bootstrap, queue_size=settings.live_feed_queue_size,
                          max_listeners=settings.live_feed_max_listeners, metrics=app.metrics,
                          broker_down=lambda: app.broker_probe.unreachable)
    return _feed


def feed_state() -> dict:
    """The live feed's consumer, listeners and failures (for /health and /status)."""
    return _alert_feed().state()


@app.on_before_shutdown.connect
async def _end_live_streams(app, **kwargs) -> None:
    # An open stream would hold the web server's shutdown for a minute; end them first.
    if _feed is not None:
        _feed.close_all()


@app.page("/live/alerts")
class LiveAlerts(View):
    async def get(self, request: Request):
        resume_from = _resume_from(request)
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        try:
            async with _alert_feed().listen(resume_from) as listener:
                return await _stream(request, listener)
        except TooManyListeners as exc:  # raised before the stream began: still time for a JSON error
            app.metrics.live_listener_refused()
            return self._unavailable(str(exc))
        except FeedUnavailable as exc:
            return self._unavailable(str(exc))

    async def head(self, request: Request):
        # What a GET would answer now, without opening a stream (or holding a listener).
        _resume_from(request)
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        return aiohttp_web.Response(status=200, headers=SSE_HEADERS)

    def _refusal(self):
        """A 503 when a stream cannot start now (no broker, as many listeners as allowed), else None."""
        if not app.broker_probe.reachable:
            return self._unavailable("broker unreachable; retry shortly")
        feed = _alert_feed()
        if feed.listeners >= feed.max_listeners:
            app.metrics.live_listener_refused()
            return self._unavailable(f"the live feed has its most listeners ({feed.max_listeners}, "
                                     "LIVE_FEED_MAX_LISTENERS); retry later")
        return None

    def _unavailable(self, error: str):
        return self.json({"error": error}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _resume_from(request: Request) -> Optional[Position]:
    last_id = request.headers.get("Last-Event-ID")
    if not last_id:
        return None
    try:
        return parse_position(last_id)
    except ValueError as exc:
        raise BadParameter(str(exc), parameter="Last-Event-ID") from None


async def _stream(request: Request, listener: Listener) -> aiohttp_web.StreamResponse:
    timeout = load_settings().live_feed_write_timeout_seconds
    response = aiohttp_web.StreamResponse(
        headers={**SSE_HEADERS, POSITION_HEADER: format_position(listener.position)})
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    await response.prepare(request)
    try:
        await pump(listener, functools.partial(write_within, response.write, timeout=timeout),
                   heartbeat=HEARTBEAT_SECONDS)
    except ConnectionResetError:  # the client went away: its listener goes with this handler
        pass
    except WriteTimedOut as exc:
        # The client stopped reading: cut it (it resumes with its last id), so its socket and the
        # writes queued for it are let go instead of held for as long as it stays connected.
        app.metrics.live_listener_cut()
        log.warning("live feed: cut a client at %s: %s", request.remote, exc)
        if request.transport is not None:
            request.transport.abort()
    return response
