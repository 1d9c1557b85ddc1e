"""What one listener's Server-Sent Events stream carries, in order, each write within a deadline.

The view (views/live.py) gives `pump` a `write` that fails with WriteTimedOut when a client does not
take a write in time: a client that stops reading is cut instead of being written to forever, while
the shared feed goes on without it (its queue is bounded, views/alert_feed.py).
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Iterable, Iterator, Optional

import orjson

from .alert_feed import Item, Listener

__all__ = ["SSE_HEADERS", "WriteTimedOut", "write_within", "pump", "dropped_event", "end_event"]

#: The headers of the stream (and of a HEAD answer): no caching, no proxy buffering.
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Write = Callable[[bytes], Awaitable[None]]
#: The most queued alerts one write carries.
WRITE_BATCH = 256


class WriteTimedOut(Exception):
    """A client did not take a write within the write timeout."""


async def write_within(write: Write, data: bytes, timeout: float) -> None:
    """`write(data)`, or WriteTimedOut after `timeout` seconds (a full socket: the client stopped reading)."""
    try:
        await asyncio.wait_for(write(data), timeout)
    except asyncio.TimeoutError:
        raise WriteTimedOut(f"the client took no write for {timeout:g} s") from None


def dropped_event(count: int, since: Optional[str]) -> bytes:
    """`dropped`: `count` alerts after position `since` (the client's last id then) will not come."""
    return b"event: dropped\ndata: " + orjson.dumps({"dropped": count, "since": since}) + b"\n\n"


def end_event(reason: str) -> bytes:
    """`end`: the stream ends on the worker's side; reconnect with the last id to resume."""
    return b"event: end\ndata: " + orjson.dumps({"reason": reason}) + b"\n\n"


async def pump(listener: Listener, write: Write, *, heartbeat: float) -> None:
    """Write the listener's stream until it ends (the feed failed, the worker stops) or `write` fails."""
    await write(b": live\n\n")  # the feed is positioned: alerts from now on arrive
    chunk = _dropped(listener) + b"".join(_events(listener, listener.backlog))  # what it missed while away
    listener.backlog_sent()
    if chunk:
        await write(chunk)
    while True:
        try:
            first = await asyncio.wait_for(listener.queue.get(), timeout=heartbeat)
        except asyncio.TimeoutError:
            await write(b": heartbeat\n\n")  # keeps proxies from closing an idle stream; finds gone clients
            continue
        # Whatever else is queued goes in the same write: a burst costs one write, not one per alert.
        items = [first]
        while items[-1] is not None and len(items) < WRITE_BATCH and not listener.queue.empty():
            items.append(listener.queue.get_nowait())
        ended = items[-1] is None
        chunk = _dropped(listener) + b"".join(_events(listener, [item for item in items if item is not None]))
        if ended and listener.ended is not None:
            chunk += end_event(listener.ended)
        if chunk:
            await write(chunk)
        if ended:
            return


def _dropped(listener: Listener) -> bytes:
    dropped, since = listener.take_dropped()
    return dropped_event(dropped, since) if dropped else b""


def _events(listener: Listener, items: Iterable[Item]) -> Iterator[bytes]:
    for item in items:
        taken = listener.take(item)
        if taken is not None:
            position, data = taken
            yield b"id: " + position.encode() + b"\nevent: alert\ndata: " + data + b"\n\n"
