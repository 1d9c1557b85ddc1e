"""Unit tests of `python -m ops.connectors` (cdc.cli) against an in-memory Kafka Connect REST API on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ops.connectors.cli import main
from ops.connectors.connect_client import ConnectClient

PG = "io.debezium.connector.postgresql.PostgresConnector"


class FakeConnect(ThreadingHTTPServer):
    """The part of Kafka Connect's REST API the CLI uses, over a dict; records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connectors: Dict[str, Dict[str, Any]] = {}
        self.requests: List[Tuple[str, str]] = []
        self.validation_errors: Dict[str, List[str]] = {}
        self.plugins = {PG}
        self.put_error: Optional[Tuple[int, str]] = None
        self.resolved: Dict[str, str] = {}  # what Connect's config providers turn references into

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, name: str, config: Dict[str, str], *, state: str = "RUNNING", tasks=("RUNNING",),
            trace: str = "", offsets=()) -> None:
        self.connectors[name] = {"config": {**config, "name": name}, "state": state, "tasks": list(tasks),
                                 "trace": trace, "offsets": list(offsets)}

    def methods(self) -> List[str]:
        return [f"{method} {path}" for method, path in self.requests]

    def status_of(self, name: str) -> Dict[str, Any]:
        c = self.connectors[name]
        tasks = []
        for i, state in enumerate(c["tasks"]):
            task = {"id": i, "state": state, "worker_id": "127.0.0.1:8083"}
            if state == "FAILED":
                task["trace"] = c["trace"]
            tasks.append(task)
        return {"name": name, "connector": {"state": c["state"], "worker_id": "127.0.0.1:8083"},
                "tasks": tasks, "type": "source"}

    def answer(self, method: str, raw_path: str, body: Any) -> Tuple[int, Any]:
        self.requests.append((method, raw_path))
        parts = urlsplit(raw_path)
        path = [unquote(p) for p in parts.path.strip("/").split("/")]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if path == ["connectors"]:
            if query.get("expand") == "status":
                return 200, {name: {"status": self.status_of(name)} for name in self.connectors}
            return 200, list(self.connectors)
        if path[0] == "connector-plugins" and path[-2:] == ["config", "validate"]:
            if path[1] not in self.plugins:
                return 400, {"error_code": 400, "message": f"Failed to find any class that implements Connector "
                                                           f"and which name matches {path[1]}"}
            configs = [{"definition": {"name": key},
                        "value": {"name": key, "value": self.resolved.get(key, body.get(key)),
                                  "errors": self.validation_errors.get(key, [])}}
                       for key in sorted(set(body) | set(self.validation_errors))]
            return 200, {"name": path[1], "error_count": sum(len(v) for v in self.validation_errors.values()),
                         "groups": [], "configs": configs}
        name, rest = path[1], path[2:]
        if method == "PUT" and rest == ["config"]:
            if self.put_error:
                return self.put_error[0], {"error_code": self.put_error[0], "message": self.put_error[1]}
            created = name not in self.connectors
            if created:
                self.add(name, body)
            else:
                self.connectors[name]["config"] = {**body, "name": name}
            return (201 if created else 200), {"name": name, "config": body, "tasks": []}
        if name not in self.connectors:
            return 404, {"error_code": 404, "message": f"Connector {name} not found"}
        c = self.connectors[name]
        if method == "GET" and rest == ["config"]:
            return 200, c["config"]
        if method == "GET" and rest == ["status"]:
            return 200, self.status_of(name)
        if method == "PUT" and rest in (["pause"], ["resume"], ["stop"]):
            state = {"pause": "PAUSED", "resume": "RUNNING", "stop": "STOPPED"}[rest[0]]
            c["state"] = state
            c["tasks"] = [] if state == "STOPPED" else [state] * max(1, len(c["tasks"]))
            return 202, None
        if method == "POST" and rest == ["restart"]:
            failed_only = query.get("onlyFailed") == "true"
            restarting = [i for i, s in enumerate(c["tasks"]) if s == "FAILED" or not failed_only]
            body = self.status_of(name)
            for i in restarting:
                body["tasks"][i]["state"] = "RESTARTING"
                c["tasks"][i] = "RUNNING"
            if not failed_only:
                body["connector"]["state"] = "RESTARTING"
            return 202, body
        if method == "DELETE" and rest == []:
            del self.connectors[name]
            return 204, None
        if method == "GET" and rest == ["offsets"]:
            return 200, {"offsets": c["offsets"]}
        if method == "DELETE" and rest == ["offsets"]:
            c["offsets"] = []
            return 200, {"message": "The offsets for this connector have been reset successfully"}
        return 404, {"error_code": 404, "message": "HTTP 404 Not Found"}


