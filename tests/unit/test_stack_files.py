"""Unit tests of the local stack's own files: `.stack/env` (mode, quoting) and the cluster folder's safety."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tempfile

import pytest

from dev.stack import postgres
from dev.stack.env_file import read_env_file, write_env_file
from dev.stack.layout import StackLayout
from dev.stack.processes import StackError


def test_the_env_file_is_readable_by_its_owner_only_even_when_it_existed(tmp_path):
    path = tmp_path / "env"
    path.write_text("OLD=1\n")
    path.chmod(0o644)

    write_env_file(path, {"KAFKA_BOOTSTRAP": "127.0.0.1:9092"})

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_env_file_quotes_values_so_a_shell_reads_them_back_unchanged(tmp_path):
    values = {"DATABASE_URL": "postgresql://u:p a$s`w'd;rm -rf x@127.0.0.1:5433/ledger",
              "KAFKA_BOOTSTRAP": "127.0.0.1:9092", "EMPTY": ""}
    path = tmp_path / "env"
    write_env_file(path, values)

    shell = subprocess.run(["sh", "-c", f'. "{path}" && printf "%s\\n" "$DATABASE_URL" "$KAFKA_BOOTSTRAP" "$EMPTY"'],
                           capture_output=True, text=True, check=True)
    assert shell.stdout.splitlines() == [values["DATABASE_URL"], values["KAFKA_BOOTSTRAP"], ""]
    assert read_env_file(path) == values
    assert not (tmp_path / "x").exists()


@pytest.fixture()
def as_root_without_reach(monkeypatch, tmp_path):
    """The root case of the cluster folder: a checkout the postgres user cannot enter, a private temp dir."""
    if os.geteuid() != 0:
        pytest.skip("the temporary cluster folder is made only when the stack runs as root")
    monkeypatch.setattr(postgres, "_postgres_user_can_reach", lambda folder: False)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    layout = StackLayout.from_env({"STACK_DIR": str(tmp_path / "stack")})
    return layout, temp


def test_the_cluster_folder_in_the_temp_folder_has_an_unpredictable_name_and_no_planted_link_is_followed(
        as_root_without_reach, tmp_path):
    layout, temp = as_root_without_reach
    victim = tmp_path / "victim"
    victim.mkdir()
    # What an earlier version would have used: a name anyone could compute, and plant a link at.
    planted = temp / f"ledgerstream-postgres-{hashlib.sha1(str(layout.root).encode()).hexdigest()[:12]}"
    planted.symlink_to(victim)

    folder = postgres._cluster_dir(layout, create=True)

    assert folder.parent == temp and folder != planted and not folder.is_symlink()
    info = folder.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == postgres._postgres_ids()[0]
    assert victim.stat().st_uid == os.geteuid()  # never chowned
    assert (layout.root / "postgres").resolve() == folder
    assert postgres._cluster_dir(layout) == folder  # found again through the link


def test_a_cluster_link_to_a_folder_others_may_write_is_refused(as_root_without_reach, tmp_path):
    layout, _ = as_root_without_reach
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    layout.root.mkdir(parents=True)
    (layout.root / "postgres").symlink_to(shared)

    with pytest.raises(StackError, match="is not a private folder of this stack"):
        postgres._cluster_dir(layout, create=True)


def test_connect_reaches_the_database_as_the_replication_role_never_the_urls_user():
    from dev.stack.connect import database_env
    from ops.migrations.runner import CDC_ROLE

    env = database_env("postgresql://postgres:owner-secret@db.example:6543/ledger", {"CDC_PASSWORD": "cdc-secret"})
    assert env == {"LEDGER_DB_HOST": "db.example", "LEDGER_DB_PORT": "6543", "LEDGER_DB_USER": CDC_ROLE,
                   "LEDGER_DB_PASSWORD": "cdc-secret", "LEDGER_DB_NAME": "ledger"}
    assert database_env("postgresql://postgres@127.0.0.1:5433/ledger", {})["LEDGER_DB_PASSWORD"] == ""


def test_the_local_connect_worker_reads_files_only_from_the_stacks_secrets_folder(tmp_path):
    from dev.stack.connect import worker_properties

    layout = StackLayout.from_env({"STACK_DIR": str(tmp_path / "stack")})
    lines = worker_properties(layout).splitlines()
    assert f"config.providers.file.param.allowed.paths={tmp_path / 'stack' / 'secrets'}" in lines
