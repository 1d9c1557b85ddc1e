"""Apply the ledger's SQL migrations (migrations/NNNN_*.sql) once each, in name order, checked by checksum."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, List, Optional

import psycopg
from psycopg import sql

__all__ = ["MIGRATIONS_DIR", "CDC_ROLE", "MigrationError", "pending_files", "checksum", "apply_migrations"]

MIGRATIONS_DIR = Path(__file__).resolve().parent

#: The role Debezium connects as (0002_cdc_role.sql): LOGIN, REPLICATION, SELECT on the captured tables.
CDC_ROLE = "ledgerstream_cdc"

# Any fixed number: it only keeps two concurrent runners from applying the same file twice.
_LOCK_KEY = 7_402_113


class MigrationError(Exception):
    """A migration that must not run; the message is one sentence saying what to do."""


def pending_files(folder: Path = MIGRATIONS_DIR) -> List[Path]:
    return sorted(folder.glob("[0-9]*.sql"))


def checksum(path: Path) -> str:
    """SHA-256 of the file's bytes: what was applied, to recognise a file edited afterwards."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def apply_migrations(database_url: str, folder: Path = MIGRATIONS_DIR, *,
                     cdc_password: Optional[str] = None) -> List[str]:
    """Apply what is not applied yet; return the names applied now.

    An applied file whose checksum changed stops the run before anything is applied: the database
    holds what the old text did, and the new text would never run. With `cdc_password`, the
    replication role gets that password (production; the local stack trusts local connections).
    """
    applied_now: List[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            # Rows from before checksums were kept get the file's checksum as it is now, once.
            conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
            files = pending_files(folder)
            rows = conn.execute("SELECT name, checksum FROM schema_migrations").fetchall()
            done: Dict[str, Optional[str]] = dict(rows)  # name -> checksum (None: applied before checksums)
            for path in files:
                if path.name not in done:
                    continue
                now = checksum(path)
                recorded = done[path.name]
                if recorded is None:
                    conn.execute("UPDATE schema_migrations SET checksum = %s WHERE name = %s", (now, path.name))
                elif recorded != now:
                    raise MigrationError(
                        f"{path.name} was edited after it was applied (checksum {recorded[:12]} recorded, "
                        f"{now[:12]} now); restore its applied text and put the change in a new migration file.")
            for path in files:
                if path.name in done:
                    continue
                text = path.read_bytes()
                with conn.transaction():
                    conn.execute(text.decode("utf-8"))
                    conn.execute("INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                                 (path.name, hashlib.sha256(text).hexdigest()))
                applied_now.append(path.name)
            if cdc_password:
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(CDC_ROLE),
                                                                      sql.Literal(cdc_password)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
