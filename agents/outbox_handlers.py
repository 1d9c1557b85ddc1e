"""The app's domain event handlers: each subscribes by event type and version range."""

from __future__ import annotations

from agents.customers import customer_account_updates
from app import app
from cdc.changes import DecodeError
from outbox.events import DomainEvent
from outbox.registry import handles
from projections.customers import activity_update
from tables.balances import balance_by_account

__all__ = ["note_account_activity", "note_customer_opened"]


@handles("AccountOpened")
@handles("AccountFrozen")
@handles("MoneyDeposited", versions=range(1, 3))
@handles("MoneyWithdrawn", versions=range(1, 3))
async def note_account_activity(event: DomainEvent) -> None:
    """An account event is activity of its customer: forward it to the customer's partition."""
    if event.occurred_at is None:
        return
    account_id = _int(event.aggregate_id, "aggregate id")
    customer_id = event.payload.get("customer_id")
    if customer_id is None:  # money events name the account only; its state knows the customer
        customer_id = (app.batch_agents.latest(balance_by_account, account_id) or {}).get("customer_id")
    if customer_id is None:
        return  # the account's own change, not yet seen, will set the activity from updated_at
    # The key as an int: a payload's "7" would otherwise land in another partition than 7.
    customer_id = _int(customer_id, "customer_id")
    await customer_account_updates.send(
        key=customer_id, value=activity_update(customer_id=customer_id, at=event.occurred_at.isoformat()))


@handles("CustomerOpened")
async def note_customer_opened(event: DomainEvent) -> None:
    """The customer's activity, folded into customer_summary by its batch agent (the table's only writer)."""
    if event.occurred_at is None:
        return
    customer_id = _int(event.aggregate_id, "aggregate id")
    await customer_account_updates.send(
        key=customer_id, value=activity_update(customer_id=customer_id, at=event.occurred_at.isoformat()))


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DecodeError(f"domain event {name} {value!r} is not an integer id") from None