class _Handler(BaseHTTPRequestHandler):
    server: FakeConnect

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body = self.server.answer(self.command, self.path, json.loads(raw) if raw else None)
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format, *args):
        pass


@pytest.fixture
def connect(monkeypatch):
    # No backoff and no settling time: the fake answers at once and never changes by itself.
    monkeypatch.setattr(ConnectClient, "_pause", lambda self, attempt: None)
    monkeypatch.setattr("ops.connectors.apply.SETTLE_SECONDS", 0.0)
    monkeypatch.setattr("ops.connectors.apply.UPDATE_SETTLE_SECONDS", 0.0)
    monkeypatch.setattr("ops.connectors.commands.SETTLE_SECONDS", 0.0)
    server = FakeConnect()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


CONFIG = {
    "connector.class": PG,
    "tasks.max": "1",
    "database.user": "${env:LEDGER_DB_USER}",
    "database.password": "${env:LEDGER_DB_PASSWORD}",
    "slot.name": "slot_a",
    "snapshot.mode": "initial",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "connectors"
    folder.mkdir()
    write(folder, "a", CONFIG)
    return folder


def write(folder: Path, name: str, config: Dict[str, str]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nconfig:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in config.items()))
    return path


def run(capsys, connect: FakeConnect, folder: Optional[Path], *args: str) -> Tuple[int, str, str]:
    argv = [*args, "--connect-url", connect.url if connect else closed_port_url(), "--timeout", "5"]
    if folder is not None:
        argv += ["--connectors-dir", str(folder)]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------- apply


def test_apply_creates_a_missing_connector_and_waits_for_running(connect, folder, capsys):
    code, out, err = run(capsys, connect, folder, "apply")

    assert (code, err) == (0, "")
    assert out.splitlines() == ["a: created", "a: RUNNING"]
    assert "PUT /connectors/a/config" in connect.methods()
    assert connect.connectors["a"]["config"] == {**CONFIG, "name": "a"}


def test_apply_of_an_equal_config_makes_no_put(connect, folder, capsys):
    connect.add("a", CONFIG)

    code, out, _ = run(capsys, connect, folder, "apply", "a")

    assert code == 0
    assert out.splitlines() == ["a: unchanged", "a: RUNNING"]
    assert not [r for r in connect.methods() if r.startswith("PUT")]


def test_apply_updates_and_shows_what_changed(connect, folder, capsys):
    connect.add("a", {**CONFIG, "snapshot.mode": "never", "old.key": "x"})

    code, out, _ = run(capsys, connect, folder, "apply")

    assert code == 0
    assert out.splitlines() == ["a: updated", "  - old.key: x", "  ~ snapshot.mode: never -> initial", "a: RUNNING"]
    assert connect.connectors["a"]["config"] == {**CONFIG, "name": "a"}


def test_apply_dry_run_prints_the_diff_and_changes_nothing(connect, folder, capsys):
    connect.add("a", {**CONFIG, "snapshot.mode": "never"})

    code, out, _ = run(capsys, connect, folder, "apply", "--dry-run")

    assert code == 0
    assert out.splitlines() == ["a: would be updated", "  ~ snapshot.mode: never -> initial"]
    assert [r.split()[0] for r in connect.methods()] == ["GET"]


def test_apply_of_a_paused_connector_says_to_resume_it(connect, folder, capsys):
    connect.add("a", CONFIG, state="PAUSED", tasks=("PAUSED",))

    code, _, err = run(capsys, connect, folder, "apply")

    assert code == 2
    assert "a is PAUSED" in one_line(err) and "python -m ops.connectors resume a" in err


def test_apply_of_a_failing_connector_names_the_first_trace_line(connect, folder, capsys):
    connect.add("a", CONFIG, tasks=("FAILED",), trace="java.lang.Oops: slot in use\n\tat x.Y(Y.java:1)\n")

    code, _, err = run(capsys, connect, folder, "apply")

    assert code == 2
    assert one_line(err) == "error: Connector a FAILED: java.lang.Oops: slot in use"


