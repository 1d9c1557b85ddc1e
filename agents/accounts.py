"""project_account_balances: the accounts change stream into balances, customer updates, BalanceLow."""

from __future__ import annotations

from decimal import Decimal

from app import app
from cdc.changes import DecodeError, Tombstone
from cdc.decode import decode_change
from projections.accounts import account_key, account_view, already_applied
from projections.customers import account_update
from settings import load_settings
from tables.balances import balance_by_account
from topics import ACCOUNT_CHANGES, faust_topic

from .customers import customer_account_updates
from .dead_letters import dead_letter
from .publishing import publish_balance_low

__all__ = ["project_account_balances"]

account_changes = faust_topic(app, ACCOUNT_CHANGES)


@app.agent(account_changes)
async def project_account_balances(stream):
    """Input ledger.public.accounts, keyed by account id.

    Writes balance_by_account (a deleted account's row is removed); sends the account, re-keyed by
    customer, to <app>-customer-account-updates; sends BalanceLow to accounts.balance-low when a
    balance crosses below the threshold. Undecodable records go to ledger.public.accounts.dlq.
    """
    threshold = load_settings().balance_low_threshold
    async for event in stream.events():
        try:
            change = decode_change(event.key, event.value)
            if isinstance(change, Tombstone):
                continue
            key = account_key(change.key)
            row = account_view(change)
        except DecodeError as exc:
            await dead_letter(event, exc, agent="project_account_balances")
            continue
        previous = balance_by_account.get(key)
        if already_applied(change, previous):
            continue
        if row is not None:
            balance_by_account[key] = row
        elif key in balance_by_account:
            del balance_by_account[key]

        owners = {r["customer_id"] for r in (previous, row) if r is not None}
        if row is None and change.before and isinstance(change.before.get("customer_id"), int):
            owners.add(change.before["customer_id"])
        for customer_id in owners:
            current = row if row is not None and row["customer_id"] == customer_id else None
            await customer_account_updates.send(
                key=customer_id, value=account_update(current, account_id=key, customer_id=customer_id))

        if _crossed_below(previous, row, threshold):
            await publish_balance_low(row, threshold, change)


def _crossed_below(previous, row, threshold: Decimal) -> bool:
    if row is None or Decimal(row["balance"]) >= threshold:
        return False
    # A crossing needs a balance at or above the threshold before it: an account first seen
    # below it (a new account opened at zero) has not crossed anything.
    return previous is not None and Decimal(previous["balance"]) >= threshold
