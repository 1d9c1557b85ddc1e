"""`python -m ops.connectors` on the real local stack: connectors as code, from apply to delete.

The connectors here are copies of connectors/*.yaml under their own names, slots, publications
and topics (test-<id>-*), so the stack's own ledger connectors keep running for other tests.
The tests run in file order on one pair of connectors: apply first, delete last.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import psycopg
import pytest
import requests
import yaml

import dev.demo_ledger.outbox
from cdc.changes import Op, Tombstone
from cdc.decode import decode_change
from dev.stack.layout import REPO_ROOT
from ops.connectors.connector_files import CONNECTORS_DIR
from tests.support.kafka import read_topic
from tests.support.stack_fixtures import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------- the test connectors


class ConnectorCopies:
    """A folder with copies of the ledger's connector files, renamed so nothing is shared."""

    def __init__(self, folder: Path) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.folder = folder
        self.prefix = f"t{self.id}"  # topic prefix of the change topics
        self.ledger = f"test-{self.id}-ledger"
        self.outbox = f"test-{self.id}-outbox"
        self.slots = {self.ledger: f"test_{self.id}_ledger", self.outbox: f"test_{self.id}_outbox"}
        self.outbox_topic_prefix = f"{self.prefix}.outbox.event."
        self.write(self.ledger, self._ledger_config())
        self.write(self.outbox, self._outbox_config())

    @property
    def names(self) -> List[str]:
        return [self.ledger, self.outbox]

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.yaml"

    def config(self, name: str) -> Dict[str, str]:
        return yaml.load(self.path(name).read_text(), Loader=yaml.BaseLoader)["config"]

    def write(self, name: str, config: Dict[str, str]) -> None:
        self.path(name).write_text(yaml.safe_dump({"name": name, "config": config}, sort_keys=False))

    def _ledger_config(self) -> Dict[str, str]:
        config = _file_config("ledger-postgres.yaml")
        config.update({"topic.prefix": self.prefix, "slot.name": self.slots[self.ledger],
                       "publication.name": self.slots[self.ledger]})
        for key, value in config.items():
            if key.startswith("predicates.") and key.endswith(".pattern"):
                config[key] = value.replace(r"ledger\.public", rf"{self.prefix}\.public")
        return config

    def _outbox_config(self) -> Dict[str, str]:
        config = _file_config("ledger-outbox.yaml")
        config.update({"topic.prefix": f"{self.prefix}-outbox", "slot.name": self.slots[self.outbox],
                       "publication.name": self.slots[self.outbox],
                       "transforms.outbox.route.topic.replacement": self.outbox_topic_prefix + "${routedByValue}"})
        return config


def _file_config(file_name: str) -> Dict[str, str]:
    return yaml.load((CONNECTORS_DIR / file_name).read_text(), Loader=yaml.BaseLoader)["config"]


def cdc(stack_env: Dict[str, str], *args: str, connect_url: str = "", folder: Path = None,
        timeout: float = 240) -> subprocess.CompletedProcess:
    """The real CLI, as a user runs it."""
    argv = [sys.executable, "-m", "ops.connectors", *args, "--connect-url", connect_url or stack_env["CONNECT_URL"]]
    if folder is not None:
        argv += ["--connectors-dir", str(folder)]
    return subprocess.run(argv, cwd=REPO_ROOT, env=stack_env, capture_output=True, text=True, timeout=timeout)


def live_status(stack_env, name: str) -> Tuple[str, List[str]]:
    body = requests.get(f"{stack_env['CONNECT_URL']}/connectors/{name}/status", timeout=10).json()
    return body["connector"]["state"], [task["state"] for task in body["tasks"]]


def live_config(stack_env, name: str) -> Dict[str, str]:
    response = requests.get(f"{stack_env['CONNECT_URL']}/connectors/{name}/config", timeout=10)
    response.raise_for_status()
    return response.json()


#: The tables of each connector file's publication, as the migrations create them (0002_cdc_role.sql).
PUBLISHED_TABLES = {"ledger-postgres.yaml": "customers, accounts, transactions", "ledger-outbox.yaml": "outbox"}


@pytest.fixture(scope="module")
def connectors(stack_env, tmp_path_factory) -> Iterator[ConnectorCopies]:
    made = ConnectorCopies(tmp_path_factory.mktemp("connectors"))
    # Debezium's role may not create publications (autocreate is disabled): the owner does, as in production.
    with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:
        for name, file_name in ((made.ledger, "ledger-postgres.yaml"), (made.outbox, "ledger-outbox.yaml")):
            conn.execute(f'CREATE PUBLICATION "{made.slots[name]}" FOR TABLE {PUBLISHED_TABLES[file_name]}')
    yield made
    for name in made.names:
        requests.delete(f"{stack_env['CONNECT_URL']}/connectors/{name}", timeout=30)
    with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:
        for slot in made.slots.values():
            # The slot frees once the deleted connector's task has stopped.
            eventually(lambda slot=slot: _drop_slot(conn, slot), bool, timeout=60,
                       what=f"replication slot {slot} dropped")
            conn.execute(f'DROP PUBLICATION IF EXISTS "{slot}"')


