"""The ledger's side of a reconciliation: accounts, customers and turnover per day, read in one snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple

import psycopg

__all__ = ["LedgerSnapshot", "read_snapshot"]


@dataclass
class LedgerSnapshot:
    """What the ledger held at one consistent point, and a WAL position at or after every commit in it."""

    lsn: str
    accounts: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    customers: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    turnover: Dict[Tuple[int, str], Dict[str, Any]] = field(default_factory=dict)


def read_snapshot(database_url: str, *, accounts: Optional[Sequence[int]] = None,
                  customers: Optional[Sequence[int]] = None, retention_days: int) -> LedgerSnapshot:
    """Read the rows to compare in one REPEATABLE READ transaction (one snapshot of the ledger).

    `accounts`/`customers` limit the keys (None: every one). Turnover covers the days the view keeps
    per account: its newest day with a transaction and the `retention_days - 1` before it (UTC days,
    as the turnover read model counts them).

    The position is `pg_current_wal_lsn()` read inside the transaction, after its snapshot: at or
    after the commit of every change the snapshot holds. A change committed between the two is in
    neither the snapshot nor excluded by the position; the caller re-reads a key that differs.
    """
    with psycopg.connect(database_url, autocommit=False) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.cursor() as cur:
            cur.execute("SELECT 1")  # the snapshot is taken at the transaction's first statement
            cur.execute("SELECT pg_current_wal_lsn()::text")
            snapshot = LedgerSnapshot(lsn=_first(cur.fetchone()))
            only_accounts = None if accounts is None else list(accounts)
            cur.execute(
                "SELECT id, customer_id, balance::text, currency, status FROM accounts"
                " WHERE %(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[])", {"ids": only_accounts})
            for account_id, customer_id, balance, currency, status in cur.fetchall():
                snapshot.accounts[account_id] = {"customer_id": customer_id, "balance": balance,
                                                 "currency": currency, "status": status}
            cur.execute(
                "SELECT c.id, c.name, c.email,"
                "       (SELECT count(*) FROM accounts a WHERE a.customer_id = c.id),"
                "       (SELECT coalesce(jsonb_object_agg(t.currency, t.total), '{}')"
                "          FROM (SELECT trim(a.currency) AS currency, sum(a.balance)::text AS total"
                "                  FROM accounts a WHERE a.customer_id = c.id GROUP BY 1) t)"
                "  FROM customers c"
                " WHERE %(ids)s::bigint[] IS NULL OR c.id = ANY(%(ids)s::bigint[])",
                {"ids": None if customers is None else list(customers)})
            for customer_id, name, email, account_count, totals in cur.fetchall():
                snapshot.customers[customer_id] = {"name": name, "email": email, "account_count": account_count,
                                                   "total_balance": totals}
            cur.execute(
                "WITH posted AS (SELECT account_id, (created_at AT TIME ZONE 'UTC')::date AS day, kind, amount"
                "                  FROM transactions"
                "                 WHERE %(ids)s::bigint[] IS NULL OR account_id = ANY(%(ids)s::bigint[])),"
                "     newest AS (SELECT account_id, max(day) AS day FROM posted GROUP BY 1)"
                " SELECT p.account_id, p.day::text,"
                "        coalesce(sum(p.amount) FILTER (WHERE p.kind = 'deposit'), 0)::text,"
                "        coalesce(sum(p.amount) FILTER (WHERE p.kind = 'withdrawal'), 0)::text, count(*)"
                "   FROM posted p JOIN newest n USING (account_id)"
                "  WHERE p.day > n.day - %(days)s"
                "  GROUP BY 1, 2", {"ids": only_accounts, "days": retention_days})
            for account_id, day, deposits, withdrawals, count in cur.fetchall():
                snapshot.turnover[(account_id, day)] = {"deposits": deposits, "withdrawals": withdrawals,
                                                        "count": count}
        conn.rollback()
    return snapshot


def _first(row: Any) -> str:
    return str(row[0])
