"""handle_domain_events: outbox domain events dispatched to the handlers subscribed to them."""

from __future__ import annotations

import agents.outbox_handlers  # noqa: F401  (subscribes the app's handlers to the registry)
from app import app
from cdc.changes import DecodeError
from outbox.events import decode_domain_event
from outbox.registry import registry
from topics import ACCOUNT_EVENTS, CUSTOMER_EVENTS

from .dead_letters import dead_letter

__all__ = ["handle_domain_events"]

domain_events = app.topic(ACCOUNT_EVENTS.name, CUSTOMER_EVENTS.name, key_serializer="raw",
                          value_serializer="raw", allow_empty=True)


@app.agent(domain_events)
async def handle_domain_events(stream):
    """Input outbox.event.account and outbox.event.customer, keyed by the aggregate id.

    Each event goes to the handlers subscribed to its type and version (domain/handlers.py);
    an event no handler wants is counted (shown on /health) and skipped. Undecodable records,
    and events a handler rejects as malformed, go to <topic>.dlq.
    """
    async for event in stream.events():
        message = event.message
        try:
            domain_event = decode_domain_event(message.key, message.value, message.headers, message.timestamp)
            handled = await registry.dispatch(domain_event)
            app.metrics.domain_event(domain_event.event_type, domain_event.version, handled > 0)
        except DecodeError as exc:
            await dead_letter(event, exc, agent="handle_domain_events")
