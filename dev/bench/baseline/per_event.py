"""Baseline: ledgerstream's agents as they were before batch agents, one Faust event at a time.

    faust -A bench.baseline.per_event worker      (what the benchmark runs as "before")

The same tables, topics, pure functions and alert encoding as the product, and the product's app
class and transport; the agents are Faust agents over `stream.events()` that read and write each
key's rows once per event (a RocksDB put and a changelog record per write), as agents/ did until
engine/batching/ replaced them: fold_transactions, and for the accounts load project_account_balances
and fold_account_updates_into_customers (without BalanceLow, dead letters, the customers topic and
domain events, which the benchmark's events do not exercise). Kept so that every benchmark run
measures before and after side by side.
"""

from __future__ import annotations

from datetime import datetime, timezone

from app import create_app
from cdc.changes import DecodeError, Tombstone
from cdc.decode import decode_change
from detection.withdrawals import evaluate_withdrawal
from dev.bench.peers.job import _history_from_rows, _history_to_rows, encode_alert
from projections.accounts import account_key, account_view, already_applied
from projections.alerts import add_alert, alert_row
from projections.customers import account_update, fold_account_update
from projections.transactions import WITHDRAWAL, transaction_from_change
from projections.turnover import count_in_day, day_key, day_of, retain_day
from settings import load_settings
from topics import (
    ACCOUNT_CHANGES,
    CUSTOMER_ACCOUNT_UPDATES,
    PARTITIONS,
    TRANSACTION_CHANGES,
    WITHDRAWAL_ALERTS,
    faust_topic,
)

app = create_app(load_settings())
app.conf.autodiscover = False  # this module holds the app's only agent and tables

turnover_days = app.Table("turnover_days", default=None, partitions=PARTITIONS, key_type=int)
turnover_by_account_day = app.Table("turnover_by_account_day", default=None, partitions=PARTITIONS, key_type=str)
withdrawal_history_by_account = app.Table("withdrawal_history_by_account", default=None, partitions=PARTITIONS,
                                          key_type=int)
alerts_by_account = app.Table("alerts_by_account", default=None, partitions=PARTITIONS, key_type=int)
balance_by_account = app.Table("balance_by_account", default=None, partitions=PARTITIONS, key_type=int)
customer_overview = app.Table("customer_overview", default=None, partitions=PARTITIONS, key_type=int)
customer_account_pages = app.Table("customer_account_pages", default=None, partitions=PARTITIONS, key_type=str)
customer_account_page_of = app.Table("customer_account_page_of", default=None, partitions=PARTITIONS, key_type=str)
account_changes = faust_topic(app, ACCOUNT_CHANGES)
customer_account_updates = faust_topic(app, CUSTOMER_ACCOUNT_UPDATES)
transaction_changes = faust_topic(app, TRANSACTION_CHANGES)
withdrawal_alerts = faust_topic(app, WITHDRAWAL_ALERTS)


@app.agent(transaction_changes)
async def fold_transactions(stream):
    settings = load_settings()
    rules = settings.rule_settings()
    async for event in stream.events():
        try:
            change = decode_change(event.key, event.value)
            if isinstance(change, Tombstone):
                continue
            txn = transaction_from_change(change)
        except DecodeError:
            continue  # the benchmark's events all decode; the product dead-letters these
        account = txn.account_id
        day = day_of(txn.created_at).isoformat()
        index, dropped, counted = retain_day(turnover_days.get(account), day,
                                             retention_days=settings.turnover_retention_days)
        if index is not None:
            turnover_days[account] = index
        for old_day in dropped:
            turnover_by_account_day.pop(day_key(account, old_day), None)
        if counted:
            totals = count_in_day(turnover_by_account_day.get(day_key(account, day)), txn)
            if totals is not None:
                turnover_by_account_day[day_key(account, day)] = totals
        if txn.kind != WITHDRAWAL or txn.amount < rules.large:
            continue
        history = _history_from_rows(account, withdrawal_history_by_account.get(account))
        new_history, alerts = evaluate_withdrawal(history, txn.as_withdrawal(), rules, datetime.now(timezone.utc))
        if new_history != history:
            withdrawal_history_by_account[account] = _history_to_rows(new_history)
        if alerts:
            rows = alerts_by_account.get(account)
            for alert in alerts:
                rows = add_alert(rows, alert_row(alert), keep=settings.alerts_kept_per_account)
                await withdrawal_alerts.send(key=str(account).encode(), value=encode_alert(alert, change))
            alerts_by_account[account] = rows


@app.agent(account_changes)
async def project_account_balances(stream):
    async for event in stream.events():
        try:
            change = decode_change(event.key, event.value)
            if isinstance(change, Tombstone):
                continue
            key = account_key(change.key)
            row = account_view(change)
        except DecodeError:
            continue
        previous = balance_by_account.get(key)
        if already_applied(change, previous):
            continue
        if row is not None:
            balance_by_account[key] = row
        elif key in balance_by_account:
            del balance_by_account[key]
        owners = {r["customer_id"] for r in (previous, row) if r is not None}
        for customer_id in owners:
            current = row if row is not None and row["customer_id"] == customer_id else None
            await customer_account_updates.send(
                key=customer_id, value=account_update(current, account_id=key, customer_id=customer_id))


@app.agent(customer_account_updates)
async def fold_account_updates_into_customers(stream):
    async for event in stream.events():
        fold_account_update(customer_overview, customer_account_pages, customer_account_page_of, event.value)


@app.page("/health")
async def get_health(view, request):
    """As views/health.py, which this app does not load (it holds only this agent and its tables)."""
    reasons = []
    if app.rebalancing:
        reasons.append("rebalancing")
    if not app.tables.recovery.completed.is_set():
        reasons.append("recovering tables from their changelogs")
    if not app.consumer.assignment():
        reasons.append("no partitions assigned yet")
    return view.json({"status": "not-ready" if reasons else "ready", "reasons": reasons},
                     status=503 if reasons else 200)
