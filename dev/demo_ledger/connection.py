"""Connecting to the ledger database, and saying in one sentence why that failed."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg

from ops.connectors.secrets import mask_passwords

__all__ = ["LEDGER_TABLES", "connect", "missing_tables", "redact", "describe_error"]

#: The tables migrations/0001_ledger.sql creates and the generator writes.
LEDGER_TABLES = ("customers", "accounts", "transactions", "outbox")


def connect(url: str, *, connect_timeout: int = 5) -> psycopg.Connection:
    """An autocommit connection: each ledger.postings call is then its own committed transaction."""
    # The timeout turns an unreachable host into a prompt error instead of a long hang.
    return psycopg.connect(
        url, autocommit=True, connect_timeout=connect_timeout, application_name="ledgerstream-demo-ledger"
    )


def missing_tables(conn: psycopg.Connection) -> list[str]:
    """The ledger tables that do not exist in the database (empty when it is migrated)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass('public.' || t) IS NULL", (list(LEDGER_TABLES),)
        )
        return [t for (t,) in cur.fetchall()]


def redact(url: str) -> str:
    """`url` with any password replaced by ***, fit for messages and logs: in the user info, as a
    `?password=` parameter, or as a libpq `password=` keyword (a connection string that is no URL)."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            url = urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable URL>"
    return mask_passwords(url, "***")


def describe_error(error: BaseException) -> str:
    """The first line of a driver error, without libpq's hints and trailing whitespace."""
    text = str(error).strip()
    first = text.splitlines()[0].strip() if text else type(error).__name__
    return first.rstrip(".")
