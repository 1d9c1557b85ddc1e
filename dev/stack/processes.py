"""Processes of the local stack: start detached, remember by PID file, wait, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

__all__ = [
    "stop_process",
    "StackError",
    "wait_until",
    "port_is_open",
    "port_is_free",
    "start_detached",
    "read_pid",
    "pid_alive",
    "stop_pid",
]


class StackError(Exception):
    """A problem the user can act on; its message is one sentence saying what to do."""


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2,
               failed: Optional[Callable[[], Optional[str]]] = None) -> None:
    """Poll `condition` until it holds; raise StackError naming `what` at the deadline.

    `failed` may return a reason to stop waiting early (e.g. the process died).
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if failed is not None:
            reason = failed()
            if reason:
                raise StackError(f"{what} failed: {reason}")
        if time.monotonic() >= deadline:
            raise StackError(f"{what} was not ready within {timeout:.0f} s; see `make logs` for why.")
        time.sleep(interval)


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def start_detached(argv: Sequence[str], *, log_file: Path, pid_file: Path,
                   env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None) -> int:
    """Start a process in its own session (it outlives this command) and record its PID."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def read_pid(pid_file: Path) -> Optional[int]:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def stop_pid(pid: Optional[int], *, timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `timeout`."""
    if not pid_alive(pid):
        return
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if pid_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_process(process: subprocess.Popen, *, timeout: float = 30.0) -> None:
    """SIGTERM a child we started and wait for it; SIGKILL it if it has not ended within `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
