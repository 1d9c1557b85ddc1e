"""Micro-benchmark: per-record cost of the turnover and customer folds, hot key against cold, before and after."""

# "before" is the one-row-per-key code this module keeps a copy of (one turnover row per account
# holding every transaction id of the retained days; one customer row holding every account);
# "after" is projections/turnover.py and projections/customers.py (bounded rows). "cold": each of
# `number` records is the first of its own account (customer). A hot key has `size` records already
# (transactions in the day of one account; accounts of one customer) and gets `number` more. Each
# figure is the median over repeats of the mean time per record, with the JSON size of the largest
# row afterwards. Rows live in dicts, as in a batch agent's cache between flushes.
#
#     python -m dev.bench.hot_key [--sizes 1000,10000,50000] [--customer-sizes 1000,10000] [--number 1000]

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

if __package__ in (None, ""):  # run as a file: import from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from projections.customers import account_update, fold_account_update
from projections.transactions import DEPOSIT, LedgerTransaction
from projections.turnover import count_turnover

__all__ = ["main"]

DAY = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
RETENTION = 35


# --------------------------------------------------------------------------- before (kept for comparison)

def before_add_to_turnover(turnover: Optional[Mapping[str, Any]], txn: LedgerTransaction, *,
                           retention_days: int) -> Dict[str, Any]:
    """projections/turnover.py before the split: one row per account, every id of the retained days."""
    days = dict(turnover or {})
    key = txn.created_at.astimezone(timezone.utc).date().isoformat()
    totals = days.get(key) or {"deposits": "0", "withdrawals": "0", "count": 0, "txn_ids": []}
    ids = totals["txn_ids"]
    at = bisect_left(ids, txn.txn_id)
    if at == len(ids) or ids[at] != txn.txn_id:
        field = "deposits" if txn.kind == DEPOSIT else "withdrawals"
        totals = {**totals, field: str(Decimal(totals[field]) + txn.amount), "count": totals["count"] + 1,
                  "txn_ids": [*ids[:at], txn.txn_id, *ids[at:]]}
    days[key] = totals
    oldest_kept = (date.fromisoformat(max(days)) - timedelta(days=retention_days - 1)).isoformat()
    if min(days) < oldest_kept:
        days = {day: totals for day, totals in days.items() if day >= oldest_kept}
    return days


def before_apply_account_update(overview: Optional[Mapping[str, Any]], update: Mapping[str, Any]) -> Dict[str, Any]:
    """projections/customers.py before the split: one row per customer listing every account."""
    current = dict(overview) if overview else {"customer_id": update["customer_id"], "name": None, "email": None,
                                               "accounts": {}, "total_balance": {}, "last_activity": None}
    accounts = dict(current["accounts"])
    accounts[str(update["account_id"])] = {"balance": update["balance"], "currency": update["currency"],
                                           "status": update["status"]}
    current["last_activity"] = max(filter(None, (current["last_activity"], update["updated_at"])))
    totals: Dict[str, Decimal] = {}
    for account in accounts.values():
        totals[account["currency"]] = totals.get(account["currency"], Decimal("0")) + Decimal(account["balance"])
    current["accounts"] = accounts
    current["total_balance"] = {c: str(t) for c, t in sorted(totals.items())}
    return current


# --------------------------------------------------------------------------- the rounds

class Rows(dict):
    def __delitem__(self, key):
        self.pop(key, None)


def _txn(txn_id: int, account: int = 1) -> LedgerTransaction:
    return LedgerTransaction(txn_id, account, DEPOSIT, Decimal("12.34"), DAY)


def _update(account_id: int, customer: int = 1) -> Dict[str, Any]:
    return account_update({"balance": "100.25", "currency": "EUR", "status": "open",
                           "updated_at": "2026-03-01T12:00:00+00:00"}, account_id=account_id, customer_id=customer)


def _timed(run: Callable[[], None], number: int) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) / number * 1e6


def turnover_before_cold(number: int):
    def run():
        for i in range(1, number + 1):
            before_add_to_turnover(None, _txn(i, account=i), retention_days=RETENTION)
    return run, len(json.dumps(before_add_to_turnover(None, _txn(1), retention_days=RETENTION)))