def test_a_refused_put_is_one_line_with_connects_message_and_no_literal_secret(connect, folder, capsys):
    write(folder, "a", {**CONFIG, "database.password": "hunter22"})
    connect.put_error = (400, "Connector configuration is invalid and contains the following 1 error(s):\n"
                              "Invalid value hunter22 for database.password\nYou can also find the above list")

    code, out, err = run(capsys, connect, folder, "apply")

    assert code == 2
    line = one_line(err)
    assert "HTTP 400" in line and "Invalid value **** for database.password" in line
    assert "hunter22" not in out + err


# --------------------------------------------------------------------------- diff


def test_diff_is_0_without_difference(connect, folder, capsys):
    connect.add("a", CONFIG)

    assert run(capsys, connect, folder, "diff")[:2] == (0, "a: no difference\n")


def test_diff_is_1_and_lists_added_removed_changed_with_secrets_masked(connect, folder, capsys):
    write(folder, "a", {**CONFIG, "new.key": "n", "database.password": "file-secret",
                        "database.url": "jdbc:postgresql://u:pw-in-url@db/ledger"})
    connect.add("a", {**{k: v for k, v in CONFIG.items() if k != "slot.name"}, "gone.key": "g",
                      "database.password": "live-secret", "snapshot.mode": "never"})

    code, out, err = run(capsys, connect, folder, "diff")

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "a: 6 differences",
        "  ~ database.password: (secret changed)",
        "  + database.url: jdbc:postgresql://u:****@db/ledger",
        "  - gone.key: g",
        "  + new.key: n",
        "  + slot.name: slot_a",
        "  ~ snapshot.mode: never -> initial",
    ]
    for secret in ("file-secret", "live-secret", "pw-in-url"):
        assert secret not in out


def test_diff_shows_a_secret_reference_but_never_a_literal_secret(connect, folder, capsys):
    connect.add("a", {**CONFIG, "database.password": "live-secret"})

    code, out, _ = run(capsys, connect, folder, "diff")

    assert code == 1
    assert "  ~ database.password: **** -> ${env:LEDGER_DB_PASSWORD}" in out.splitlines()
    assert "live-secret" not in out


def test_diff_of_a_missing_connector_says_apply_creates_it(connect, folder, capsys):
    code, out, _ = run(capsys, connect, folder, "diff", "a")

    assert code == 1
    assert out.splitlines()[0] == "a: not on Kafka Connect; apply creates it"


def test_a_file_that_does_not_parse_is_one_line_naming_it(connect, folder, capsys):
    (folder / "broken.yaml").write_text("name: broken\nconfig:\n  a: [1, 2\n")

    code, _, err = run(capsys, connect, folder, "diff")

    assert code == 2
    assert "broken.yaml" in one_line(err) and "not valid YAML" in err


def test_a_name_without_a_file_is_one_line(connect, folder, capsys):
    code, _, err = run(capsys, connect, folder, "apply", "nope")

    assert code == 2
    assert "No connector file defines nope" in one_line(err)


# --------------------------------------------------------------------------- validate


def test_validate_prints_each_error_with_its_field(connect, folder, capsys):
    connect.validation_errors = {"slot.name": ["Invalid value 'bad slot'"], "topic.prefix": ["Missing value"]}

    code, out, _ = run(capsys, connect, folder, "validate")

    assert code == 1
    assert out.splitlines() == ["a: slot.name: Invalid value 'bad slot'", "a: topic.prefix: Missing value"]
    validated = [r for r in connect.methods() if r.startswith("PUT /connector-plugins/")]
    assert validated == [f"PUT /connector-plugins/{PG}/config/validate"]


def test_validate_never_shows_a_secret_that_connect_resolved(connect, folder, capsys):
    connect.resolved = {"database.password": "resolved-pw"}
    connect.validation_errors = {"database.user": ["password authentication failed (password resolved-pw)"]}

    code, out, _ = run(capsys, connect, folder, "validate")

    assert code == 1
    assert out == "a: database.user: password authentication failed (password ****)\n"


def test_validate_of_a_valid_config_is_0(connect, folder, capsys):
    assert run(capsys, connect, folder, "validate")[:2] == (0, "a: valid\n")


def test_validate_names_connector_class_for_an_unknown_plugin(connect, folder, capsys):
    write(folder, "a", {**CONFIG, "connector.class": "com.example.Nope"})

    code, out, _ = run(capsys, connect, folder, "validate")

    assert code == 1
    assert out.splitlines() == ["a: connector.class: Kafka Connect has no plugin com.example.Nope"]


