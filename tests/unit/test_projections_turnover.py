"""Turnover per account per UTC day (projections/turnover.py), against a plain recount of the transactions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.transactions import DEPOSIT, WITHDRAWAL, LedgerTransaction
from projections.turnover import add_to_turnover, turnover_of_day

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def txn(txn_id: int, kind: str = DEPOSIT, amount: str = "10.00", hours: float = 0) -> LedgerTransaction:
    return LedgerTransaction(txn_id, 1, kind, Decimal(amount), START + timedelta(hours=hours))


def fold(txns, retention_days: int = 35):
    turnover = None
    for t in txns:
        turnover = add_to_turnover(turnover, t, retention_days=retention_days)
    return turnover


def recount(txns, retention_days: int):
    """What the turnover must be: each transaction id once (its first delivery), per UTC day, recent days only."""
    first = {}
    for t in txns:
        first.setdefault(t.txn_id, t)
    days = {}
    for t in first.values():
        day = t.created_at.astimezone(timezone.utc).date().isoformat()
        totals = days.setdefault(day, {"deposits": Decimal(0), "withdrawals": Decimal(0), "count": 0, "ids": []})
        totals["deposits" if t.kind == DEPOSIT else "withdrawals"] += t.amount
        totals["count"] += 1
        totals["ids"].append(t.txn_id)
    return days


def test_a_redelivered_transaction_counts_once():
    turnover = fold([txn(1), txn(2, WITHDRAWAL, "5.50"), txn(1), txn(2, WITHDRAWAL, "5.50")])
    assert turnover_of_day(turnover, START.date()) == {"day": "2026-03-01", "deposits": "10.00",
                                                       "withdrawals": "5.50", "count": 2}


def test_days_past_retention_are_dropped_when_a_newer_day_arrives():
    turnover = fold([txn(1), txn(2, hours=24), txn(3, hours=24 * 3)], retention_days=2)
    assert sorted(turnover) == ["2026-03-04"]
    assert turnover_of_day(turnover, START.date()) is None


def test_the_input_is_not_changed():
    before = fold([txn(1), txn(2, hours=30)])
    snapshot = repr(before)
    add_to_turnover(before, txn(3), retention_days=35)
    add_to_turnover(before, txn(4, hours=30), retention_days=35)
    assert repr(before) == snapshot


transactions = st.lists(
    st.builds(txn, txn_id=st.integers(1, 40), kind=st.sampled_from([DEPOSIT, WITHDRAWAL]),
              amount=st.decimals("0.01", "999.99", places=2).map(str), hours=st.floats(0, 24 * 12)),
    max_size=60)


@settings(max_examples=200)
@given(transactions, st.integers(1, 10))
def test_the_fold_equals_a_recount_of_the_retained_days(txns, retention_days):
    # Each id stands for one transaction: a redelivery repeats it exactly.
    first = {}
    txns = [first.setdefault(t.txn_id, t) for t in txns]
    turnover = fold(txns, retention_days)
    if not txns:
        assert turnover is None
        return
    expected = recount(txns, retention_days)
    newest = max(expected)
    oldest_kept = (datetime.fromisoformat(newest) - timedelta(days=retention_days - 1)).date().isoformat()
    expected = {day: totals for day, totals in expected.items() if day >= oldest_kept}
    assert sorted(turnover) == sorted(expected)
    for day, totals in expected.items():
        got = turnover[day]
        assert Decimal(got["deposits"]) == totals["deposits"]
        assert Decimal(got["withdrawals"]) == totals["withdrawals"]
        assert got["count"] == totals["count"]
        assert got["txn_ids"] == sorted(totals["ids"])
