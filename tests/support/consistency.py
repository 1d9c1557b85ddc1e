"""Comparing a worker's read models and derived topics with the ledger database, account by account.

Each `*_mismatches` function returns what differs (empty when all agree), so a test can wait on
"no mismatches" with a deadline and then fail with the differences it saw last.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple, TypeVar

import psycopg

from schemas.codec.envelope import decode_envelope
from tests.support.http import get_json
from tests.support.kafka import read_topic
from tests.support.oracle import ExpectedAlert, Txn, alert_from_event, alert_from_view
from tests.support.waiting import eventually
from topics import BALANCE_LOW, WITHDRAWAL_ALERTS

__all__ = [
    "ledger_transactions", "sql_balances", "sql_turnover", "balance_mismatches", "turnover_mismatches",
    "view_alerts", "alert_mismatches", "TopicAlerts", "topic_alerts", "balance_low_events", "summary",
    "wait_until_views_agree",
]

T = TypeVar("T")
R = TypeVar("R")


def _parallel(fn: Callable[[T], R], items: Iterable[T], workers: int = 4) -> List[R]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def summary(mismatches):
    """Mismatches as a failure message can show them: how many, and the first few."""
    if isinstance(mismatches, dict):
        return {kind: (len(found), found[:3]) for kind, found in mismatches.items()}
    return len(mismatches), mismatches[:5]


# --- The database side -------------------------------------------------------------------------

def ledger_transactions(db: psycopg.Connection, accounts: Sequence[int]) -> List[Txn]:
    """The accounts' transactions in id order (the commit order when one writer posts one per transaction)."""
    rows = db.execute("SELECT id, account_id, kind, amount, created_at FROM transactions "
                      "WHERE account_id = ANY(%s) ORDER BY id", (list(accounts),)).fetchall()
    return [Txn(*row) for row in rows]


def sql_balances(db: psycopg.Connection, accounts: Sequence[int]) -> Dict[int, str]:
    rows = db.execute("SELECT id, balance FROM accounts WHERE id = ANY(%s)", (list(accounts),)).fetchall()
    return {account: str(balance) for account, balance in rows}


def sql_turnover(db: psycopg.Connection, accounts: Sequence[int]) -> Dict[Tuple[int, date], Dict[str, Any]]:
    """(account, UTC day) -> deposits, withdrawals and count, aggregated by PostgreSQL."""
    rows = db.execute(
        "SELECT account_id, (created_at AT TIME ZONE 'UTC')::date AS day,"
        " COALESCE(sum(amount) FILTER (WHERE kind = 'deposit'), 0),"
        " COALESCE(sum(amount) FILTER (WHERE kind = 'withdrawal'), 0), count(*)"
        " FROM transactions WHERE account_id = ANY(%s) GROUP BY 1, 2", (list(accounts),)).fetchall()
    return {(account, day): {"deposits": deposits, "withdrawals": withdrawals, "count": count}
            for account, day, deposits, withdrawals, count in rows}


# --- The worker's read models ------------------------------------------------------------------

def balance_mismatches(url: str, expected: Dict[int, str]) -> List[Tuple[int, str, Any]]:
    """(account, balance in the database, what /accounts/{id} says) wherever the two differ."""
    def check(account: int):
        status, body = get_json(f"{url}/accounts/{account}")
        got = body.get("balance") if status == 200 else (status, body)
        return None if got == expected[account] else (account, expected[account], got)

    return [m for m in _parallel(check, sorted(expected)) if m]


def turnover_mismatches(url: str, expected: Dict[Tuple[int, date], Dict[str, Any]]) -> List[Tuple]:
    """((account, day), the SQL aggregate, what /accounts/{id}/turnover?day= says) wherever they differ."""
    def check(key: Tuple[int, date]):
        account, day = key
        status, body = get_json(f"{url}/accounts/{account}/turnover?day={day.isoformat()}")
        want = expected[key]
        if status == 200 and body.get("count") == want["count"] \
                and Decimal(body["deposits"]) == want["deposits"] \
                and Decimal(body["withdrawals"]) == want["withdrawals"]:
            return None
        return (key, want, body if status == 200 else (status, body))

    return [m for m in _parallel(check, sorted(expected)) if m]


