"""The migration runner on the real PostgreSQL: each file once, recorded with its checksum; an edited,
already-applied file stops the run; `python -m ops.migrations` as the compose `migrate` job runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dev.stack.layout import REPO_ROOT
from ops.migrations.runner import MIGRATIONS_DIR, MigrationError, apply_migrations, checksum

pytestmark = pytest.mark.integration


@pytest.fixture()
def private_database(stack_env) -> Iterator[str]:
    """A fresh database in the stack's cluster, for this test alone; its URL."""
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(**{**conninfo_to_dict(stack_env["DATABASE_URL"]), "dbname": name})
    with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def folder(tmp_path) -> Path:
    """A copy of the project's migrations, to edit."""
    for path in sorted(MIGRATIONS_DIR.glob("[0-9]*.sql")):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def recorded(url: str) -> Dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT name, checksum FROM schema_migrations ORDER BY name").fetchall())


def test_each_file_applies_once_and_is_recorded_with_its_checksum(private_database, folder):
    names = [path.name for path in sorted(folder.glob("*.sql"))]
    assert apply_migrations(private_database, folder) == names
    assert recorded(private_database) == {name: checksum(folder / name) for name in names}
    assert apply_migrations(private_database, folder) == []


def test_an_edited_applied_migration_is_refused_in_one_sentence_and_nothing_runs(private_database, folder):
    apply_migrations(private_database, folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\nALTER TABLE customers ADD COLUMN nickname text;\n")
    (folder / "0099_later.sql").write_text("CREATE TABLE later (id int);\n")

    with pytest.raises(MigrationError) as refused:
        apply_migrations(private_database, folder)

    message = str(refused.value)
    assert message.startswith(f"{first.name} was edited after it was applied (checksum ")
    assert message.endswith("restore its applied text and put the change in a new migration file.")
    assert "\n" not in message
    with psycopg.connect(private_database) as conn:
        assert conn.execute("SELECT to_regclass('later')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM information_schema.columns "
                            "WHERE table_name = 'customers' AND column_name = 'nickname'").fetchone() == (0,)


def test_rows_recorded_before_checksums_get_one_and_are_then_held_to_it(private_database, folder):
    with psycopg.connect(private_database, autocommit=True) as conn:  # a database migrated by the older runner
        conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL "
                     "DEFAULT now())")
        conn.execute((folder / "0001_ledger.sql").read_text())
        conn.execute("INSERT INTO schema_migrations (name) VALUES ('0001_ledger.sql')")

    assert apply_migrations(private_database, folder) == ["0002_cdc_role.sql"]
    assert recorded(private_database)["0001_ledger.sql"] == checksum(folder / "0001_ledger.sql")


def test_the_migrate_job_applies_and_sets_the_replication_roles_password(private_database, stack_env):
    env = {**stack_env, "DATABASE_URL": private_database, "CDC_PASSWORD": "s3cret-for-the-test"}
    run = subprocess.run([sys.executable, "-m", "ops.migrations"], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run
    assert run.stdout.strip() == "migrations: 0001_ledger.sql, 0002_cdc_role.sql"
    assert "s3cret" not in run.stdout + run.stderr
    with psycopg.connect(private_database) as conn:
        assert conn.execute("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'ledgerstream_cdc'"
                            ).fetchone() == (True,)
        grants = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.role_table_grants "
            "WHERE grantee = 'ledgerstream_cdc' AND privilege_type = 'SELECT'")}
        assert grants == {"customers", "accounts", "transactions", "outbox"}
        assert conn.execute("SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = "
                            "'ledgerstream_cdc' AND privilege_type <> 'SELECT'").fetchone() == (0,)
    with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:  # the role is the cluster's
        conn.execute("ALTER ROLE ledgerstream_cdc PASSWORD NULL")

    again = subprocess.run([sys.executable, "-m", "ops.migrations"], cwd=REPO_ROOT,
                           env={**env, "DATABASE_URL": private_database.replace("dbname=", "dbname=x")},
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "Traceback" not in again.stderr
