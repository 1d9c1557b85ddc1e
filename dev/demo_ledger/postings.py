"""The ledger's writes as SQL: open customers and accounts, post money, freeze accounts."""

# Every function here is ONE database transaction (`conn.transaction()`): the row change and
# its outbox event commit together or not at all. On an autocommit connection (see
# ledger.connection.connect) each call commits by itself; inside a caller's open transaction
# it becomes a savepoint and commits with the caller.

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple, Optional

from psycopg import Connection

from dev.demo_ledger.money import money_text, to_money
from dev.demo_ledger.outbox import (
    ACCOUNT_FROZEN,
    ACCOUNT_OPENED,
    CUSTOMER_OPENED,
    MONEY_DEPOSITED,
    MONEY_WITHDRAWN,
    write_event,
)

__all__ = [
    "AccountNotOpen",
    "Account",
    "open_customer",
    "open_account",
    "deposit",
    "withdraw",
    "freeze_account",
    "read_account",
]

_CURRENCY = re.compile(r"[A-Z]{3}")


class AccountNotOpen(LookupError):
    """A deposit to an account that is missing, frozen or closed."""

    def __init__(self, account_id: int):
        super().__init__(f"account {account_id} does not exist or is not open")
        self.account_id = account_id


class Account(NamedTuple):
    id: int
    customer_id: int
    currency: str
    balance: Decimal
    status: str


def _positive(amount: Decimal | int | str) -> Decimal:
    money = to_money(amount)
    # The table's CHECK (amount > 0) would refuse it too, but only after the balance moved.
    if money <= 0:
        raise ValueError(f"a posting moves a positive amount, not {money}")
    return money


def open_customer(conn: Connection, name: str, email: Optional[str] = None) -> int:
    """Insert a customer and its CustomerOpened event; return the customer id."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("INSERT INTO customers (name, email) VALUES (%s, %s) RETURNING id", (name, email))
        (customer_id,) = cur.fetchone()
        write_event(
            cur, "customer", customer_id, CUSTOMER_OPENED, {"customer_id": customer_id, "name": name, "email": email}
        )
    return customer_id


def open_account(conn: Connection, customer_id: int, currency: str = "EUR") -> int:
    """Open an empty account of `customer_id` with its AccountOpened event; return the account id."""
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise ValueError(f"currency must be a three-letter ISO code such as 'EUR', not {currency!r}")
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO accounts (customer_id, currency) VALUES (%s, %s) RETURNING id, balance, status",
            (customer_id, currency),
        )
        account_id, balance, status = cur.fetchone()
        write_event(
            cur,
            "account",
            account_id,
            ACCOUNT_OPENED,
            {
                "account_id": account_id,
                "customer_id": customer_id,
                "currency": currency,
                "balance": money_text(balance),
                "status": status,
            },
        )
    return account_id


def _record_posting(cur, account_id: int, kind: str, event_type: str, amount: Decimal, balance, currency,
                    days_back: int = 0) -> None:
    cur.execute(
        "INSERT INTO transactions (account_id, kind, amount, created_at)"
        " VALUES (%s, %s, %s, now() - make_interval(days => %s)) RETURNING id",
        (account_id, kind, amount, days_back),
    )
    (transaction_id,) = cur.fetchone()
    write_event(
        cur,
        "account",
        account_id,
        event_type,
        {
            "account_id": account_id,
            "transaction_id": transaction_id,
            "amount": money_text(amount),
            "balance_after": money_text(balance),
            "currency": currency,
        },
    )


def deposit(conn: Connection, account_id: int, amount: Decimal | int | str, *, days_back: int = 0) -> Decimal:
    """Credit an open account; return its new balance. Raises AccountNotOpen if it is not open.

    `days_back`: the transaction is dated that many days before now (history brought over).
    """
    amount = _positive(amount)
    with conn.transaction(), conn.cursor() as cur:
        # One UPDATE both checks the status and moves the balance, so a concurrent freeze
        # cannot slip in between a check and the write.
        cur.execute(
            "UPDATE accounts SET balance = balance + %s, updated_at = now()"
            " WHERE id = %s AND status = 'open' RETURNING balance, currency",
            (amount, account_id),
        )
        row = cur.fetchone()
        if row is None:
            raise AccountNotOpen(account_id)  # leaving the block rolls the transaction back
        balance, currency = row
        _record_posting(cur, account_id, "deposit", MONEY_DEPOSITED, amount, balance, currency, days_back)
    return balance


def withdraw(conn: Connection, account_id: int, amount: Decimal | int | str) -> Optional[Decimal]:
    """Debit an open account unless that would overdraw it; return the new balance, or None if refused.

    A refusal (balance too low, account not open or missing) writes nothing.
    """
    amount = _positive(amount)
    with conn.transaction(), conn.cursor() as cur:
        # The guard lives in the UPDATE's WHERE: PostgreSQL re-checks it after waiting for a
        # concurrent writer's row lock, so two withdrawals can never both spend the same money.
        cur.execute(
            "UPDATE accounts SET balance = balance - %s, updated_at = now()"
            " WHERE id = %s AND status = 'open' AND balance >= %s RETURNING balance, currency",
            (amount, account_id, amount),
        )
        row = cur.fetchone()
        if row is None:
            return None
        balance, currency = row
        _record_posting(cur, account_id, "withdrawal", MONEY_WITHDRAWN, amount, balance, currency)
    return balance


def freeze_account(conn: Connection, account_id: int) -> bool:
    """Freeze an open account (it takes no more postings); False if it was not open."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "UPDATE accounts SET status = 'frozen', updated_at = now()"
            " WHERE id = %s AND status = 'open' RETURNING customer_id, currency, balance",
            (account_id,),
        )
        row = cur.fetchone()
        if row is None:
            return False
        customer_id, currency, balance = row
        write_event(
            cur,
            "account",
            account_id,
            ACCOUNT_FROZEN,
            {
                "account_id": account_id,
                "customer_id": customer_id,
                "currency": currency,
                "balance": money_text(balance),
                "status": "frozen",
            },
        )
    return True


def read_account(conn: Connection, account_id: int) -> Optional[Account]:
    """The account's current row, or None if there is no such account."""
    # In a transaction block like the writes, so a read never leaves a non-autocommit
    # connection inside an open transaction that would turn later writes into savepoints.
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "SELECT id, customer_id, currency, balance, status FROM accounts WHERE id = %s", (account_id,)
        )
        row = cur.fetchone()
    return None if row is None else Account(*row)