def _drop_slot(conn: psycopg.Connection, slot: str) -> bool:
    row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
    if row is None:
        return True
    if row[0]:
        return False
    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    return True


@pytest.fixture(scope="module")
def first_apply(stack_env, connectors) -> subprocess.CompletedProcess:
    return cdc(stack_env, "apply", folder=connectors.folder)


# --------------------------------------------------------------------------- reading topics


def changes_of(bootstrap: str, topic: str, key: int) -> list:
    decoded = [decode_change(record.key, record.value) for record in read_topic(bootstrap, topic)]
    return [change for change in decoded if change.key == key]


# --------------------------------------------------------------------------- apply


def test_apply_brings_the_connectors_to_running(stack_env, connectors, first_apply):
    assert first_apply.returncode == 0, first_apply.stderr
    assert first_apply.stderr == ""
    lines = first_apply.stdout.splitlines()
    for name in connectors.names:
        assert f"{name}: created" in lines and f"{name}: RUNNING" in lines
        assert live_status(stack_env, name) == ("RUNNING", ["RUNNING"])


def test_inserted_updated_and_deleted_rows_arrive_and_decode(stack_env, connectors, first_apply, db):
    assert first_apply.returncode == 0, first_apply.stderr
    customer = db.execute("INSERT INTO customers (name) VALUES ('Connector Test') RETURNING id").fetchone()[0]
    account = db.execute("INSERT INTO accounts (customer_id) VALUES (%s) RETURNING id", (customer,)).fetchone()[0]
    db.execute("UPDATE accounts SET balance = 1234.50, status = 'frozen' WHERE id = %s", (account,))
    db.execute("DELETE FROM accounts WHERE id = %s", (account,))

    topic = f"{connectors.prefix}.public.accounts"
    seen = eventually(lambda: changes_of(stack_env["KAFKA_BOOTSTRAP"], topic, account),
                      lambda changes: len(changes) >= 4, timeout=90, what=f"4 records of account {account} on {topic}")

    created, updated, deleted, tombstone = seen
    assert [c.op for c in (created, updated, deleted)] == [Op.CREATE, Op.UPDATE, Op.DELETE]
    assert created.table == "accounts" and created.after["customer_id"] == customer
    assert created.after["balance"] == "0.00"
    assert updated.after["balance"] == "1234.50" and updated.after["status"] == "frozen"
    assert updated.before["balance"] == "0.00"  # REPLICA IDENTITY FULL: the row as it was
    assert deleted.after is None and deleted.before["id"] == account
    assert isinstance(tombstone, Tombstone) and tombstone.key == account
    assert created.source.lsn < updated.source.lsn < deleted.source.lsn


def test_outbox_events_arrive_on_their_aggregates_topic(stack_env, connectors, first_apply, db):
    assert first_apply.returncode == 0, first_apply.stderr
    # An aggregate id no account has: the stack's own outbox connector publishes this event
    # too, and nothing that follows real accounts should count it.
    aggregate_id = f"test-{connectors.id}"
    payload = {"account_id": aggregate_id, "amount": "10.10", "balance": "1000000000000000.01"}
    with db.transaction():
        with db.cursor() as cur:
            event_id = dev.demo_ledger.outbox.write_event(cur, "account", aggregate_id,
                                                          dev.demo_ledger.outbox.MONEY_DEPOSITED, payload)

    topic = connectors.outbox_topic_prefix + "account"

    def events():
        return [r for r in read_topic(stack_env["KAFKA_BOOTSTRAP"], topic)
                if dict(r.headers).get("id") == str(event_id).encode()]

    (record,) = eventually(events, lambda found: len(found) == 1, timeout=90, what=f"event {event_id} on {topic}")
    headers = dict(record.headers)
    # The format documented in connectors/ledger-outbox.yaml: key text, value the payload's JSON.
    assert record.key == aggregate_id.encode()
    assert headers["eventType"] == b"MoneyDeposited"
    assert json.loads(record.value) == {**payload, "version": dev.demo_ledger.outbox.EVENT_VERSION}


# --------------------------------------------------------------------------- idempotence, diff


