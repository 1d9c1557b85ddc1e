"""What one listener's Server-Sent Events stream carries, in order, each write within a deadline.

The view (views/live.py) gives `pump` a `write` that fails with WriteTimedOut when a client does not
take a write in time: a client that stops reading is cut instead of being written to forever, while
the shared feed goes on without it (its queue is bounded, views/alert_feed.py).
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Optional

import orjson

from .alert_feed import Item, Listener

__all__ = ["SSE_HEADERS", "WriteTimedOut", "write_within", "pump", "dropped_event", "end_event"]

#: The headers of the stream (and of a HEAD answer): no caching, no proxy buffering.
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Write = Callable[[bytes], Awaitable[None]]


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
    await _tell_dropped(listener, write)  # came back from further than the feed reads back
    for item in listener.backlog:
        await _send(listener, write, item)
    listener.backlog_sent()
    while True:
        try:
            item = await asyncio.wait_for(listener.queue.get(), timeout=heartbeat)
        except asyncio.TimeoutError:
            await write(b": heartbeat\n\n")  # keeps proxies from closing an idle stream; finds gone clients
            continue
        await _tell_dropped(listener, write)
        if item is None:
            if listener.ended is not None:
                await write(end_event(listener.ended))
            return
        await _send(listener, write, item)


async def _tell_dropped(listener: Listener, write: Write) -> None:
    dropped, since = listener.take_dropped()
    if dropped:
        await write(dropped_event(dropped, since))


async def _send(listener: Listener, write: Write, item: Item) -> None:
    taken = listener.take(item)
    if taken is not None:
        position, data = taken
        await write(b"id: " + position.encode() + b"\nevent: alert\ndata: " + data + b"\n\n")