def turnover_after_cold(number: int):
    retained, days = Rows(), Rows()

    def run():
        r, d = Rows(), Rows()
        for i in range(1, number + 1):
            count_turnover(r, d, _txn(i, account=i), retention_days=RETENTION)
    count_turnover(retained, days, _txn(1), retention_days=RETENTION)
    return run, max(len(json.dumps(v)) for v in [*retained.values(), *days.values()])


def customer_before_cold(number: int):
    def run():
        for i in range(1, number + 1):
            before_apply_account_update(None, _update(i, customer=i))
    return run, len(json.dumps(before_apply_account_update(None, _update(1))))


def customer_after_cold(number: int):
    def run():
        o, p, q = Rows(), Rows(), Rows()
        for i in range(1, number + 1):
            fold_account_update(o, p, q, _update(i, customer=i))
    o, p, q = Rows(), Rows(), Rows()
    fold_account_update(o, p, q, _update(1))
    return run, max(len(json.dumps(v)) for v in [*o.values(), *p.values(), *q.values()])


def turnover_before(size: int, number: int):
    row = None
    for i in range(1, size + 1):
        row = before_add_to_turnover(row, _txn(i), retention_days=RETENTION)
    state = {"row": row}

    def run():
        r = state["row"]
        for i in range(size + 1, size + number + 1):
            r = before_add_to_turnover(r, _txn(i), retention_days=RETENTION)
    return run, len(json.dumps(row)) if row else 0


def turnover_after(size: int, number: int):
    retained, days = Rows(), Rows()
    for i in range(1, size + 1):
        count_turnover(retained, days, _txn(i), retention_days=RETENTION)

    def run():
        r, d = Rows(retained), Rows(days)
        for i in range(size + 1, size + number + 1):
            count_turnover(r, d, _txn(i), retention_days=RETENTION)
    return run, max((len(json.dumps(v)) for v in [*retained.values(), *days.values()]), default=0)


def customer_before(size: int, number: int):
    row = None
    for i in range(1, size + 1):
        row = before_apply_account_update(row, _update(i))

    def run():
        r = row
        for i in range(size + 1, size + number + 1):
            r = before_apply_account_update(r, _update(i))
    return run, len(json.dumps(row)) if row else 0


def customer_after(size: int, number: int):
    overviews, pages, page_of = Rows(), Rows(), Rows()
    for i in range(1, size + 1):
        fold_account_update(overviews, pages, page_of, _update(i))

    def run():
        o, p, q = Rows(overviews), Rows(pages), Rows(page_of)
        for i in range(size + 1, size + number + 1):
            fold_account_update(o, p, q, _update(i))
    return run, max((len(json.dumps(v)) for v in [*overviews.values(), *pages.values(), *page_of.values()]),
                    default=0)


ROUNDS = [("turnover", "before", turnover_before_cold, turnover_before),
          ("turnover", "after", turnover_after_cold, turnover_after),
          ("customer", "before", customer_before_cold, customer_before),
          ("customer", "after", customer_after_cold, customer_after)]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000",
                        help="transactions already in the hot account's day, comma-separated")
    parser.add_argument("--customer-sizes", default="1000,5000",
                        help="accounts the hot customer already has (building `before` costs their square)")
    parser.add_argument("--number", type=int, default=1000, help="records timed per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = {"turnover": [int(s) for s in args.sizes.split(",")],
             "customer": [int(s) for s in args.customer_sizes.split(",")]}
    print(f"{'fold':9} {'code':7} {'key':>10} {'us/record':>10} {'largest row (bytes)':>20}")
    for fold, code, cold, hot in ROUNDS:
        setups = [("cold", lambda cold=cold: cold(args.number))]
        setups += [(f"hot {size}", lambda size=size, hot=hot: hot(size, args.number)) for size in sizes[fold]]
        for label, setup in setups:
            run, largest = setup()
            times = [_timed(run, args.number) for _ in range(args.repeats)]
            print(f"{fold:9} {code:7} {label:>10} {statistics.median(times):>10.1f} {largest:>20}", flush=True)


if __name__ == "__main__":
    main()
