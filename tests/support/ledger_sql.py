"""Writing the ledger with plain SQL in tests, as the core banking system would."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional, Tuple

import psycopg

__all__ = ["open_customer", "open_account", "post"]


def open_customer(db: psycopg.Connection, name: str = "Grace Hopper",
                  email: Optional[str] = "grace@example.com") -> int:
    return db.execute("INSERT INTO customers (name, email) VALUES (%s, %s) RETURNING id", (name, email)).fetchone()[0]


def open_account(db: psycopg.Connection, balance: str = "0", customer_id: Optional[int] = None) -> Tuple[int, int]:
    """(customer id, account id) of a new account, with a new customer unless one is given."""
    customer_id = customer_id or open_customer(db)
    account_id = db.execute("INSERT INTO accounts (customer_id, balance) VALUES (%s, %s) RETURNING id",
                            (customer_id, balance)).fetchone()[0]
    return customer_id, account_id


def post(db: psycopg.Connection, account_id: int, kind: str, amount: str, created_at: Optional[datetime] = None) -> int:
    """One posting in one database transaction: the transaction row and the new balance."""
    sign = Decimal(1) if kind == "deposit" else Decimal(-1)
    with db.transaction():
        txn_id = db.execute(
            "INSERT INTO transactions (account_id, kind, amount, created_at) VALUES (%s, %s, %s, COALESCE(%s, now())) "
            "RETURNING id", (account_id, kind, amount, created_at)).fetchone()[0]
        db.execute("UPDATE accounts SET balance = balance + %s, updated_at = now() WHERE id = %s",
                   (sign * Decimal(amount), account_id))
    return txn_id