class RecordingProxy(ThreadingHTTPServer):
    """Forwards every request to Kafka Connect and records its method and path."""

    daemon_threads = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.target = target.rstrip("/")
        self.seen: List[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: RecordingProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.seen.append(f"{self.command} {self.path}")
        answer = requests.request(self.command, self.server.target + self.path, data=body, timeout=60,
                                  headers={"Content-Type": "application/json", "Accept": "application/json"})
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_PUT = do_POST = do_DELETE = _forward

    def log_message(self, format, *args):
        pass


@pytest.fixture
def recording_proxy(stack_env) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy(stack_env["CONNECT_URL"])
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_second_apply_changes_nothing(stack_env, connectors, first_apply, recording_proxy):
    assert first_apply.returncode == 0, first_apply.stderr
    before = {name: live_config(stack_env, name) for name in connectors.names}

    again = cdc(stack_env, "apply", connect_url=recording_proxy.url, folder=connectors.folder)

    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [line for name in sorted(connectors.names)
                                         for line in (f"{name}: unchanged", f"{name}: RUNNING")]
    assert not [call for call in recording_proxy.seen if not call.startswith("GET ")]
    assert {name: live_config(stack_env, name) for name in connectors.names} == before


def test_diff_of_the_applied_files_is_0(stack_env, connectors, first_apply):
    result = cdc(stack_env, "diff", folder=connectors.folder)

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(f"{name}: no difference" for name in connectors.names)


def test_an_edited_file_shows_in_diff_and_apply_updates_it(stack_env, connectors, first_apply, db):
    assert first_apply.returncode == 0, first_apply.stderr
    config = connectors.config(connectors.ledger)
    config["max.batch.size"] = "2048"  # added (its default)
    config["snapshot.mode"] = "when_needed"  # changed
    del config["tombstones.on.delete"]  # removed (its default is the same: true)
    connectors.write(connectors.ledger, config)

    diff = cdc(stack_env, "diff", connectors.ledger, folder=connectors.folder)

    assert diff.returncode == 1, diff.stderr
    assert diff.stdout.splitlines() == [
        f"{connectors.ledger}: 3 differences",
        '  + max.batch.size: 2048',
        '  ~ snapshot.mode: initial -> when_needed',
        '  - tombstones.on.delete: true',
    ]

    applied = cdc(stack_env, "apply", connectors.ledger, folder=connectors.folder)

    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [f"{connectors.ledger}: updated", *diff.stdout.splitlines()[1:],
                                           f"{connectors.ledger}: RUNNING"]
    assert {k: v for k, v in live_config(stack_env, connectors.ledger).items() if k != "name"} == config
    assert cdc(stack_env, "diff", folder=connectors.folder).returncode == 0

    # The updated connector captures: a new customer arrives.
    customer = db.execute("INSERT INTO customers (name) VALUES ('After Update') RETURNING id").fetchone()[0]
    topic = f"{connectors.prefix}.public.customers"
    eventually(lambda: changes_of(stack_env["KAFKA_BOOTSTRAP"], topic, customer), lambda found: len(found) == 1,
               timeout=90, what=f"customer {customer} on {topic}")


# --------------------------------------------------------------------------- validate, status


def test_validate_names_the_field_of_a_bad_config(stack_env, connectors, tmp_path):
    bad = {**connectors.config(connectors.ledger), "snapshot.mode": "sometimes"}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"name": f"{connectors.ledger}-bad", "config": bad}))

    result = cdc(stack_env, "validate", folder=tmp_path)

    assert result.returncode == 1, result.stderr
    assert any(line.startswith(f"{connectors.ledger}-bad: snapshot.mode: ") for line in result.stdout.splitlines()), \
        result.stdout
    assert cdc(stack_env, "validate", folder=connectors.folder).returncode == 0


def test_status_and_list_show_the_running_connectors(stack_env, connectors, first_apply):
    status = cdc(stack_env, "status", *connectors.names)
    listing = cdc(stack_env, "list")

    assert status.returncode == 0, status.stderr
    assert [line.split(" on ")[0] for line in status.stdout.splitlines()] == [
        f"{connectors.ledger}: RUNNING", "  task 0: RUNNING", f"{connectors.outbox}: RUNNING", "  task 0: RUNNING"]
    assert listing.returncode == 0, listing.stderr
    assert f"{connectors.outbox}: RUNNING (tasks: 1 RUNNING)" in listing.stdout.splitlines()


# --------------------------------------------------------------------------- lifecycle


def test_pause_and_resume(stack_env, connectors, first_apply):
    paused = cdc(stack_env, "pause", connectors.outbox)

    assert (paused.returncode, paused.stdout) == (0, f"{connectors.outbox}: PAUSED\n"), paused.stderr
    assert live_status(stack_env, connectors.outbox) == ("PAUSED", ["PAUSED"])

    resumed = cdc(stack_env, "resume", connectors.outbox)

    assert (resumed.returncode, resumed.stdout) == (0, f"{connectors.outbox}: RUNNING\n"), resumed.stderr
    assert live_status(stack_env, connectors.outbox) == ("RUNNING", ["RUNNING"])


