"""Handlers subscribe to domain events by type and version range; unhandled events are counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, List, Tuple

from .events import DomainEvent

__all__ = ["HandlerRegistry", "handles", "registry"]

Handler = Callable[[DomainEvent], Awaitable[None]]


@dataclass
class HandlerRegistry:
    _handlers: Dict[str, List[Tuple[range, Handler]]] = field(default_factory=dict)
    #: "EventType v2" -> how many such events arrived with no handler (and were skipped).
    unhandled: Counter = field(default_factory=Counter)

    def handles(self, event_type: str, versions: range = range(1, 2)) -> Callable[[Handler], Handler]:
        """Decorator: call the handler for `event_type` events whose version is in `versions`."""
        if not isinstance(versions, range) or not versions:
            raise ValueError("versions must be a non-empty range, e.g. range(1, 3) for v1 and v2")

        def register(handler: Handler) -> Handler:
            self._handlers.setdefault(event_type, []).append((versions, handler))
            return handler

        return register

    def handlers_for(self, event: DomainEvent) -> List[Handler]:
        return [handler for versions, handler in self._handlers.get(event.event_type, ()) if event.version in versions]

    async def dispatch(self, event: DomainEvent) -> int:
        """Run every handler subscribed to the event; return how many ran (0: counted as unhandled)."""
        handlers = self.handlers_for(event)
        if not handlers:
            self.unhandled[f"{event.event_type} v{event.version}"] += 1
            return 0
        for handler in handlers:
            await handler(event)
        return len(handlers)


#: The app's registry; domain/handlers.py subscribes to it.
registry = HandlerRegistry()
handles = registry.handles
