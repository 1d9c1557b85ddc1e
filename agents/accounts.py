"""project_account_balances: the accounts change stream into balances, customer updates, BalanceLow."""

from __future__ import annotations

import time
from decimal import Decimal

from app import app
from cdc.changes import Change
from engine.batching import PartitionBatch
from projections.accounts import account_key_and_view, already_applied
from projections.customers import account_update
from projections.history import record_change
from settings import load_settings
from tables.balances import balance_by_account
from tables.history import balance_history_by_account
from topics import ACCOUNT_CHANGES, faust_topic

from .customers import customer_account_updates
from .decoding import decoded_changes
from .provenance import as_source_position, source_of
from .publishing import publish_balance_low

__all__ = ["project_account_balances"]

account_changes = faust_topic(app, ACCOUNT_CHANGES)


@app.batch_agent(account_changes)
async def project_account_balances(batch: PartitionBatch) -> None:
    """Input ledger.public.accounts, keyed by account id.

    Writes balance_by_account (a deleted account's row is removed) and the account's recent history
    (balance_history_by_account, for as-of reads); sends the account, re-keyed by
    customer, to <app>-customer-account-updates; sends BalanceLow to accounts.balance-low when a
    balance crosses below the threshold. Undecodable records go to ledger.public.accounts.dlq.
    A batch agent (batching/): its rows reach the table at the next flush.
    """
    settings = load_settings()
    threshold = settings.balance_low_threshold
    retention_us = settings.balance_history_retention_hours * 3600 * 1_000_000
    balances = batch.rows(balance_by_account)
    histories = batch.rows(balance_history_by_account)
    async for change, (key, row) in decoded_changes(batch, _key_and_row, agent="project_account_balances"):
        previous = balances.get(key)
        if already_applied(change, previous):
            continue
        if row is not None:
            balances[key] = row
        elif previous is not None:
            del balances[key]
        history = record_change(histories.get(key), change, _history_row(row), now_us=time.time_ns() // 1000,
                                retention_us=retention_us, max_entries=settings.balance_history_max_entries)
        if history is not None:
            histories[key] = history

        owners = {r["customer_id"] for r in (previous, row) if r is not None}
        if row is None and change.before and isinstance(change.before.get("customer_id"), int):
            owners.add(change.before["customer_id"])
        for customer_id in owners:
            current = row if row is not None and row["customer_id"] == customer_id else None
            await customer_account_updates.send(
                key=customer_id, value=account_update(current, account_id=key, customer_id=customer_id))

        if _crossed_below(previous, row, threshold):
            record = batch.current_record
            await publish_balance_low(row, threshold, change, cause_record=record,
                                      source=as_source_position(source_of(record, batch.tp.topic, change)))


def _key_and_row(change: Change):
    return account_key_and_view(change)


def _history_row(row):
    # The row as served: the source fields only tell redeliveries apart, and each entry has its own position.
    return None if row is None else {k: v for k, v in row.items() if k not in ("source_lsn", "source_position")}


def _crossed_below(previous, row, threshold: Decimal) -> bool:
    if row is None or Decimal(row["balance"]) >= threshold:
        return False
    # A crossing needs a balance at or above the threshold before it: an account first seen
    # below it (a new account opened at zero) has not crossed anything.
    return previous is not None and Decimal(previous["balance"]) >= threshold