# --------------------------------------------------------------------------- refs


def test_refs_are_known_when_the_variables_are_set(connect, folder, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_DB_USER", "u")
    monkeypatch.setenv("LEDGER_DB_PASSWORD", "the-real-password")

    code, out, _ = run(capsys, None, folder, "refs")

    assert code == 0
    assert out.splitlines() == ["a: database.user: ${env:LEDGER_DB_USER} known",
                                "a: database.password: ${env:LEDGER_DB_PASSWORD} known"]
    assert "the-real-password" not in out


def test_refs_name_an_unset_variable_and_an_env_file_counts(connect, folder, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("LEDGER_DB_USER", raising=False)
    monkeypatch.delenv("LEDGER_DB_PASSWORD", raising=False)
    env_file = tmp_path / "connect.env"
    env_file.write_text("# for the worker\nexport LEDGER_DB_USER=ledger\n")

    code, out, _ = run(capsys, None, folder, "refs", "--env-file", str(env_file))

    assert code == 1
    assert out.splitlines() == [
        "a: database.user: ${env:LEDGER_DB_USER} known",
        "a: database.password: ${env:LEDGER_DB_PASSWORD} unknown: LEDGER_DB_PASSWORD is not set",
    ]


def test_refs_flag_a_literal_secret(connect, folder, capsys):
    write(folder, "a", {"connector.class": PG, "database.password": "hunter22"})

    code, out, _ = run(capsys, None, folder, "refs")

    assert code == 0
    assert out.splitlines() == ["a: database.password: a literal secret; write a reference (${env:VAR}) instead"]


# --------------------------------------------------------------------------- status, list


def test_status_shows_states_and_the_first_trace_line_of_a_failed_task(connect, folder, capsys):
    connect.add("a", CONFIG, tasks=("RUNNING", "FAILED"),
                trace="org.apache.kafka.connect.errors.ConnectException: boom\n\tat a.B(B.java:1)\n")
    connect.add("b", CONFIG)

    code, out, _ = run(capsys, connect, None, "status")

    assert code == 1  # something FAILED
    assert out.splitlines() == [
        "a: RUNNING on 127.0.0.1:8083",
        "  task 0: RUNNING on 127.0.0.1:8083",
        "  task 1: FAILED on 127.0.0.1:8083: org.apache.kafka.connect.errors.ConnectException: boom",
        "b: RUNNING on 127.0.0.1:8083",
        "  task 0: RUNNING on 127.0.0.1:8083",
    ]


def test_status_of_running_connectors_is_0(connect, capsys):
    connect.add("b", CONFIG)

    assert run(capsys, connect, None, "status", "b")[0] == 0


def test_list_shows_each_connector_with_its_task_states(connect, capsys):
    connect.add("a", CONFIG, state="PAUSED", tasks=("PAUSED",))
    connect.add("b", CONFIG, tasks=("RUNNING", "RUNNING"))

    code, out, _ = run(capsys, connect, None, "list")

    assert code == 0
    assert out.splitlines() == ["a: PAUSED (tasks: 1 PAUSED)", "b: RUNNING (tasks: 2 RUNNING)"]


@pytest.mark.parametrize("command", [["status", "nope"], ["pause", "nope"], ["resume", "nope"], ["stop", "nope"],
                                     ["restart", "nope"], ["delete", "nope"], ["offsets", "nope"]])
def test_an_unknown_connector_is_one_line_pointing_at_list(connect, capsys, command):
    code, out, err = run(capsys, connect, None, *command)

    assert code == 2
    assert one_line(err) == (f"error: Kafka Connect at {connect.url} has no connector nope; "
                             "see `python -m ops.connectors list`, or create it with `python -m ops.connectors apply`.")


# --------------------------------------------------------------------------- lifecycle


def test_pause_then_resume_wait_for_their_states(connect, capsys):
    connect.add("a", CONFIG)

    assert run(capsys, connect, None, "pause", "a")[:2] == (0, "a: PAUSED\n")
    assert connect.status_of("a")["tasks"][0]["state"] == "PAUSED"
    assert run(capsys, connect, None, "resume", "a")[:2] == (0, "a: RUNNING\n")
    assert "PUT /connectors/a/pause" in connect.methods() and "PUT /connectors/a/resume" in connect.methods()


def test_stop_waits_until_stopped_without_tasks(connect, capsys):
    connect.add("a", CONFIG)

    assert run(capsys, connect, None, "stop", "a")[:2] == (0, "a: STOPPED\n")
    assert "PUT /connectors/a/stop" in connect.methods()


def test_restart_failed_only_asks_for_failed_tasks_only(connect, capsys):
    connect.add("a", CONFIG, tasks=("RUNNING", "FAILED"), trace="x")

    code, out, _ = run(capsys, connect, None, "restart", "a", "--failed-only")

    assert (code, out) == (0, "a: restarted, RUNNING\n")
    assert "POST /connectors/a/restart?includeTasks=true&onlyFailed=true" in connect.methods()


def test_restart_failed_only_with_nothing_failed_says_so(connect, capsys):
    connect.add("a", CONFIG)

    assert run(capsys, connect, None, "restart", "--failed-only", "a")[:2] == (
        0, "a: nothing failed; nothing restarted\n")


def test_delete_removes_it_and_names_the_slot_left_behind(connect, capsys):
    connect.add("a", CONFIG)

    code, out, _ = run(capsys, connect, None, "delete", "a")

    assert code == 0
    assert "a" not in connect.connectors
    assert out.splitlines()[0] == "a: deleted"
    assert "pg_drop_replication_slot('slot_a')" in out


# --------------------------------------------------------------------------- offsets


OFFSETS = [{"partition": {"server": "ledger"}, "offset": {"lsn": 123, "txId": 7}}]


def test_offsets_shows_each_partition_and_offset(connect, capsys):
    connect.add("a", CONFIG, offsets=OFFSETS)

    code, out, _ = run(capsys, connect, None, "offsets", "a")

    assert (code, out) == (0, 'a: partition {"server":"ledger"} offset {"lsn":123,"txId":7}\n')


def test_a_reset_partitions_null_offset_is_no_offset(connect, capsys):
    # After a reset Connect can list the partition with its tombstone (offset null) for a while.
    connect.add("a", CONFIG, state="STOPPED", tasks=(), offsets=[{"partition": {"server": "ledger"}, "offset": None}])

    code, out, _ = run(capsys, connect, None, "offsets", "a")

    assert (code, out) == (0, "a: no offsets committed\n")


def test_offsets_reset_of_a_running_connector_is_refused_with_what_to_do(connect, capsys):
    connect.add("a", CONFIG, offsets=OFFSETS)

    code, _, err = run(capsys, connect, None, "offsets", "a", "--reset")

    assert code == 2
    assert one_line(err) == ("error: Connector a is RUNNING; stop it first (`python -m ops.connectors stop a`), "
                             "then reset its offsets.")
    assert not [r for r in connect.methods() if r.startswith("DELETE")]


def test_offsets_reset_of_a_stopped_connector_deletes_them(connect, capsys):
    connect.add("a", CONFIG, state="STOPPED", tasks=(), offsets=OFFSETS)

    code, out, _ = run(capsys, connect, None, "offsets", "a", "--reset")

    assert code == 0
    assert "reset successfully" in out
    assert "DELETE /connectors/a/offsets" in connect.methods()
    assert connect.connectors["a"]["offsets"] == []


# --------------------------------------------------------------------------- Connect unreachable


@pytest.mark.parametrize("command", [
    ["apply"], ["apply", "--dry-run"], ["diff"], ["validate"], ["list"], ["status"], ["status", "a"],
    ["pause", "a"], ["resume", "a"], ["stop", "a"], ["restart", "a"], ["restart", "--failed-only", "a"],
    ["delete", "a"], ["offsets", "a"], ["offsets", "a", "--reset"],
])
def test_every_command_fails_in_one_sentence_when_connect_is_unreachable(folder, capsys, monkeypatch, command):
    monkeypatch.setattr(ConnectClient, "_pause", lambda self, attempt: None)

    code, out, err = run(capsys, None, folder, *command)

    assert code == 2
    line = one_line(err)
    assert line.startswith("error: Kafka Connect at http://127.0.0.1:")
    assert "is unreachable; start it (`make up`)" in line and "CONNECT_URL" in line


def test_connect_url_comes_from_the_environment(connect, folder, capsys, monkeypatch):
    monkeypatch.setenv("CONNECT_URL", connect.url)
    connect.add("a", CONFIG)

    assert main(["--connectors-dir", str(folder), "diff"]) == 0
    assert capsys.readouterr().out == "a: no difference\n"
