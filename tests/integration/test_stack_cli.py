"""The local stack's command line on stacks of its own: up twice, status, down, a taken port, external
services, and a new broker as a new world."""

from __future__ import annotations

import json
import os
import signal
import socket

import psycopg
import pytest

from dev.stack.layout import StackLayout
from dev.stack.processes import pid_alive, port_is_open, read_pid
from tests.support.kafka import read_topic
from tests.support.ledger_sql import open_account
from tests.support.stack_fixtures import base_env, free_port, run_stack
from tests.support.waiting import eventually
from topics import ACCOUNT_CHANGES

pytestmark = pytest.mark.integration


def parse_status(output: str) -> dict:
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        pid = int(parts[3]) if len(parts) > 3 and parts[2] == "pid" else None
        rows[parts[0]] = (parts[1], pid)
    return rows


def test_up_twice_is_harmless_and_down_leaves_no_process(tmp_path):
    ports = {"STACK_KAFKA_PORT": free_port(), "STACK_POSTGRES_PORT": free_port(), "STACK_CONNECT_PORT": free_port(),
             "STACK_PROMETHEUS_PORT": free_port()}
    env = base_env(STACK_DIR=str(tmp_path / "stack"), **{k: str(v) for k, v in ports.items()})
    try:
        first = run_stack(env, "up")
        assert first.returncode == 0, first.stderr
        before = parse_status(run_stack(env, "status").stdout)
        assert {name: state for name, (state, _) in before.items()} == {
            "kafka": "running", "postgres": "running", "connect": "running", "prometheus": "running"}
        assert all(pid_alive(pid) for _, pid in before.values())

        second = run_stack(env, "up")
        assert second.returncode == 0, second.stderr
        assert "starting" not in second.stdout
        assert "connector ledger-postgres: unchanged" in second.stdout
        assert parse_status(run_stack(env, "status").stdout) == before

        env_file = (tmp_path / "stack" / "env").read_text()
        assert f"KAFKA_BOOTSTRAP=127.0.0.1:{ports['STACK_KAFKA_PORT']}" in env_file
        assert f"CONNECT_URL=http://127.0.0.1:{ports['STACK_CONNECT_PORT']}" in env_file
    finally:
        down = run_stack(env, "down", "--purge")
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(pid) for _, pid in before.values())
    assert not any(port_is_open("127.0.0.1", port) for port in ports.values())
    after = parse_status(run_stack(env, "status").stdout)
    assert {state for state, _ in after.values()} == {"stopped"}


def test_a_taken_port_is_one_line_naming_the_port_and_its_setting(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = base_env(STACK_DIR=str(tmp_path / "stack"), STACK_KAFKA_PORT=str(port),
                       STACK_POSTGRES_PORT=str(free_port()), STACK_CONNECT_PORT=str(free_port()),
                       STACK_PROMETHEUS_PORT=str(free_port()))
        result = run_stack(env, "up", timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0] and "STACK_KAFKA_PORT" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A stack of this module's own, so that one can be pointed at and its broker replaced."""
    root = tmp_path_factory.mktemp("own-stack")
    env = base_env(STACK_DIR=str(root / "stack"), STACK_KAFKA_PORT=str(free_port()),
                   STACK_POSTGRES_PORT=str(free_port()), STACK_CONNECT_PORT=str(free_port()),
                   STACK_PROMETHEUS_PORT=str(free_port()))
    up = run_stack(env, "up")
    assert up.returncode == 0, up.stderr
    try:
        yield env, StackLayout.from_env(env)
    finally:
        run_stack(env, "down", "--purge")


def test_pointed_at_external_services_up_starts_nothing_local_for_them(own_stack, tmp_path):
    _, services = own_stack
    env = base_env(STACK_DIR=str(tmp_path / "pointing"), STACK_KAFKA_PORT=str(free_port()),
                   STACK_POSTGRES_PORT=str(free_port()), STACK_CONNECT_PORT=str(free_port()),
                   STACK_PROMETHEUS_PORT=str(free_port()),
                   KAFKA_BOOTSTRAP=services.kafka_bootstrap, DATABASE_URL=services.database_url,
                   CONNECT_URL=services.connect_url)
    try:
        result = run_stack(env, "up")
        assert result.returncode == 0, result.stderr
        # Only the local Prometheus (which scrapes this stack's workers) is ever started here.
        started = [line for line in result.stdout.splitlines() if "starting" in line]
        assert all(line.startswith("prometheus:") for line in started), result.stdout
        layout = StackLayout.from_env(env)
        assert not any(layout.pid_file(service).exists() for service in ("kafka", "connect"))
        assert not (layout.root / "postgres").exists()
        states = {name: state for name, (state, _) in parse_status(run_stack(env, "status").stdout).items()}
        assert {name: states[name] for name in ("kafka", "postgres", "connect")} == {
            "kafka": "external", "postgres": "external", "connect": "external"}
    finally:
        run_stack(env, "down")
    # Its own ports stay untouched: nothing listens on them.
    assert not any(port_is_open("127.0.0.1", port) for port in (layout.kafka_port, layout.postgres_port,
                                                                 layout.connect_port))


def test_a_new_broker_is_a_new_world(own_stack):
    env, layout = own_stack
    with psycopg.connect(layout.database_url, autocommit=True) as db:
        _, account = open_account(db, "12.34")
    eventually(lambda: _row_ids(layout, ACCOUNT_CHANGES.name), lambda ids: account in ids, timeout=60,
               what="the account's change on the first broker")
    worker_state = layout.workers_dir / "a-worker" / "state.txt"
    worker_state.parent.mkdir(parents=True, exist_ok=True)
    worker_state.write_text("tables of the old broker's changelogs")
    connect_before = read_pid(layout.pid_file("connect"))

    os.kill(read_pid(layout.pid_file("kafka")), signal.SIGKILL)  # the broker's memory is gone
    eventually(lambda: port_is_open("127.0.0.1", layout.kafka_port), lambda up: not up, timeout=30,
               what="the broker gone")
    result = run_stack(env, "up")
    assert result.returncode == 0, result.stderr

    assert "connect: stopping for the new broker" in result.stdout and "kafka: starting" in result.stdout
    assert not worker_state.exists(), "the workers' local state of the old broker was kept"
    connect_after = read_pid(layout.pid_file("connect"))
    assert connect_after != connect_before and pid_alive(connect_after) and not pid_alive(connect_before)
    assert "replication slot ledgerstream reset" in result.stdout, result.stdout
    # The new topics hold the ledger again: the connector snapshotted it (op "r").
    snapshot = eventually(lambda: _ops_of(layout, ACCOUNT_CHANGES.name, account), lambda ops: "r" in ops,
                          timeout=120, what="the account snapshotted into the new broker's topic")
    assert snapshot == ["r"]


def _row_ids(layout, topic):
    return {int(r.key) for r in read_topic(layout.kafka_bootstrap, topic) if r.key and r.value}


def _ops_of(layout, topic, account):
    return [json.loads(r.value)["op"] for r in read_topic(layout.kafka_bootstrap, topic)
            if r.key and int(r.key) == account and r.value]
