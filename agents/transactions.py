"""fold_transactions: the transactions change stream into turnover, rule state and alerts."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from app import app
from detection.rulebook import RuleBook, limited, windows_tag
from detection.sequences import Txn
from detection.withdrawals import evaluate_withdrawal
from engine.batching import PartitionBatch
from projections.alerts import add_alert, alert_row
from projections.transactions import WITHDRAWAL, keyed_transaction
from projections.turnover import count_turnover
from settings import load_settings
from tables.alerts import alerts_by_account
from tables.rule_state import history_from_rows, history_to_rows, withdrawal_history_by_account
from tables.sequence_state import SequenceRows, sequence_state_by_account
from tables.shadow_state import shadow_rule_state_by_account
from tables.turnover import turnover_by_account_day, turnover_days
from topics import TRANSACTION_CHANGES, faust_topic

from .decoding import decoded_changes
from .provenance import as_source_position, source_of
from .publishing import publish_alert
from .rule_book import current_rule_book, current_shadow_rules
from .shadow_rules import run_shadow_rules

__all__ = ["fold_transactions"]

transaction_changes = faust_topic(app, TRANSACTION_CHANGES)


@app.batch_agent(transaction_changes)
async def fold_transactions(batch: PartitionBatch) -> None:
    """Input ledger.public.transactions, keyed by account id (in commit order per account).

    Writes turnover_days and turnover_by_account_day (one row per account and day);
    withdrawal_history_by_account (the time and count window rules), sequence_state_by_account (the
    followed-by and absence rules, the output rate limits) and alerts_by_account, as the rule catalogue
    declares (detection/catalog.yaml); sends each alert to alerts.withdrawals as it fires. Shadow rules, when
    the catalogue has any, run beside them with shadow_rule_state_by_account and send to alerts.shadow only. Undecodable
    records go to ledger.public.transactions.dlq. A batch agent (engine/batching/): the rows it reads
    and writes are cached and reach the tables at the next flush.
    """
    book = current_rule_book()
    versions = {rule.rule: book.version(rule.rule) for rule in book.sequences}
    # Parsed once per account and batch, written back once when the batch is done (see SequenceRows).
    sequences = SequenceRows(batch.rows(sequence_state_by_account), book.sequences, versions)
    try:
        await _fold(batch, book, sequences)
    finally:
        sequences.write_back()


async def _fold(batch: PartitionBatch, book: RuleBook, sequences: SequenceRows) -> None:
    settings = load_settings()
    retained = batch.rows(turnover_days)
    day_rows = batch.rows(turnover_by_account_day)
    histories = batch.rows(withdrawal_history_by_account)
    alert_rows = batch.rows(alerts_by_account)
    shadow = current_shadow_rules()
    shadow_rows = batch.rows(shadow_rule_state_by_account) if shadow is not None else None
    rules = book.windows
    tag, untagged = windows_tag(book), windows_tag(book, first=True)
    retention_days = settings.turnover_retention_days
    async for change, txn in decoded_changes(batch, keyed_transaction, agent="fold_transactions"):
        account = txn.account_id
        count_turnover(retained, day_rows, txn, retention_days=retention_days)
        record = batch.current_record
        source = source_of(record, batch.tp.topic, change, txn.txn_id)
        alerts = []
        positions = {txn.txn_id: source}
        if rules is not None and txn.kind == WITHDRAWAL and txn.amount >= rules.large:
            rows = histories.get(account)
            # A history built by other versions of the window rules starts fresh (untagged: their first versions).
            fresh = isinstance(rows, dict) and rows.get("rules", untagged) != tag
            history = history_from_rows(account, None if fresh else rows, length=rules.length)
            withdrawal = dataclasses.replace(txn.as_withdrawal(), source=source)
            new_history, found = evaluate_withdrawal(history, withdrawal, rules, datetime.now(timezone.utc))
            if new_history != history or fresh:
                histories[account] = {**history_to_rows(new_history), **({"rules": tag} if tag else {})}
            # The members' positions: kept in the history with each withdrawal (a redelivered one keeps its first).
            positions.update({w.txn_id: w.source for w in history if w.source is not None})
            alerts.extend(found)
        if book.sequences:
            positions.update(sequences.open_sources(account))
            event = Txn(txn.txn_id, account, txn.kind, txn.amount, txn.created_at, source=source)
            alerts.extend(sequences.step(event, datetime.now(timezone.utc)))
        if alerts:
            limits, alerts = limited(sequences.limits(account), alerts, book)
            sequences.set_limits(account, limits)
        if alerts:
            rows = alert_rows.get(account)
            for alert in map(book.stamped, alerts):
                sources = [as_source_position(positions[t]) for t in alert.txn_ids if t in positions]
                rows = add_alert(rows, alert_row(alert, sources=sources), keep=settings.alerts_kept_per_account)
                await publish_alert(alert, change, sources=sources, cause_record=record)
            alert_rows[account] = rows
        if shadow is not None:
            await run_shadow_rules(shadow, shadow_rows, txn, change, record, source)
