"""Apply the ledger's SQL migrations (migrations/NNNN_*.sql) once each, in name order."""

from __future__ import annotations

from pathlib import Path
from typing import List

import psycopg

__all__ = ["MIGRATIONS_DIR", "pending_files", "apply_migrations"]

MIGRATIONS_DIR = Path(__file__).resolve().parent

# Any fixed number: it only keeps two concurrent runners from applying the same file twice.
_LOCK_KEY = 7_402_113


def pending_files() -> List[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9]*.sql"))


def apply_migrations(database_url: str) -> List[str]:
    """Apply what is not applied yet; return the names applied now."""
    applied_now: List[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            for path in pending_files():
                if path.name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                applied_now.append(path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
