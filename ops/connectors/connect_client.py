"""A small client of the Kafka Connect REST API, built on a requests session."""

from __future__ import annotations

import time
from typing import Any, Collection, Dict, List, Optional
from urllib.parse import quote

import requests

__all__ = ["ConnectError", "ConnectClient", "first_trace_line"]

#: Methods safe to repeat: retried on connection errors, timeouts and 5xx. PUT of a config is
#: idempotent (the same config twice is one config), and so are pause, resume and stop (PUT).
#: POST (restart, create) is not: a timed-out restart may have happened.
_IDEMPOTENT = {"GET", "PUT", "DELETE", "HEAD"}


class ConnectError(Exception):
    """A Kafka Connect call that failed; the message is one sentence saying what to do."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectClient:
    def __init__(self, url: str, *, timeout: float = 10.0, retries: int = 4, backoff: float = 0.5) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})

    # -- calls -----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, expect_missing: bool = False) -> Any:
        """One REST call with retries; returns the decoded body (None for 204, or 404 when expected)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(method, self.url + path, json=json, timeout=self.timeout)
            except requests.ConnectionError:
                if method in _IDEMPOTENT and attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise ConnectError(
                    f"Kafka Connect at {self.url} is unreachable; start it (`make up`) "
                    "or point CONNECT_URL (or --connect-url) at a running worker."
                ) from None
            except requests.Timeout:
                if method in _IDEMPOTENT and attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise ConnectError(
                    f"Kafka Connect at {self.url} did not answer {method} {path} within {self.timeout:.0f} s; "
                    "check that it is healthy (`make status`)."
                ) from None
            except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                    requests.exceptions.InvalidURL):
                raise ConnectError(
                    f"{self.url!r} is not a Kafka Connect URL like http://127.0.0.1:8083; "
                    "fix CONNECT_URL or --connect-url."
                ) from None
            except requests.RequestException as exc:
                raise ConnectError(
                    f"Kafka Connect at {self.url} cannot be asked ({type(exc).__name__}: {exc}); "
                    "check CONNECT_URL or --connect-url."
                ) from None
            status = response.status_code
            if attempt <= self.retries and (_rebalancing(response) or (status >= 500 and method in _IDEMPOTENT)):
                self._pause(attempt)
                continue
            if status == 404 and (expect_missing or (method == "DELETE" and attempt > 1)):
                return None  # a retried DELETE whose first attempt got through finds nothing left
            if status >= 400:
                raise ConnectError(
                    f"Kafka Connect refused {method} {path} (HTTP {status}): {_message(response)}",
                    status=status,
                )
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ConnectError(
                    f"Kafka Connect at {self.url} answered {method} {path} with something not JSON; "
                    "check that CONNECT_URL is a Kafka Connect REST API."
                ) from None

    def _pause(self, attempt: int) -> None:
        time.sleep(min(self.backoff * 2 ** (attempt - 1), 5.0))

    def _connector(self, method: str, name: str, suffix: str = "", *, json: Any = None,
                   query: str = "") -> Any:
        """A call on one connector; a 404 naming it becomes 'no such connector'."""
        path = f"/connectors/{quote(name, safe='')}{suffix}{query}"
        try:
            return self.request(method, path, json=json)
        except ConnectError as exc:
            if exc.status == 404 and name in str(exc):
                raise ConnectError(
                    f"Kafka Connect at {self.url} has no connector {name}; "
                    "see `python -m ops.connectors list`, or create it with `python -m ops.connectors apply`.",
                    status=404,
                ) from None
            raise

    # -- cluster ---------------------------------------------------------------------------

    def connectors(self) -> List[str]:
        return sorted(self.request("GET", "/connectors"))

    def connectors_with_status(self) -> Dict[str, Dict[str, Any]]:
        """Every connector's status in one call (`?expand=status`)."""
        body = self.request("GET", "/connectors?expand=status") or {}
        return {name: entry["status"] for name, entry in sorted(body.items())}

    def validate(self, connector_class: str, config: Dict[str, str]) -> Dict[str, Any]:
        path = f"/connector-plugins/{quote(connector_class, safe='')}/config/validate"
        return self.request("PUT", path, json=config)

    # -- one connector ---------------------------------------------------------------------

    def config(self, name: str) -> Optional[Dict[str, str]]:
        return self.request("GET", f"/connectors/{quote(name, safe='')}/config", expect_missing=True)

    def put_config(self, name: str, config: Dict[str, str]) -> Dict[str, Any]:
        return self.request("PUT", f"/connectors/{quote(name, safe='')}/config", json=config)

    def status(self, name: str) -> Optional[Dict[str, Any]]:
        return self.request("GET", f"/connectors/{quote(name, safe='')}/status", expect_missing=True)

    def require_status(self, name: str) -> Dict[str, Any]:
        return self._connector("GET", name, "/status")

    def pause(self, name: str) -> None:
        self._connector("PUT", name, "/pause")

    def resume(self, name: str) -> None:
        self._connector("PUT", name, "/resume")

    def stop(self, name: str) -> None:
        self._connector("PUT", name, "/stop")

    def restart(self, name: str, *, failed_only: bool = False) -> Optional[Dict[str, Any]]:
        """Restart the connector and its tasks (Connect 3.0+), or only the failed ones."""
        query = f"?includeTasks=true&onlyFailed={'true' if failed_only else 'false'}"
        return self._connector("POST", name, "/restart", query=query)

    def delete(self, name: str) -> None:
        self._connector("DELETE", name)

    def offsets(self, name: str) -> List[Dict[str, Any]]:
        return (self._connector("GET", name, "/offsets") or {}).get("offsets", [])

    def reset_offsets(self, name: str) -> str:
        body = self._connector("DELETE", name, "/offsets") or {}
        return str(body.get("message") or "offsets reset")

    # -- waiting ---------------------------------------------------------------------------

    def wait_running(self, name: str, *, timeout: float = 60.0, settle: float = 0.0,
                     held: Collection[str] = ()) -> Dict[str, Any]:
        """Wait until the connector and all its tasks are RUNNING; raise with the reason otherwise.

        `settle`: RUNNING must hold that long, so a connector that Connect is still restarting
        with a new config (the old tasks still say RUNNING) or whose tasks fail right after
        their start is not taken for running. `held`: connector states that do not change by
        themselves (PAUSED, STOPPED after an apply): raise at once instead of waiting.
        """
        return self.wait_state(name, "RUNNING", timeout=timeout, settle=settle, held=held)

    def wait_state(self, name: str, wanted: str, *, timeout: float = 60.0, settle: float = 0.0,
                   held: Collection[str] = ()) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        since: Optional[float] = None
        while True:
            last = self.status(name)
            if last is not None:
                state = last["connector"]["state"]
                tasks = last.get("tasks") or []
                failed = [task for task in tasks if task["state"] == "FAILED"]
                if state == "FAILED" or failed:
                    trace = (failed[0] if failed else last["connector"]).get("trace", "")
                    raise ConnectError(f"Connector {name} FAILED: {first_trace_line(trace)}")
                if state in held:
                    action = "resume" if state == "PAUSED" else "resume (or restart)"
                    raise ConnectError(
                        f"Connector {name} is {state}; {action} it with `python -m ops.connectors resume {name}`."
                    )
                if _reached(wanted, state, tasks):
                    now = time.monotonic()
                    since = now if since is None else since
                    if now - since >= settle:
                        return last
                else:
                    since = None
            if time.monotonic() >= deadline:
                state = last["connector"]["state"] if last else "absent"
                raise ConnectError(
                    f"Connector {name} was not {wanted} within {timeout:.0f} s (state {state}); "
                    "see `python -m ops.connectors status`."
                )
            time.sleep(0.5)


def _reached(wanted: str, state: str, tasks: List[Dict[str, Any]]) -> bool:
    if state != wanted:
        return False
    if wanted == "STOPPED":  # a stopped connector has no tasks at all
        return not tasks
    return bool(tasks) and all(task["state"] == wanted for task in tasks)


def first_trace_line(trace: Optional[str]) -> str:
    trace = (trace or "").strip()
    return trace.splitlines()[0] if trace else "no trace"


def _rebalancing(response: requests.Response) -> bool:
    """409 while the worker group rebalances: the same call succeeds once it settles.

    409 also means "already exists" (POST /connectors), which no wait will change.
    """
    return response.status_code == 409 and "already exists" not in _message(response)


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(body)[:300]
