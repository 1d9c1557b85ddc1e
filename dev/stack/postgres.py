"""The ledger's PostgreSQL for the local stack: a private cluster with logical decoding."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import List

from .layout import StackLayout
from .processes import StackError, port_is_open, wait_until

__all__ = ["postgres_running", "start_postgres", "stop_postgres", "postgres_pid", "DATABASE_NAME"]

DATABASE_NAME = "ledger"


def _bin(name: str) -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise StackError("PostgreSQL is not installed; run `make setup` to install it.")
    return str(candidates[-1])


def _as_postgres() -> List[str]:
    # initdb and the server refuse to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _cluster_dir(layout: StackLayout, *, create: bool = False) -> Path:
    """The cluster's folder: .stack/postgres, or a link to a private folder the postgres user can reach."""
    link = layout.root / "postgres"
    if link.is_symlink():
        target = link.parent / os.readlink(link)
        if target.exists() or target.is_symlink() or not create:
            _check_private(target)
            return target
        link.unlink()  # the temporary folder is gone (e.g. a reboot); its cluster with it
    if link.exists() or not create:
        return link
    layout.root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and not _postgres_user_can_reach(layout.root):
        # The checkout sits where the postgres user cannot enter (e.g. under /root): keep the
        # cluster in a new temporary folder of an unpredictable name (mode 0700, made by us, so
        # nobody else can have planted it or a link in its place) and link it.
        target = Path(tempfile.mkdtemp(prefix="ledgerstream-postgres-"))
        os.chown(target, _postgres_ids()[0], _postgres_ids()[1], follow_symlinks=False)
        link.symlink_to(target)
        return target
    link.mkdir()
    if os.geteuid() == 0:
        os.chown(link, *_postgres_ids(), follow_symlinks=False)
    return link


def _postgres_ids():
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _check_private(folder: Path) -> None:
    """Refuse a cluster folder that is a link, or that others could have made or may write to."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return
    allowed = {os.geteuid(), 0}
    if os.geteuid() == 0:
        allowed.add(_postgres_ids()[0])
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in allowed or info.st_mode & 0o022:
        raise StackError(f"{folder} is not a private folder of this stack (a link, someone else's, or writable "
                         "by others); remove it and the stack's postgres link, then start again.")


def _postgres_user_can_reach(folder: Path) -> bool:
    # Every folder on the way must be searchable by the postgres user.
    return subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(folder)],
                          capture_output=True).returncode == 0


def _data_dir(layout: StackLayout) -> Path:
    return _cluster_dir(layout) / "data"


def postgres_pid(layout: StackLayout):
    try:
        return int((_data_dir(layout) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postgres_running(layout: StackLayout) -> bool:
    data = _data_dir(layout)
    if not (data / "PG_VERSION").exists():
        return False
    return subprocess.run([*_as_postgres(), _bin("pg_ctl"), "-D", str(data), "status"],
                          capture_output=True).returncode == 0


def start_postgres(layout: StackLayout, *, timeout: float = 60) -> None:
    cluster = _cluster_dir(layout, create=True)
    data = cluster / "data"
    if not (data / "PG_VERSION").exists():
        _run([*_as_postgres(), _bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--no-instructions"], what="initdb")
    options = (
        f"-p {layout.postgres_port} -k {cluster} -c listen_addresses=127.0.0.1 -c wal_level=logical "
        "-c max_replication_slots=10 -c max_wal_senders=10 -c fsync=off"
    )
    _run([*_as_postgres(), _bin("pg_ctl"), "-D", str(data), "-l", str(cluster / "postgres.log"),
          "-o", options, "-w", "-t", str(int(timeout)), "start"], what="PostgreSQL start")
    _link_log(layout, cluster / "postgres.log")
    wait_until(lambda: port_is_open("127.0.0.1", layout.postgres_port), timeout=timeout, what="PostgreSQL")
    _ensure_database(layout, cluster)


def stop_postgres(layout: StackLayout) -> None:
    if postgres_running(layout):
        _run([*_as_postgres(), _bin("pg_ctl"), "-D", str(_data_dir(layout)), "-m", "fast", "-w", "stop"],
             what="PostgreSQL stop")


def _ensure_database(layout: StackLayout, cluster: Path) -> None:
    base = [*_as_postgres(), _bin("psql"), "-h", str(cluster), "-p", str(layout.postgres_port), "-U", "postgres",
            "-d", "postgres", "-tAc"]
    exists = subprocess.run([*base, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"],
                            capture_output=True, text=True)
    if exists.stdout.strip() != "1":
        _run([*base, f"CREATE DATABASE {DATABASE_NAME}"], what="creating the ledger database")


def _link_log(layout: StackLayout, log: Path) -> None:
    # `make logs` finds every service's log in .stack/logs.
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    target = layout.log_file("postgres")
    if not target.is_symlink():
        target.unlink(missing_ok=True)
        target.symlink_to(log)


def _run(argv: List[str], *, what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise StackError(f"{what} failed ({detail[-1] if detail else 'no output'}); "
                         "see logs/postgres.log in the stack's folder (STACK_DIR).")
