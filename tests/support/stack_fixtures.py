"""The real local stack for integration and end-to-end tests: its own folder and ports, up once per run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional

import psycopg
import pytest

from dev.stack.env_file import read_env_file
from dev.stack.layout import REPO_ROOT, StackLayout
from dev.stack.prometheus import add_scrape_target
from dev.stack.workers import start_worker, wait_ready, worker_env

#: The test stack's folder and ports, apart from a stack a developer runs with `make up`.
#: TEST_STACK_DIR and TEST_STACK_*_PORT move it, e.g. to run two suites side by side.
TEST_STACK = {
    "STACK_DIR": os.environ.get("TEST_STACK_DIR") or str(REPO_ROOT / ".stack-test"),
    "STACK_KAFKA_PORT": os.environ.get("TEST_STACK_KAFKA_PORT") or "19092",
    "STACK_POSTGRES_PORT": os.environ.get("TEST_STACK_POSTGRES_PORT") or "15433",
    "STACK_CONNECT_PORT": os.environ.get("TEST_STACK_CONNECT_PORT") or "18083",
    "STACK_PROMETHEUS_PORT": os.environ.get("TEST_STACK_PROMETHEUS_PORT") or "19090",
}
_SERVICE_VARS = ("KAFKA_BOOTSTRAP", "DATABASE_URL", "CONNECT_URL", "WEB_URL")


def base_env(**overrides: str) -> Dict[str, str]:
    """The environment of a stack command: no leftover addresses of another stack."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARS}
    env.update(overrides)
    return env


def run_stack(env: Dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dev.stack", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack_env() -> Iterator[Dict[str, str]]:
    """Bring the test stack up with the real CLI; yield what its env file says."""
    env = base_env(**TEST_STACK)
    result = run_stack(env, "up")
    assert result.returncode == 0, f"stack up failed:\n{result.stdout}\n{result.stderr}"
    env_file = Path(TEST_STACK["STACK_DIR"]) / "env"
    values = read_env_file(env_file)
    yield {**env, **values}
    if not os.environ.get("KEEP_TEST_STACK"):
        run_stack(env, "down", "--purge")


@pytest.fixture()
def db(stack_env) -> Iterator[psycopg.Connection]:
    with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:
        yield conn


@dataclass
class Worker:
    url: str
    process: subprocess.Popen
    log: Path
    #: Its Prometheus target file (dev/stack/prometheus.py), removed when it stops.
    scrape_target: Optional[Path] = None

    def kill(self) -> None:
        """SIGKILL the worker (its own process group): a crash, with no chance to commit or flush."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """A clean shutdown (SIGTERM), or SIGKILL when it does not end within `timeout`."""
        if self.scrape_target is not None:
            self.scrape_target.unlink(missing_ok=True)
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def _worker_factory(stack_env: Dict[str, str], started: List[Worker]):
    layout = StackLayout.from_env(stack_env)

    def start(app_id: str = "", name: str = "", ready_timeout: float = 120,
              env: Optional[Mapping[str, str]] = None, wait: bool = True) -> Worker:
        """`env` adds settings (environment variables) for this worker; `wait=False` returns before it is ready."""
        app_id = app_id or f"test-{uuid.uuid4().hex[:8]}"
        name = name or f"{app_id}-{len(started)}"
        port = free_port()
        env = worker_env(layout, name, web_port=port, app_id=app_id, extra=env)
        worker = Worker(f"http://127.0.0.1:{port}", start_worker(env, layout.log_file(name)), layout.log_file(name))
        started.append(worker)
        # The stack's Prometheus scrapes every test worker (labelled with its app id) while it runs.
        worker.scrape_target = add_scrape_target(layout, name, port, {"app_id": app_id})
        if wait:
            wait_ready(worker.url, worker.process, timeout=ready_timeout)
        return worker

    return start


@pytest.fixture()
def start_test_worker(stack_env) -> Iterator:
    """Factory: a real Faust worker on the test stack, with a fresh consumer group and state.

    Every worker it started is stopped when the test ends: one left running would read every
    later test's traffic and take its share of the cores.
    """
    started: List[Worker] = []
    try:
        yield _worker_factory(stack_env, started)
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture(scope="module")
def worker(stack_env) -> Iterator[Worker]:
    """One worker for a whole test module, stopped when the module is done."""
    started: List[Worker] = []
    try:
        yield _worker_factory(stack_env, started)()
    finally:
        for one in started:
            one.stop()
