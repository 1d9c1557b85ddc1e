"""Unit tests of cdc.connect_client.ConnectClient against a tiny scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Optional, Tuple

import pytest

from ops.connectors.connect_client import ConnectClient, ConnectError

Reply = Tuple[int, Any]  # (status, JSON body, or bytes as-is, or None for no body)


class ScriptedConnect(ThreadingHTTPServer):
    """Answers each request with the next scripted reply and records what it was asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies: List[Reply] = []
        self.requests: List[Tuple[str, str, Optional[Any]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def next_reply(self, method: str, path: str, body: Optional[Any]) -> Reply:
        with self.lock:
            self.requests.append((method, path, body))
            if not self.replies:
                return 599, {"message": "test server: no reply scripted"}
            return self.replies.pop(0)


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedConnect

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body = self.server.next_reply(self.command, self.path, json.loads(raw) if raw else None)
        payload = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format, *args):  # keep test output clean
        pass


@pytest.fixture
def connect():
    server = ScriptedConnect()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def client_of(server: ScriptedConnect, retries: int = 4) -> ConnectClient:
    return ConnectClient(server.url, timeout=5.0, retries=retries, backoff=0.01)


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


CONFIG = {"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "tasks.max": "1"}


# --------------------------------------------------------------------------- retries


def test_409_rebalancing_then_200_is_retried_and_succeeds(connect):
    connect.script(
        (409, {"error_code": 409, "message": "Cannot complete request because of a conflicting operation"}),
        (200, {"name": "ledger-postgres", "config": CONFIG, "tasks": []}),
    )

    result = client_of(connect).put_config("ledger-postgres", CONFIG)

    assert result == {"name": "ledger-postgres", "config": CONFIG, "tasks": []}
    assert connect.requests == [
        ("PUT", "/connectors/ledger-postgres/config", CONFIG),
        ("PUT", "/connectors/ledger-postgres/config", CONFIG),
    ]


def test_409_is_retried_even_for_post(connect):
    connect.script((409, {"message": "rebalancing"}), (201, {"name": "c"}))

    assert client_of(connect).request("POST", "/connectors", json={"name": "c", "config": CONFIG}) == {"name": "c"}
    assert len(connect.requests) == 2


def test_409_forever_gives_up_after_the_retries(connect):
    connect.script(*[(409, {"message": "rebalancing"})] * 10)

    with pytest.raises(ConnectError) as excinfo:
        client_of(connect, retries=2).connectors()

    assert excinfo.value.status == 409
    assert len(connect.requests) == 3  # the call and 2 retries


def test_500_on_get_is_retried(connect):
    connect.script((500, {"message": "oops"}), (503, {"message": "starting"}), (200, ["b", "a"]))

    assert client_of(connect).connectors() == ["a", "b"]
    assert len(connect.requests) == 3


def test_500_on_post_is_not_retried(connect):
    connect.script((500, {"error_code": 500, "message": "Request timed out"}), (201, {"name": "c"}))

    with pytest.raises(ConnectError) as excinfo:
        client_of(connect).request("POST", "/connectors", json={"name": "c", "config": CONFIG})

    assert excinfo.value.status == 500
    assert "Request timed out" in str(excinfo.value)
    assert [method for method, _, _ in connect.requests] == ["POST"]


# --------------------------------------------------------------------------- errors


def test_400_raises_with_connects_message_and_the_status(connect):
    message = "Connector configuration is invalid and contains the following 1 error(s):\nMissing topic.prefix"
    connect.script((400, {"error_code": 400, "message": message}))

    with pytest.raises(ConnectError) as excinfo:
        client_of(connect).put_config("ledger-postgres", CONFIG)

    assert excinfo.value.status == 400
    assert "HTTP 400" in str(excinfo.value)
    assert "PUT /connectors/ledger-postgres/config" in str(excinfo.value)
    assert message in str(excinfo.value)
    assert len(connect.requests) == 1


def test_error_without_json_body_carries_the_text(connect):
    connect.script((400, b"bad things happened\n"))

    with pytest.raises(ConnectError, match="bad things happened") as excinfo:
        client_of(connect).connectors()

    assert excinfo.value.status == 400


def test_404_is_none_where_expected_and_an_error_elsewhere(connect):
    connect.script(
        (404, {"error_code": 404, "message": "Connector ledger-postgres not found"}),
        (404, {"error_code": 404, "message": "Connector ledger-postgres not found"}),
    )
    client = client_of(connect)

    assert client.config("ledger-postgres") is None
    with pytest.raises(ConnectError, match="not found") as excinfo:
        client.request("GET", "/connectors/ledger-postgres")
    assert excinfo.value.status == 404


def test_204_is_none(connect):
    connect.script((204, None))

    assert client_of(connect).request("DELETE", "/connectors/ledger-postgres") is None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unreachable_connect_names_connect_url(method):
    url = closed_port_url()
    client = ConnectClient(url, timeout=2.0, retries=2, backoff=0.01)

    with pytest.raises(ConnectError) as excinfo:
        client.request(method, "/connectors")

    assert "unreachable" in str(excinfo.value)
    assert "CONNECT_URL" in str(excinfo.value)
    assert url in str(excinfo.value)
    assert excinfo.value.status is None


def test_trailing_slash_of_the_url_is_dropped(connect):
    connect.script((200, []))

    ConnectClient(connect.url + "/", backoff=0.01).connectors()

    assert connect.requests == [("GET", "/connectors", None)]


# --------------------------------------------------------------------------- wait_running


def status_body(connector_state: str, *task_states: str, trace: str = "") -> dict:
    tasks = []
    for i, state in enumerate(task_states):
        task = {"id": i, "state": state, "worker_id": "127.0.0.1:8083"}
        if state == "FAILED":
            task["trace"] = trace
        tasks.append(task)
    return {"name": "ledger-postgres", "connector": {"state": connector_state, "worker_id": "127.0.0.1:8083"},
            "tasks": tasks, "type": "source"}


def test_wait_running_returns_the_status_when_all_run(connect):
    body = status_body("RUNNING", "RUNNING")
    connect.script((200, body))

    assert client_of(connect).wait_running("ledger-postgres", timeout=5) == body
    assert connect.requests == [("GET", "/connectors/ledger-postgres/status", None)]


def test_wait_running_raises_with_the_first_trace_line_of_a_failed_task(connect):
    trace = (
        "org.apache.kafka.connect.errors.ConnectException: Unable to obtain valid replication slot\n"
        "\tat io.debezium.connector.postgresql.PostgresConnectorTask.start(PostgresConnectorTask.java:150)\n"
        "\tat io.debezium.connector.common.BaseSourceTask.start(BaseSourceTask.java:249)\n"
    )
    connect.script((200, status_body("RUNNING", "RUNNING", "FAILED", trace=trace)))

    with pytest.raises(ConnectError) as excinfo:
        client_of(connect).wait_running("ledger-postgres", timeout=5)

    assert str(excinfo.value) == (
        "Connector ledger-postgres FAILED: "
        "org.apache.kafka.connect.errors.ConnectException: Unable to obtain valid replication slot"
    )


def test_wait_running_raises_when_the_connector_itself_failed(connect):
    body = status_body("FAILED")
    body["connector"]["trace"] = "java.lang.IllegalStateException: no slot\n\tat x.y(Z.java:1)\n"
    connect.script((200, body))

    with pytest.raises(ConnectError, match=r"FAILED: java.lang.IllegalStateException: no slot$"):
        client_of(connect).wait_running("ledger-postgres", timeout=5)


def test_wait_running_failed_without_trace(connect):
    connect.script((200, status_body("RUNNING", "FAILED", trace="")))

    with pytest.raises(ConnectError, match="FAILED: no trace"):
        client_of(connect).wait_running("ledger-postgres", timeout=5)


def test_wait_running_times_out_with_the_last_state(connect):
    connect.script((200, status_body("RUNNING")))  # no tasks yet

    with pytest.raises(ConnectError, match=r"not RUNNING within 0 s \(state RUNNING\)"):
        client_of(connect).wait_running("ledger-postgres", timeout=0)


def test_wait_running_times_out_when_absent(connect):
    connect.script((404, {"error_code": 404, "message": "No status found for connector ledger-postgres"}))

    with pytest.raises(ConnectError, match=r"state absent"):
        client_of(connect).wait_running("ledger-postgres", timeout=0)


# --------------------------------------------------------------------------- more retries and calls


def test_409_already_exists_is_not_retried(connect):
    connect.script((409, {"error_code": 409, "message": "Connector c already exists"}), (201, {"name": "c"}))

    with pytest.raises(ConnectError, match="already exists") as excinfo:
        client_of(connect).request("POST", "/connectors", json={"name": "c", "config": CONFIG})

    assert excinfo.value.status == 409
    assert len(connect.requests) == 1


def test_a_retried_delete_that_finds_nothing_succeeded_the_first_time(connect):
    connect.script((503, {"message": "starting"}), (404, {"message": "Connector c not found"}))

    assert client_of(connect).delete("c") is None
    assert [m for m, _, _ in connect.requests] == ["DELETE", "DELETE"]


def test_a_404_naming_the_connector_says_it_is_unknown(connect):
    connect.script((404, {"error_code": 404, "message": "Connector nope not found"}))

    with pytest.raises(ConnectError, match=r"has no connector nope; see `python -m ops.connectors list`") as excinfo:
        client_of(connect).pause("nope")

    assert excinfo.value.status == 404
    assert connect.requests == [("PUT", "/connectors/nope/pause", None)]


def test_restart_asks_for_the_tasks_too_and_only_failed_ones_when_told(connect):
    connect.script((202, status_body("RESTARTING")), (204, None))
    client = client_of(connect)

    client.restart("c", failed_only=True)
    client.restart("c")

    assert [path for _, path, _ in connect.requests] == [
        "/connectors/c/restart?includeTasks=true&onlyFailed=true",
        "/connectors/c/restart?includeTasks=true&onlyFailed=false",
    ]


def test_restart_is_not_retried_on_5xx(connect):
    connect.script((500, {"message": "Request timed out"}))

    with pytest.raises(ConnectError):
        client_of(connect).restart("c")
    assert len(connect.requests) == 1


def test_offsets_and_their_reset(connect):
    offsets = [{"partition": {"server": "ledger"}, "offset": {"lsn": 1}}]
    connect.script((200, {"offsets": offsets}), (200, {"message": "The offsets for this connector have been reset"}))
    client = client_of(connect)

    assert client.offsets("c") == offsets
    assert client.reset_offsets("c") == "The offsets for this connector have been reset"
    assert [(m, p) for m, p, _ in connect.requests] == [
        ("GET", "/connectors/c/offsets"), ("DELETE", "/connectors/c/offsets")]


def test_validate_puts_the_config_to_the_plugin(connect):
    connect.script((200, {"name": "x", "error_count": 0, "groups": [], "configs": []}))

    client_of(connect).validate("io.debezium.connector.postgresql.PostgresConnector", CONFIG)

    assert connect.requests == [
        ("PUT", "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate", CONFIG)]


def test_a_body_that_is_not_json_is_one_sentence(connect):
    connect.script((200, b"<html>not connect</html>"))

    with pytest.raises(ConnectError, match="not JSON; check that CONNECT_URL"):
        client_of(connect).connectors()


def test_wait_running_raises_at_once_for_a_held_state(connect):
    connect.script((200, status_body("PAUSED", "PAUSED")))

    with pytest.raises(ConnectError,
                       match=r"ledger-postgres is PAUSED; resume it with `python -m ops.connectors resume"):
        client_of(connect).wait_running("ledger-postgres", timeout=30, held=("PAUSED", "STOPPED"))
    assert len(connect.requests) == 1


def test_wait_running_with_settle_needs_running_to_hold(connect):
    # RUNNING (old tasks), then the restart with the new config, then RUNNING for good.
    connect.script((200, status_body("RUNNING", "RUNNING")), (200, status_body("RUNNING", "UNASSIGNED")),
                   *[(200, status_body("RUNNING", "RUNNING"))] * 10)

    client_of(connect).wait_running("ledger-postgres", timeout=30, settle=0.6)

    assert len(connect.requests) >= 4  # the dip reset the clock: two more polls after it, at least


def test_wait_state_stopped_means_no_tasks(connect):
    connect.script((200, status_body("STOPPED", "RUNNING")), (200, status_body("STOPPED")))

    assert client_of(connect).wait_state("ledger-postgres", "STOPPED", timeout=30)["tasks"] == []
    assert len(connect.requests) == 2