def test_offsets_show_and_reset_only_when_stopped(stack_env, connectors, first_apply):
    name = connectors.outbox
    shown = eventually(lambda: cdc(stack_env, "offsets", name), lambda r: r.returncode == 0 and "lsn" in r.stdout,
                       timeout=60, what=f"committed offsets of {name}")
    assert shown.stdout.startswith(f"{name}: partition ")

    refused = cdc(stack_env, "offsets", name, "--reset")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (f"error: Connector {name} is RUNNING; stop it first "
                                      f"(`python -m ops.connectors stop {name}`), then reset its offsets.")

    assert cdc(stack_env, "stop", name).stdout == f"{name}: STOPPED\n"
    reset = cdc(stack_env, "offsets", name, "--reset")
    assert reset.returncode == 0, reset.stderr
    assert cdc(stack_env, "offsets", name).stdout == f"{name}: no offsets committed\n"

    resumed = cdc(stack_env, "resume", name)
    assert resumed.returncode == 0, resumed.stderr
    assert live_status(stack_env, name) == ("RUNNING", ["RUNNING"])


def test_restart_failed_only_with_nothing_failed_restarts_nothing(stack_env, connectors, first_apply):
    result = cdc(stack_env, "restart", "--failed-only", connectors.ledger)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{connectors.ledger}: nothing failed; nothing restarted\n"


def test_delete_removes_them(stack_env, connectors, first_apply):
    result = cdc(stack_env, "delete", *connectors.names)

    assert result.returncode == 0, result.stderr
    assert f"{connectors.ledger}: deleted" in result.stdout.splitlines()
    assert f"pg_drop_replication_slot('{connectors.slots[connectors.ledger]}')" in result.stdout
    remaining = requests.get(f"{stack_env['CONNECT_URL']}/connectors", timeout=10).json()
    assert not set(connectors.names) & set(remaining)
    assert {"ledger-postgres", "ledger-outbox"} <= set(remaining)  # the stack's own are untouched

    again = cdc(stack_env, "status", connectors.ledger)
    assert again.returncode == 2 and "has no connector" in again.stderr


# --------------------------------------------------------------------------- Connect unreachable


COMMANDS = [
    ["apply"], ["apply", "--dry-run"], ["diff"], ["validate"], ["list"], ["status"], ["status", "x"],
    ["pause", "x"], ["resume", "x"], ["stop", "x"], ["restart", "x"], ["restart", "--failed-only", "x"],
    ["delete", "x"], ["offsets", "x"], ["offsets", "x", "--reset"],
]


def test_every_command_fails_in_one_clear_sentence_when_connect_is_unreachable(stack_env):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    running = [(command, subprocess.Popen([sys.executable, "-m", "ops.connectors", *command, "--connect-url", url],
                                          cwd=REPO_ROOT, env=stack_env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
               for command in COMMANDS]
    for command, process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 2, (command, out, err)
        assert "Traceback" not in out + err
        lines = err.strip().splitlines()
        assert len(lines) == 1, (command, err)
        assert lines[0] == (f"error: Kafka Connect at {url} is unreachable; start it (`make up`) "
                            "or point CONNECT_URL (or --connect-url) at a running worker."), command


def test_debezium_reads_the_ledger_as_the_replication_role_not_a_superuser(stack_env):
    """The stack's own connectors: their slots are held by ledgerstream_cdc, which is no superuser and owns
    no table; the publications they read exist before them (autocreate is disabled)."""
    with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:
        def holders():
            return dict(conn.execute(
                "SELECT s.slot_name, a.usename FROM pg_replication_slots s "
                "JOIN pg_stat_activity a ON a.pid = s.active_pid "
                "WHERE s.slot_name IN ('ledgerstream', 'ledgerstream_outbox')").fetchall())

        found = eventually(holders, lambda h: len(h) == 2, timeout=120, what="both ledger slots active")
        assert found == {"ledgerstream": "ledgerstream_cdc", "ledgerstream_outbox": "ledgerstream_cdc"}
        role = conn.execute("SELECT rolsuper, rolreplication, rolcanlogin, rolcreatedb, rolcreaterole "
                            "FROM pg_roles WHERE rolname = 'ledgerstream_cdc'").fetchone()
        assert role == (False, True, True, False, False)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tableowner = 'ledgerstream_cdc'").fetchone()[0] == 0
        published = set(conn.execute("SELECT pubname, tablename FROM pg_publication_tables "
                                     "WHERE pubname IN ('ledgerstream', 'ledgerstream_outbox')").fetchall())
        assert published == {("ledgerstream", "customers"), ("ledgerstream", "accounts"),
                             ("ledgerstream", "transactions"), ("ledgerstream_outbox", "outbox")}
