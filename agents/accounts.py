"""project_account_balances: the accounts change stream into the balance_by_account read model."""

from __future__ import annotations

from app import app
from cdc.changes import DecodeError, Tombstone
from cdc.decode import decode_change
from projections.accounts import account_key, account_view
from tables.balances import balance_by_account
from topics import ACCOUNT_CHANGES, faust_topic

from .dead_letters import dead_letter

__all__ = ["project_account_balances"]

account_changes = faust_topic(app, ACCOUNT_CHANGES)


@app.agent(account_changes)
async def project_account_balances(stream):
    """Input ledger.public.accounts, keyed by account id.

    Writes balance_by_account (a deleted account's row is removed). A record that cannot be
    decoded goes to ledger.public.accounts.dlq. Tombstones after deletes carry nothing new.
    """
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
        if row is not None:
            balance_by_account[key] = row
        elif key in balance_by_account:
            del balance_by_account[key]
