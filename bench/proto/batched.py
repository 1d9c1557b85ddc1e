"""Prototype: the transactions agent of agents/transactions.py, with table access per batch and per account.

    faust -A bench.proto.batched worker      (what the benchmark runs; BENCH_BATCH, BENCH_WITHIN tune it)

The same pure functions, tables, topics and alert encoding as the product; what differs is only
how often the tables are touched. The product reads and writes each account's rows once per event
(every write is a RocksDB put plus a changelog record); here the agent takes up to BENCH_BATCH
events (or what came within BENCH_WITHIN seconds), folds each account's events in memory in
commit order, then reads and writes each touched account's rows once. Equal results: per account,
the rows after a batch are those after its events one by one, and alerts are the same (same ids).

Table writes must land in the partition the account's events came from: a store and its changelog
take the partition from the "current event", which a batch does not have, so each account's writes
are made with its last event set as the current one.
"""

from __future__ import annotations

import os
import time
import weakref
from datetime import datetime, timezone
from typing import Dict, List, Tuple

from faust.streams import _current_event

from app import create_app
from bench.peers.job import _history_from_rows, _history_to_rows, encode_alert
from cdc.changes import DecodeError, Tombstone
from cdc.decode import decode_change
from projections.alerts import add_alert, alert_row
from projections.transactions import WITHDRAWAL, transaction_from_change
from projections.turnover import add_to_turnover
from rules.withdrawals import evaluate_withdrawal
from settings import load_settings
from topics import PARTITIONS, TRANSACTION_CHANGES, WITHDRAWAL_ALERTS, faust_topic

BATCH = int(os.environ.get("BENCH_BATCH", "2000"))
WITHIN = float(os.environ.get("BENCH_WITHIN", "0.05"))

app = create_app(load_settings())
app.conf.autodiscover = False  # this module holds the app's only agent and tables

turnover_by_account = app.Table("turnover_by_account", default=None, partitions=PARTITIONS, key_type=int)
withdrawal_history_by_account = app.Table("withdrawal_history_by_account", default=None, partitions=PARTITIONS,
                                          key_type=int)
alerts_by_account = app.Table("alerts_by_account", default=None, partitions=PARTITIONS, key_type=int)
transaction_changes = faust_topic(app, TRANSACTION_CHANGES)
withdrawal_alerts = faust_topic(app, WITHDRAWAL_ALERTS)
dead_letters = app.topic(f"{TRANSACTION_CHANGES.name}.dlq", partitions=PARTITIONS, key_serializer="raw",
                         value_serializer="raw", allow_empty=True, internal=True)


@app.agent(transaction_changes)
async def fold_transactions(stream):
    settings = load_settings()
    rules = settings.rule_settings()
    async for events in stream.take_events(BATCH, within=WITHIN):
        by_account: Dict[int, List[Tuple]] = {}
        for event in events:
            try:
                change = decode_change(event.key, event.value)
                if isinstance(change, Tombstone):
                    continue
                txn = transaction_from_change(change)
                if change.key != txn.account_id:
                    raise DecodeError(f"record key {change.key!r} is not the transaction's account {txn.account_id}")
            except DecodeError as exc:
                message = event.message
                await dead_letters.send(key=message.key, value=message.value, headers=[
                    ("dlq.error.class", type(exc).__name__.encode()), ("dlq.error.reason", str(exc).encode()),
                    ("dlq.source.topic", message.topic.encode()), ("dlq.source.partition", str(message.partition).encode()),
                    ("dlq.source.offset", str(message.offset).encode()), ("dlq.agent", b"fold_transactions"),
                    ("dlq.timestamp_ms", str(int(time.time() * 1000)).encode())])
                continue
            by_account.setdefault(txn.account_id, []).append((event, change, txn))
        for account, items in by_account.items():
            token = _current_event.set(weakref.ref(items[-1][0]))
            try:
                turnover = turnover_by_account.get(account)
                history = rows = None
                history_changed = alerts_changed = False
                for _, change, txn in items:
                    turnover = add_to_turnover(turnover, txn, retention_days=settings.turnover_retention_days)
                    if txn.kind != WITHDRAWAL or txn.amount < rules.large:
                        continue
                    if history is None:
                        history = _history_from_rows(account, withdrawal_history_by_account.get(account))
                    new_history, alerts = evaluate_withdrawal(history, txn.as_withdrawal(), rules,
                                                              datetime.now(timezone.utc))
                    history_changed |= new_history != history
                    history = new_history
                    if alerts:
                        if not alerts_changed:
                            rows, alerts_changed = alerts_by_account.get(account), True
                        for alert in alerts:
                            rows = add_alert(rows, alert_row(alert), keep=settings.alerts_kept_per_account)
                            await withdrawal_alerts.send(key=str(account).encode(), value=encode_alert(alert, change))
                turnover_by_account[account] = turnover
                if history_changed:
                    withdrawal_history_by_account[account] = _history_to_rows(history)
                if alerts_changed:
                    alerts_by_account[account] = rows
            finally:
                _current_event.reset(token)


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
