"""Turnover per account per day: a tumbling one-day window on event time (created_at, UTC days).

An account's turnover is one table row: {"YYYY-MM-DD": {deposits, withdrawals, count, txn_ids}}.
Each day remembers which transactions it counted, so a redelivered transaction is not counted
twice; days older than the retention are dropped, which bounds the row.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Dict, Mapping, Optional

from .transactions import DEPOSIT, LedgerTransaction

__all__ = ["day_of", "add_to_turnover", "turnover_of_day", "Turnover"]

#: {day (ISO date): {"deposits": str, "withdrawals": str, "count": int, "txn_ids": [int]}}
Turnover = Dict[str, Dict[str, Any]]


def day_of(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def add_to_turnover(turnover: Optional[Mapping[str, Any]], txn: LedgerTransaction, *,
                    retention_days: int) -> Turnover:
    """`turnover` with `txn` counted in its day (once), and days past retention dropped.

    Runs once per transaction, so it copies only what changes: the day's totals are new, the
    other days' are shared with `turnover` (values are never changed in place, here or by callers).
    """
    days: Turnover = dict(turnover or {})
    key = day_of(txn.created_at).isoformat()
    totals = days.get(key) or {"deposits": "0", "withdrawals": "0", "count": 0, "txn_ids": []}
    ids = totals["txn_ids"]  # kept sorted
    at = bisect_left(ids, txn.txn_id)
    if at == len(ids) or ids[at] != txn.txn_id:
        field = "deposits" if txn.kind == DEPOSIT else "withdrawals"
        totals = {
            **totals,
            field: str(Decimal(totals[field]) + txn.amount),
            "count": totals["count"] + 1,
            "txn_ids": [*ids[:at], txn.txn_id, *ids[at:]],
        }
    days[key] = totals
    # ISO dates order as their text does.
    oldest_kept = (date.fromisoformat(max(days)) - timedelta(days=retention_days - 1)).isoformat()
    if min(days) < oldest_kept:
        days = {day: totals for day, totals in days.items() if day >= oldest_kept}
    return days


def turnover_of_day(turnover: Optional[Mapping[str, Any]], day: date) -> Optional[Dict[str, Any]]:
    """The day's totals as served (no internals), or None when nothing was posted that day."""
    totals = (turnover or {}).get(day.isoformat())
    if totals is None:
        return None
    return {"day": day.isoformat(), "deposits": totals["deposits"], "withdrawals": totals["withdrawals"],
            "count": totals["count"]}
