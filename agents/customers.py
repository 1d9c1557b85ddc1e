"""The customer overview: customer changes and account updates re-keyed by customer."""

from __future__ import annotations

from app import app
from cdc.changes import DecodeError, Tombstone
from cdc.decode import decode_change
from projections.customers import apply_account_update, apply_customer_change, customer_key
from tables.customers import customer_overview
from topics import CUSTOMER_ACCOUNT_UPDATES, CUSTOMER_CHANGES, faust_topic

from .dead_letters import dead_letter

__all__ = ["project_customers", "fold_account_updates_into_customers", "customer_account_updates"]

customer_changes = faust_topic(app, CUSTOMER_CHANGES)
customer_account_updates = faust_topic(app, CUSTOMER_ACCOUNT_UPDATES)


@app.agent(customer_changes)
async def project_customers(stream):
    """Input ledger.public.customers, keyed by customer id; writes customer_overview.

    Undecodable records go to ledger.public.customers.dlq.
    """
    async for event in stream.events():
        try:
            change = decode_change(event.key, event.value)
            if isinstance(change, Tombstone):
                continue
            key = customer_key(change.key)
            row = apply_customer_change(customer_overview.get(key), change)
        except DecodeError as exc:
            await dead_letter(event, exc, agent="project_customers")
            continue
        if row is not None:
            customer_overview[key] = row
        elif key in customer_overview:
            del customer_overview[key]


@app.agent(customer_account_updates)
async def fold_account_updates_into_customers(stream):
    """Input <app>-customer-account-updates (sent by project_account_balances), keyed by customer id.

    Writes the account's balance and status into customer_overview. Our own agents write this topic;
    an update they got wrong goes to <app>-customer-account-updates.dlq rather than stopping the agent.
    """
    async for event in stream.events():
        customer_id, update = event.key, event.value
        try:
            row = apply_account_update(customer_overview.get(customer_id), update)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            await dead_letter(event, DecodeError(f"malformed account update ({type(exc).__name__}: {exc})"),
                              agent="fold_account_updates_into_customers")
            continue
        customer_overview[customer_id] = row
