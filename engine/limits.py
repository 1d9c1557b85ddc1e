"""Record size limits: a row past its bound, or a record the broker would refuse, fails its key, not the worker."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional

__all__ = ["ROW_LIMIT_BYTES", "Refusal", "RefusedRecords"]

#: Every table row's bound: serialized key and value of its changelog record. Rows are designed to
#: stay far below it whatever a key's volume (tables/); one past it is refused at the flush.
ROW_LIMIT_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A record that was not written: where it was going, its key, its size and why."""

    topic: str
    partition: Optional[int]
    key: Optional[bytes]
    size: int
    reason: str


class RefusedRecords:
    """Counts and reports refused records: an error log line, a count on /health, a dead letter.

    The dead letter is sent by the handler given to `on_refused` (the app's dead-letter sender),
    in the background: refusals are noticed where nothing may be awaited (a flush, the producer).
    """

    def __init__(self) -> None:
        self.by_topic: Dict[str, int] = {}
        self.last: Optional[Dict[str, Any]] = None
        self._handler: Optional[Callable[[Refusal], Awaitable[None]]] = None
        self._tasks: set = set()

    def on_refused(self, handler: Callable[[Refusal], Awaitable[None]]) -> Callable[[Refusal], Awaitable[None]]:
        """Decorator: `handler(refusal)` dead-letters a refused record."""
        self._handler = handler
        return handler

    def refuse(self, refusal: Refusal) -> None:
        self.by_topic[refusal.topic] = self.by_topic.get(refusal.topic, 0) + 1
        self.last = {"topic": refusal.topic, "partition": refusal.partition,
                     "key": (refusal.key or b"")[:200].decode("utf-8", "replace"), "size": refusal.size,
                     "reason": refusal.reason, "at": time.time()}
        logger.error("Refused a record for %s [%s] key %r (%d bytes): %s", refusal.topic, refusal.partition,
                     (refusal.key or b"")[:200], refusal.size, refusal.reason)
        if self._handler is not None:
            task = asyncio.ensure_future(self._dead_letter(refusal))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dead_letter(self, refusal: Refusal) -> None:
        try:
            await self._handler(refusal)
        except Exception:  # the refusal is logged and counted already; a failed letter must not go unseen
            logger.exception("Could not dead-letter the refused record for %s", refusal.topic)

    def as_dict(self) -> Dict[str, Any]:
        return {"count": sum(self.by_topic.values()), "by_topic": dict(self.by_topic), "last": self.last}

    def pending(self) -> List[asyncio.Future]:
        return list(self._tasks)