def view_alerts(url: str, accounts: Sequence[int]) -> Dict[int, List[Dict[str, Any]]]:
    """account -> the alert rows /alerts/{id} serves (an error answer raises)."""
    def fetch(account: int):
        status, body = get_json(f"{url}/alerts/{account}", timeout=10)
        if status != 200:
            raise AssertionError(f"/alerts/{account} answered {status}: {body!r}")
        return account, body["alerts"]

    return dict(_parallel(fetch, accounts))


def alert_mismatches(expected: Dict[str, ExpectedAlert], served: Dict[int, List[Dict[str, Any]]]) -> Dict[str, Any]:
    """What differs between the oracle's alerts and the served ones: missing, unexpected, doubled, different."""
    got: Dict[str, ExpectedAlert] = {}
    doubled: List[str] = []
    misplaced: List[str] = []
    for account, rows in served.items():
        for row in rows:
            alert = alert_from_view(row)
            if alert.alert_id in got:
                doubled.append(alert.alert_id)
            if alert.account_id != account:
                misplaced.append(alert.alert_id)
            got[alert.alert_id] = alert
    problems = {
        "missing": sorted(set(expected) - set(got)),
        "unexpected": sorted(set(got) - set(expected)),
        "doubled": doubled,
        "misplaced": misplaced,
        "different": [(expected[i], got[i]) for i in sorted(set(expected) & set(got)) if expected[i] != got[i]],
    }
    return {k: v for k, v in problems.items() if v}


# --- The derived topics ------------------------------------------------------------------------

class TopicAlerts:
    """The WithdrawalAlert events of some accounts on alerts.withdrawals, by alert id."""

    def __init__(self, records: Iterable) -> None:
        self.copies: Counter = Counter()
        self.variants: Dict[str, set] = defaultdict(set)
        for record in records:
            alert = alert_from_event(decode_envelope(record.value).payload)
            self.copies[alert.alert_id] += 1
            self.variants[alert.alert_id].add(alert)

    @property
    def ids(self) -> set:
        return set(self.copies)

    @property
    def resent(self) -> int:
        """Copies beyond the first: at-least-once delivery re-sending after a crash."""
        return sum(self.copies.values()) - len(self.copies)

    def mismatches(self, expected: Dict[str, ExpectedAlert]) -> Dict[str, Any]:
        problems = {
            "missing": sorted(set(expected) - self.ids),
            "unexpected": sorted(self.ids - set(expected)),
            # A re-sent alert must be the same alert, field for field.
            "different": [(expected[i], sorted(self.variants[i], key=repr)) for i in sorted(self.ids & set(expected))
                          if self.variants[i] != {expected[i]}],
        }
        return {k: v for k, v in problems.items() if v}


def _records_of(bootstrap: str, topic: str, accounts: Sequence[int]) -> list:
    keys = {str(a).encode() for a in accounts}
    return [r for r in read_topic(bootstrap, topic) if r.key in keys]


def topic_alerts(bootstrap: str, accounts: Sequence[int]) -> TopicAlerts:
    return TopicAlerts(_records_of(bootstrap, WITHDRAWAL_ALERTS.name, accounts))


def balance_low_events(bootstrap: str, accounts: Sequence[int]) -> Dict[int, set]:
    """account -> the distinct event ids of its BalanceLow events."""
    found: Dict[int, set] = defaultdict(set)
    for record in _records_of(bootstrap, BALANCE_LOW.name, accounts):
        decoded = decode_envelope(record.value)
        found[decoded.payload.account_id].add(decoded.envelope.event_id)
    return found


def wait_until_views_agree(url: str, accounts: Sequence[int], balances: Dict[int, str],
                           turnover: Dict[Tuple[int, date], Dict[str, Any]], expected: Dict[str, ExpectedAlert],
                           *, timeout: float) -> None:
    """Wait until every balance, every day's turnover and the served alerts equal the database's."""
    eventually(lambda: summary(balance_mismatches(url, balances)), lambda m: m[0] == 0, timeout=timeout,
               interval=2, what="every balance equal to the database")
    eventually(lambda: summary(turnover_mismatches(url, turnover)), lambda m: m[0] == 0, timeout=timeout,
               interval=2, what="every day's turnover equal to the SQL aggregate")
    eventually(lambda: summary(alert_mismatches(expected, view_alerts(url, accounts))), lambda m: not m,
               timeout=timeout, interval=2, what="the served alerts equal to the oracle's")
