"""Where the local stack lives: its state folder, ports, and which services are the user's own."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

__all__ = ["REPO_ROOT", "StackLayout"]

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StackLayout:
    """The local stack's folder and ports; `external_*` hold services the user runs instead."""

    root: Path
    kafka_port: int
    postgres_port: int
    connect_port: int
    web_port: int
    external_kafka: Optional[str]
    external_database: Optional[str]
    external_connect: Optional[str]
    prometheus_port: int = 9090

    #: The environment variable that changes each port, for the "port taken" message.
    PORT_SETTINGS = {
        "kafka": "STACK_KAFKA_PORT",
        "postgres": "STACK_POSTGRES_PORT",
        "connect": "STACK_CONNECT_PORT",
        "prometheus": "STACK_PROMETHEUS_PORT",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "StackLayout":
        root = Path(environ.get("STACK_DIR") or REPO_ROOT / ".stack")
        if not root.is_absolute():
            root = REPO_ROOT / root
        kafka_port = _port(environ, "STACK_KAFKA_PORT", 9092)
        postgres_port = _port(environ, "STACK_POSTGRES_PORT", 5433)
        connect_port = _port(environ, "STACK_CONNECT_PORT", 8083)
        web_port = _port(environ, "WEB_PORT", 6066)
        prometheus_port = _port(environ, "STACK_PROMETHEUS_PORT", 9090)
        local = cls(root, kafka_port, postgres_port, connect_port, web_port, None, None, None)
        # A variable that names our own local service (e.g. from a sourced .stack/env)
        # is not the user's own service.
        return cls(
            root, kafka_port, postgres_port, connect_port, web_port,
            _external(environ, "KAFKA_BOOTSTRAP", local.kafka_bootstrap),
            _external(environ, "DATABASE_URL", local.database_url),
            _external(environ, "CONNECT_URL", local.connect_url),
            prometheus_port,
        )

    # Addresses of the local services.
    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return self.external_database or f"postgresql://postgres@127.0.0.1:{self.postgres_port}/ledger"

    @property
    def connect_url(self) -> str:
        return self.external_connect or f"http://127.0.0.1:{self.connect_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # Files under the state folder.
    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def workers_dir(self) -> Path:
        """Worker-local state (RocksDB); meaningless once the broker it mirrors is gone."""
        return self.root / "workers"

    def pid_file(self, service: str) -> Path:
        return self.root / "run" / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.logs_dir / f"{service}.log"

    def env_values(self) -> dict:
        """What `.stack/env` holds: where scripts, tests and tools find the stack."""
        return {
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "DATABASE_URL": self.database_url,
            "CONNECT_URL": self.connect_url,
            "WEB_URL": self.web_url,
            # The local broker holds a JoinGroup for half the rebalance timeout;
            # short timeouts make worker starts take seconds instead of half a minute.
            "BROKER_REBALANCE_TIMEOUT": "6",
            "BROKER_SESSION_TIMEOUT": "6",
            "BROKER_HEARTBEAT_INTERVAL": "1",
            # The local broker's ListOffsets undercounts; see transport/end_offsets.py.
            "BROKER_END_OFFSETS_PROBE": "true",
            # The local broker holds a fetch for its whole wait even when data arrives; Faust's
            # fixed 1.5 s wait made every alert about 1.2 s late (results/).
            "BROKER_FETCH_MAX_WAIT_MS": "100",
        }


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        from .processes import StackError

        raise StackError(f"{name}={raw!r} is not a port number; set it to a number between 1 and 65535.")
    return port


def _external(environ: Mapping[str, str], name: str, local_value: str) -> Optional[str]:
    value = environ.get(name)
    if not value or value == local_value:
        return None
    return value
