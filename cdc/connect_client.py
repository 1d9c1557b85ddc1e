"""A small client of the Kafka Connect REST API, built on a requests session."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import requests

__all__ = ["ConnectError", "ConnectClient"]

#: Methods safe to repeat: retried on connection errors and 5xx. PUT of a config is
#: idempotent too (the same config twice is one config).
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
                    f"Kafka Connect at {self.url} is unreachable; start it (`make up`) or set CONNECT_URL."
                ) from None
            except requests.Timeout:
                if method in _IDEMPOTENT and attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise ConnectError(
                    f"Kafka Connect at {self.url} did not answer {method} {path} within {self.timeout:.0f} s; "
                    "check that it is healthy (`make status`)."
                ) from None
            # 409: the worker group is rebalancing; the same call succeeds once it settles.
            retryable = response.status_code == 409 or (response.status_code >= 500 and method in _IDEMPOTENT)
            if retryable and attempt <= self.retries:
                self._pause(attempt)
                continue
            if response.status_code == 404 and expect_missing:
                return None
            if response.status_code >= 400:
                raise ConnectError(
                    f"Kafka Connect refused {method} {path} (HTTP {response.status_code}): {_message(response)}",
                    status=response.status_code,
                )
            if response.status_code == 204 or not response.content:
                return None
            return response.json()

    def _pause(self, attempt: int) -> None:
        time.sleep(min(self.backoff * 2 ** (attempt - 1), 5.0))

    # -- connectors ------------------------------------------------------------------------

    def connectors(self) -> List[str]:
        return sorted(self.request("GET", "/connectors"))

    def config(self, name: str) -> Optional[Dict[str, str]]:
        return self.request("GET", f"/connectors/{name}/config", expect_missing=True)

    def put_config(self, name: str, config: Dict[str, str]) -> Dict[str, Any]:
        return self.request("PUT", f"/connectors/{name}/config", json=config)

    def status(self, name: str) -> Optional[Dict[str, Any]]:
        return self.request("GET", f"/connectors/{name}/status", expect_missing=True)

    def wait_running(self, name: str, *, timeout: float = 60.0) -> Dict[str, Any]:
        """Wait until the connector and all its tasks are RUNNING; raise with the reason otherwise."""
        deadline = time.monotonic() + timeout
        last: Optional[Dict[str, Any]] = None
        while True:
            last = self.status(name)
            if last is not None:
                states = [last["connector"]["state"]] + [task["state"] for task in last.get("tasks", [])]
                if last.get("tasks") and all(state == "RUNNING" for state in states):
                    return last
                failed = [task for task in last.get("tasks", []) if task["state"] == "FAILED"]
                if last["connector"]["state"] == "FAILED" or failed:
                    trace = (failed[0] if failed else last["connector"]).get("trace", "")
                    first_line = trace.strip().splitlines()[0] if trace.strip() else "no trace"
                    raise ConnectError(f"Connector {name} FAILED: {first_line}")
            if time.monotonic() >= deadline:
                state = last["connector"]["state"] if last else "absent"
                raise ConnectError(
                    f"Connector {name} was not RUNNING within {timeout:.0f} s (state {state}); "
                    "see `python -m cdc status`."
                )
            time.sleep(0.5)


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(body)[:300]
