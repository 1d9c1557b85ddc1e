"""Turnover per account per UTC day: a tumbling one-day window on event time (created_at, UTC days).

State is split so that no row grows with an account's volume:
- one day row per (account, day), key `day_key(account, day)`: {deposits, withdrawals, count,
  last_txn_id}, whatever the number of transactions that day (about 120 bytes);
- one index row per account: {"days": [the retained days, oldest first]}, at most
  TURNOVER_RETENTION_DAYS entries (about 14 bytes each), so old day rows can be deleted.

Redeliveries are recognised without remembering ids. One account's transactions reach us in
transaction-id order (the ledger locks the account row before inserting a transaction, so per
account id order is commit order, which is Debezium's streaming order in the account's partition,
and snapshots are read ORDER BY id). So a day row's `last_txn_id`, the highest id it counted, says
which of that day's transactions it holds: every one with a lower id came before it. The mark is
kept per day row, not once per account, because rows reach the changelog one by one: after a crash
in the middle of a flush, a day row and the account's index may be from different moments, and
each must decide alone what it already holds.

If that order is ever broken (a lower id arriving after a higher one of the same day), the lower
one is taken for a redelivery and not counted: that day's totals come out short by it. Nothing
else is affected (other days, other accounts).
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .transactions import DEPOSIT, LedgerTransaction

__all__ = ["day_of", "day_key", "retain_day", "count_in_day", "count_turnover", "turnover_of_day", "DayTotals",
           "RetainedDays"]

#: A day row: {"deposits": str, "withdrawals": str, "count": int, "last_txn_id": int}
DayTotals = Dict[str, Any]
#: An account's index row: {"days": ["YYYY-MM-DD", ...]} (sorted, the newest last)
RetainedDays = Dict[str, List[str]]


def day_of(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def day_key(account_id: int, day: str) -> str:
    """Key of an account's day row. Its partition is the account's (a batch agent writes it under the
    account's record), not the one Kafka's partitioner would give this text: never route by it."""
    return f"{account_id}:{day}"


def retain_day(index: Optional[Mapping[str, Any]], day: str, *,
               retention_days: int) -> Tuple[Optional[RetainedDays], Tuple[str, ...], bool]:
    """Where `day` stands in the account's retained days.

    Returns (the new index row, or None when unchanged; the days now past retention, whose rows go;
    whether `day` is retained, i.e. a transaction of that day is to be counted). Retention is
    measured from the account's newest day, as before the split: a day older than
    `retention_days` before it is not kept. At most `retention_days` days are ever listed.
    """
    days = index["days"] if index else []
    at = bisect_left(days, day)
    if at < len(days) and days[at] == day:
        return None, (), True  # the usual case: a day already open
    newest = max(days[-1], day) if days else day
    oldest_kept = (date.fromisoformat(newest) - timedelta(days=retention_days - 1)).isoformat()
    if day < oldest_kept:
        return None, (), False  # too old for the window: neither counted nor remembered
    kept = [*days[:at], day, *days[at:]]
    first_kept = bisect_left(kept, oldest_kept)
    return {"days": kept[first_kept:]}, tuple(kept[:first_kept]), True


def count_in_day(totals: Optional[Mapping[str, Any]], txn: LedgerTransaction) -> Optional[DayTotals]:
    """The day row with `txn` counted, or None if it is already counted (id at or below the day's mark)."""
    if totals is None:
        totals = {"deposits": "0", "withdrawals": "0", "count": 0, "last_txn_id": 0}
    elif txn.txn_id <= totals["last_txn_id"]:
        return None
    field = "deposits" if txn.kind == DEPOSIT else "withdrawals"
    return {**totals, field: str(Decimal(totals[field]) + txn.amount), "count": totals["count"] + 1,
            "last_txn_id": txn.txn_id}


def count_turnover(retained: Any, day_rows: Any, txn: LedgerTransaction, *, retention_days: int) -> None:
    """Count `txn` in its day row (once) and delete the rows of days that fall out of retention.

    `retained` (account -> index row) and `day_rows` (day key -> day row) are the two tables' rows
    as a batch agent sees them (get, set, delete). Constant work per transaction: one index row of
    at most `retention_days` days and one day row are read, at most both written.
    """
    account, day = txn.account_id, day_of(txn.created_at).isoformat()
    index, dropped, counted = retain_day(retained.get(account), day, retention_days=retention_days)
    if index is not None:
        retained[account] = index
    for old_day in dropped:
        del day_rows[day_key(account, old_day)]
    if counted:
        key = day_key(account, day)
        totals = count_in_day(day_rows.get(key), txn)
        if totals is not None:
            day_rows[key] = totals


def turnover_of_day(index: Optional[Mapping[str, Any]], totals: Optional[Mapping[str, Any]],
                    day: date) -> Optional[Dict[str, Any]]:
    """The day's totals as served (no internals), or None when nothing is retained for that day.

    A day row is served only while the index lists the day: a row left behind by a crash between
    its deletion and the index's update is past retention, and so reads as an empty day.
    """
    text = day.isoformat()
    days = (index or {}).get("days") or []
    at = bisect_left(days, text)
    if totals is None or at == len(days) or days[at] != text:
        return None
    return {"day": text, "deposits": totals["deposits"], "withdrawals": totals["withdrawals"],
            "count": totals["count"]}
