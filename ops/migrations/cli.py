"""`python -m ops.migrations`: apply pending migrations to DATABASE_URL; set the replication role's password.

Exit codes: 0 done; 2 failed, with one sentence on stderr saying what to do.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence, TextIO

import psycopg

from .runner import MigrationError, apply_migrations

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    argparse.ArgumentParser(
        prog="python -m ops.migrations",
        description="Apply the ledger's migrations (ops/migrations/NNNN_*.sql) to DATABASE_URL once each, and give "
                    "the replication role the password in CDC_PASSWORD when it is set.").parse_args(argv)
    from settings import load_settings

    try:
        settings = load_settings()
        applied = apply_migrations(settings.database_url, cdc_password=settings.cdc_password or None)
    except (MigrationError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except psycopg.OperationalError:
        # psycopg's message may quote the connection string (and its password).
        print("error: the ledger database is unreachable; check DATABASE_URL and that PostgreSQL runs.", file=err)
        return 2
    print(f"migrations: {', '.join(applied) or 'up to date'}", file=out)
    return 0
