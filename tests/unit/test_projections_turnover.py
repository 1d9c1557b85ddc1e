"""Turnover per account per UTC day (projections/turnover.py): bounded rows, against a plain recount."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc.changes import Change, DecodeError, Op, SourcePosition
from projections.transactions import DEPOSIT, WITHDRAWAL, LedgerTransaction, transaction_from_change
from projections.turnover import count_turnover, day_key, turnover_of_day

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
ROW_BOUND = 64 * 1024


class Rows(dict):
    """A table's rows as a batch agent sees them: deleting an absent row is a no-op (CachedRows)."""

    def __delitem__(self, key):
        self.pop(key, None)


class Store:
    def __init__(self):
        self.retained, self.days = Rows(), Rows()

    def fold(self, txns, retention_days=35):
        for t in txns:
            count_turnover(self.retained, self.days, t, retention_days=retention_days)
        return self

    def served(self, account, day):
        return turnover_of_day(self.retained.get(account), self.days.get(day_key(account, day.isoformat())), day)


def txn(txn_id: int, kind: str = DEPOSIT, amount: str = "10.00", hours: float = 0, account: int = 1):
    return LedgerTransaction(txn_id, account, kind, Decimal(amount), START + timedelta(hours=hours))


def recount(txns, retention_days: int):
    """What is served: each id once, per UTC day, the days within retention of the newest day."""
    first = {}
    for t in txns:
        first.setdefault(t.txn_id, t)
    days = {}
    for t in first.values():
        day = t.created_at.date()
        totals = days.setdefault(day, {"deposits": Decimal(0), "withdrawals": Decimal(0), "count": 0})
        totals["deposits" if t.kind == DEPOSIT else "withdrawals"] += t.amount
        totals["count"] += 1
    if not days:
        return {}
    oldest_kept = max(days) - timedelta(days=retention_days - 1)
    return {day: totals for day, totals in days.items() if day >= oldest_kept}


def served_all(store, txns, account=1):
    days = {t.created_at.date() for t in txns}
    out = {}
    for day in days:
        got = store.served(account, day)
        if got is not None:
            out[day] = {"deposits": Decimal(got["deposits"]), "withdrawals": Decimal(got["withdrawals"]),
                        "count": got["count"]}
    return out


def test_a_redelivered_transaction_counts_once():
    store = Store().fold([txn(1), txn(2, WITHDRAWAL, "5.50"), txn(1), txn(2, WITHDRAWAL, "5.50")])
    assert store.served(1, START.date()) == {"day": "2026-03-01", "deposits": "10.00", "withdrawals": "5.50",
                                             "count": 2}


def test_days_past_retention_are_dropped_and_their_rows_deleted_when_a_newer_day_arrives():
    store = Store().fold([txn(1), txn(2, hours=24), txn(3, hours=24 * 3)], retention_days=2)
    assert store.retained[1] == {"days": ["2026-03-04"]}
    assert set(store.days) == {day_key(1, "2026-03-04")}
    assert store.served(1, START.date()) is None


def test_a_transaction_of_a_day_already_past_retention_is_not_counted():
    store = Store().fold([txn(1, hours=24 * 10), txn(2, hours=0)], retention_days=3)
    assert store.served(1, START.date()) is None
    assert set(store.days) == {day_key(1, "2026-03-11")}


def test_rows_stay_small_and_few_whatever_the_volume_of_a_hot_account():
    # 60 days of 2,000 transactions each: the rows are the same size as for a quiet account.
    txns = [txn(i + 1, hours=i * 24 / 2000) for i in range(60 * 2000)]
    store = Store().fold(txns, retention_days=35)
    assert len(store.retained[1]["days"]) == 35
    assert len(store.days) == 35
    largest = max(len(json.dumps(row)) for row in [*store.days.values(), *store.retained.values()])
    assert largest < 1024 < ROW_BOUND
    assert store.served(1, (START + timedelta(days=59)).date())["count"] == 2000


def test_the_days_index_never_lists_more_than_the_retention():
    store = Store()
    for i in range(200):
        store.fold([txn(i + 1, hours=24 * i)], retention_days=7)
        assert len(store.retained[1]["days"]) <= 7
        assert len(store.days) <= 7


def test_updates_and_deletes_of_transactions_are_refused_with_a_reason_and_snapshot_reads_counted():
    row = {"id": 7, "account_id": 1, "kind": "deposit", "amount": "12.50", "created_at": START.isoformat()}
    source = SourcePosition(lsn=None, tx_id=None, commit_ts_ms=None, snapshot=True)
    read = transaction_from_change(Change(Op.READ, "public", "transactions", 1, None, row, source))
    assert Store().fold([read]).served(1, START.date())["count"] == 1
    for op, before, after in ((Op.DELETE, row, None), (Op.UPDATE, row, row)):
        with pytest.raises(DecodeError, match="append-only"):
            transaction_from_change(Change(op, "public", "transactions", 1, before, after, source))


# Transactions of one account in id order (the order they reach us), days in any order.
ordered_transactions = st.lists(
    st.tuples(st.sampled_from([DEPOSIT, WITHDRAWAL]), st.decimals("0.01", "999.99", places=2).map(str),
              st.floats(0, 24 * 12)),
    max_size=50,
).map(lambda rows: [txn(i + 1, kind, amount, hours) for i, (kind, amount, hours) in enumerate(rows)])


@settings(max_examples=200)
@given(ordered_transactions, st.integers(1, 10))
def test_the_fold_equals_a_recount_of_the_retained_days(txns, retention_days):
    store = Store().fold(txns, retention_days)
    assert served_all(store, txns) == recount(txns, retention_days)


@settings(max_examples=300, deadline=None)
@given(ordered_transactions, st.integers(1, 10), st.data())
def test_replay_after_a_crash_in_the_middle_of_a_flush_is_exact(txns, retention_days, data):
    """The worker flushed rows one by one and crashed: each row is as of some record at or after the
    committed offset (a commit follows a complete flush), independently of the others. The records
    from the committed offset on are delivered again, then the rest of the stream."""
    n = len(txns)
    committed = data.draw(st.integers(0, n), label="committed offset")
    snapshots = [Store()]
    for t in txns:
        after = Store()
        after.retained, after.days = Rows(snapshots[-1].retained), Rows(snapshots[-1].days)
        snapshots.append(after.fold([t], retention_days))
    crashed = Store()
    for table in ("retained", "days"):
        keys = set().union(*(getattr(s, table).keys() for s in snapshots[committed:]))
        for key in sorted(keys, key=str):
            at = data.draw(st.integers(committed, n), label=f"{table} {key} flushed as of")
            rows = getattr(snapshots[at], table)
            if key in rows:
                getattr(crashed, table)[key] = rows[key]
    crashed.fold(txns[committed:], retention_days)
    assert served_all(crashed, txns) == recount(txns, retention_days)


@settings(max_examples=100, deadline=None)
@given(ordered_transactions, st.integers(1, 10), st.integers(0, 50))
def test_replay_after_a_complete_flush_changes_nothing(txns, retention_days, replay_from):
    store = Store().fold(txns, retention_days)
    before = (dict(store.retained), dict(store.days))
    store.fold(txns[min(replay_from, len(txns)):], retention_days)
    assert (dict(store.retained), dict(store.days)) == before
