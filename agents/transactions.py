"""fold_transactions: the transactions change stream into turnover, rule state and alerts."""

from __future__ import annotations

from datetime import datetime, timezone

from app import app
from cdc.changes import DecodeError, Tombstone
from cdc.decode import decode_change
from projections.alerts import add_alert, alert_row
from projections.transactions import WITHDRAWAL, transaction_from_change
from projections.turnover import add_to_turnover
from rules.withdrawals import evaluate_withdrawal
from settings import load_settings
from tables.alerts import alerts_by_account
from tables.rule_state import history_from_rows, history_to_rows, withdrawal_history_by_account
from tables.turnover import turnover_by_account
from topics import TRANSACTION_CHANGES, faust_topic

from .dead_letters import dead_letter
from .publishing import publish_alert

__all__ = ["fold_transactions"]

transaction_changes = faust_topic(app, TRANSACTION_CHANGES)


@app.agent(transaction_changes)
async def fold_transactions(stream):
    """Input ledger.public.transactions, keyed by account id (in commit order per account).

    Writes turnover_by_account and, for withdrawals, withdrawal_history_by_account and
    alerts_by_account; sends each alert to alerts.withdrawals. Undecodable records go to
    ledger.public.transactions.dlq.
    """
    settings = load_settings()
    rules = settings.rule_settings()
    async for event in stream.events():
        try:
            change = decode_change(event.key, event.value)
            if isinstance(change, Tombstone):
                continue
            txn = transaction_from_change(change)
            if change.key != txn.account_id:
                # State lives in the key's partition; a record keyed otherwise would split it.
                raise DecodeError(f"record key {change.key!r} is not the transaction's account {txn.account_id}")
        except DecodeError as exc:
            await dead_letter(event, exc, agent="fold_transactions")
            continue
        account = txn.account_id
        turnover_by_account[account] = add_to_turnover(
            turnover_by_account.get(account), txn, retention_days=settings.turnover_retention_days)
        if txn.kind != WITHDRAWAL or txn.amount < rules.large:
            continue
        history = history_from_rows(account, withdrawal_history_by_account.get(account))
        new_history, alerts = evaluate_withdrawal(history, txn.as_withdrawal(), rules, datetime.now(timezone.utc))
        if new_history != history:
            withdrawal_history_by_account[account] = history_to_rows(new_history)
        if alerts:
            rows = alerts_by_account.get(account)
            for alert in alerts:
                rows = add_alert(rows, alert_row(alert), keep=settings.alerts_kept_per_account)
                await publish_alert(alert, change)
            alerts_by_account[account] = rows
