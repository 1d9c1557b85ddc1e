"""fold_transactions: the transactions change stream into turnover, rule state and alerts."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from app import app
from cdc.changes import Change, DecodeError
from detection.withdrawals import evaluate_withdrawal
from engine.batching import PartitionBatch
from projections.alerts import add_alert, alert_row
from projections.transactions import WITHDRAWAL, LedgerTransaction, transaction_from_change
from projections.turnover import count_turnover
from settings import load_settings
from tables.alerts import alerts_by_account
from tables.rule_state import history_from_rows, history_to_rows, withdrawal_history_by_account
from tables.turnover import turnover_by_account_day, turnover_days
from topics import TRANSACTION_CHANGES, faust_topic

from .decoding import decoded_changes
from .provenance import as_source_position, source_of
from .publishing import publish_alert

__all__ = ["fold_transactions"]

transaction_changes = faust_topic(app, TRANSACTION_CHANGES)


@app.batch_agent(transaction_changes)
async def fold_transactions(batch: PartitionBatch) -> None:
    """Input ledger.public.transactions, keyed by account id (in commit order per account).

    Writes turnover_days and turnover_by_account_day (one row per account and day) and, for
    withdrawals, withdrawal_history_by_account and alerts_by_account; sends each alert to
    alerts.withdrawals as it fires. Undecodable records go to ledger.public.transactions.dlq. A batch
    agent (engine/batching/): the rows it reads and writes are cached and reach the tables at the
    next flush.
    """
    settings = load_settings()
    rules = settings.rule_settings()
    retained = batch.rows(turnover_days)
    day_rows = batch.rows(turnover_by_account_day)
    retention_days = settings.turnover_retention_days
    histories = batch.rows(withdrawal_history_by_account)
    alert_rows = batch.rows(alerts_by_account)
    async for change, txn in decoded_changes(batch, _transaction, agent="fold_transactions"):
        account = txn.account_id
        count_turnover(retained, day_rows, txn, retention_days=retention_days)
        if txn.kind != WITHDRAWAL or txn.amount < rules.large:
            continue
        history = history_from_rows(account, histories.get(account), length=rules.length)
        record = batch.current_record
        withdrawal = dataclasses.replace(txn.as_withdrawal(),
                                         source=source_of(record, batch.tp.topic, change, txn.txn_id))
        new_history, alerts = evaluate_withdrawal(history, withdrawal, rules, datetime.now(timezone.utc))
        if new_history != history:
            histories[account] = history_to_rows(new_history)
        if alerts:
            # The members' positions: kept in the history with each withdrawal (a redelivered one keeps its first).
            positions = {w.txn_id: w.source for w in (withdrawal, *history) if w.source is not None}
            rows = alert_rows.get(account)
            for alert in alerts:
                sources = [as_source_position(positions[t]) for t in alert.txn_ids if t in positions]
                rows = add_alert(rows, alert_row(alert, sources=sources), keep=settings.alerts_kept_per_account)
                await publish_alert(alert, change, sources=sources, cause_record=record)
            alert_rows[account] = rows


def _transaction(change: Change) -> LedgerTransaction:
    txn = transaction_from_change(change)
    if change.key != txn.account_id:
        # State lives in the key's partition; a record keyed otherwise would split it.
        raise DecodeError(f"record key {change.key!r} is not the transaction's account {txn.account_id}")
    return txn
