"""The local stack's command line on a stack of its own: up twice, status, down, a taken port."""

from __future__ import annotations

import socket

import pytest

from dev.stack.processes import pid_alive, port_is_open

from tests.support.stack_fixtures import base_env, free_port, run_stack

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
