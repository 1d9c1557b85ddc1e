"""Start order and outages: a worker started before its broker waits (not-ready on /health) instead of
crash-looping, and a worker whose broker stops answering rides the outage out and catches up.

Each test runs its own throwaway broker (the stack's Tansu binary on a free port): stopping the test
stack's broker would take the other tests' topics with it (it keeps them in memory).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Iterator, List

import pytest

from dev.stack.layout import StackLayout
from dev.stack.processes import stop_process
from dev.stack.workers import health, start_worker, worker_env
from tests.support.http import get_json
from tests.support.kafka import produce
from tests.support.stack_fixtures import free_port
from tests.support.throwaway_broker import Broker
from tests.support.waiting import eventually
from topics import ACCOUNT_CHANGES

pytestmark = pytest.mark.integration


@pytest.fixture()
def throwaway(stack_env, tmp_path) -> Iterator:
    """Factory of (broker, worker URL, worker process) on a free port; all stopped at the end."""
    layout = StackLayout.from_env(stack_env)
    brokers: List[Broker] = []
    workers: List[subprocess.Popen] = []

    def make():
        broker = Broker(free_port(), tmp_path / f"broker-{len(brokers)}.log")
        brokers.append(broker)
        app_id = f"start-{uuid.uuid4().hex[:8]}"
        web_port = free_port()
        env = worker_env(layout, app_id, web_port=web_port, app_id=app_id,
                         extra={"KAFKA_BOOTSTRAP": broker.bootstrap})

        def start_the_worker() -> subprocess.Popen:
            workers.append(start_worker(env, layout.log_file(app_id)))
            return workers[-1]

        return broker, f"http://127.0.0.1:{web_port}", start_the_worker

    yield make
    for process in workers:
        stop_process(process)
    for broker in brokers:
        broker.stop()


def change(account_id: int, balance: str, lsn: int) -> bytes:
    """An accounts change as Debezium writes it (schemaless envelope, decimal as text)."""
    return json.dumps({
        "before": None, "op": "u" if lsn > 1 else "c",
        "after": {"id": account_id, "customer_id": 1, "currency": "EUR", "balance": balance, "status": "open",
                  "opened_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"},
        "source": {"schema": "public", "table": "accounts", "lsn": lsn, "txId": lsn, "ts_ms": 1, "snapshot": "false"},
    }).encode()


def balance(url: str, account_id: int):
    status, body = get_json(f"{url}/accounts/{account_id}")
    return body.get("balance") if status == 200 else None


def wait_not_ready_for_a_while(url: str, process, *, seconds: float, reason: str) -> dict:
    """/health says not-ready with `reason` on every look for `seconds`, and the worker keeps running."""
    first_seen = None

    def probe():
        nonlocal first_seen
        assert process.poll() is None, f"the worker exited with {process.returncode}"
        body = health(url) or {}
        if reason not in body.get("reasons", ()):
            first_seen = None
        elif first_seen is None:
            first_seen = time.monotonic()
        return body

    return eventually(probe, lambda body: first_seen is not None and time.monotonic() - first_seen >= seconds,
                      timeout=seconds + 90, interval=0.5, what=f"/health not-ready ({reason}) for {seconds:.0f} s")


def test_a_worker_started_before_its_broker_waits_then_starts(throwaway):
    broker, url, start = throwaway()
    worker = start()

    body = wait_not_ready_for_a_while(url, worker, seconds=10, reason="broker unreachable")
    assert body["status"] == "not-ready"
    assert body["broker"] == f"nothing accepts connections at {broker.bootstrap}"
    status, _ = get_json(f"{url}/health")
    assert status == 503
    # The other views answer too, at once: not yet.
    assert get_json(f"{url}/accounts/5") == (503, {"error": "partitions are not assigned yet; retry shortly"})
    assert get_json(f"{url}/live/alerts") == (503, {"error": "broker unreachable; retry shortly"})

    # No topics either: as when Kafka Connect has not created them yet.
    broker.start()
    eventually(lambda: health(url) or {}, lambda b: b.get("status") == "ready", timeout=120,
               what="the worker ready once the broker answers")
    produce(broker.bootstrap, ACCOUNT_CHANGES.name, key=b"5", value=change(5, "50.00", 1))
    eventually(lambda: balance(url, 5), lambda b: b == "50.00", timeout=60, what="the first change applied")
    assert worker.poll() is None


def test_a_worker_waiting_for_its_broker_stops_cleanly_on_sigterm(throwaway):
    _, url, start = throwaway()
    worker = start()
    eventually(lambda: health(url) or {}, lambda b: "broker unreachable" in b.get("reasons", ()), timeout=90,
               what="/health says broker unreachable")

    worker.terminate()

    assert worker.wait(timeout=60) == 0


def test_a_broker_outage_is_ridden_out_and_the_worker_catches_up(throwaway):
    broker, url, start = throwaway()
    broker.start()
    worker = start()
    eventually(lambda: health(url) or {}, lambda b: b.get("status") == "ready", timeout=120, what="worker ready")
    produce(broker.bootstrap, ACCOUNT_CHANGES.name, key=b"7", value=change(7, "70.00", 1))
    eventually(lambda: balance(url, 7), lambda b: b == "70.00", timeout=60, what="the first change applied")

    broker.pause()
    try:
        # Longer than the session timeout (6 s on the local stack): the group has to be rebuilt after it.
        wait_not_ready_for_a_while(url, worker, seconds=15, reason="broker unreachable")
        assert balance(url, 7) == "70.00"  # reads go on from the tables meanwhile
    finally:
        broker.resume()

    eventually(lambda: health(url) or {}, lambda b: b.get("status") == "ready", timeout=120,
               what="the worker ready again after the outage")
    for lsn, amount in enumerate(("71.00", "72.00", "73.00"), start=2):
        produce(broker.bootstrap, ACCOUNT_CHANGES.name, key=b"7", value=change(7, amount, lsn))
    eventually(lambda: balance(url, 7), lambda b: b == "73.00", timeout=90, what="the changes after the outage")
    assert worker.poll() is None
