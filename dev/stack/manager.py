"""The local stack as a whole: bring it up in order, take it down, say what runs where."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import psycopg

from dev.demo_ledger.connection import redact
from ops.connectors.apply import apply_connectors
from ops.connectors.connect_client import ConnectClient
from ops.connectors.connector_files import load_connectors
from ops.migrations.runner import apply_migrations
from topics import CDC_TOPICS, DOMAIN_EVENT_TOPICS

from .broker import broker_running, start_broker, stop_broker
from .connect import connect_ready, connect_running, start_connect, stop_connect
from .env_file import write_env_file
from .kafka_topics import ensure_topics
from .layout import StackLayout
from .postgres import postgres_pid, postgres_running, start_postgres, stop_postgres
from .processes import StackError, port_is_free, port_is_open, read_pid
from .prometheus import prometheus_binary, prometheus_running, start_prometheus, stop_prometheus

__all__ = ["up", "down", "status", "ServiceStatus"]

Say = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


def up(layout: StackLayout, say: Say = _print) -> None:
    """Start what is not running, then migrate and apply connectors. Safe to run twice."""
    layout.root.mkdir(parents=True, exist_ok=True)
    _check_ports(layout)

    new_broker = False
    if layout.external_kafka:
        say(f"kafka: using {redact(layout.external_kafka)}")
    elif broker_running(layout):
        say(f"kafka: running at {layout.kafka_bootstrap}")
    else:
        # A new memory-backed broker is a new world. Kafka Connect must not see it before it is
        # restarted: its clients, reconnecting, would create its internal topics with the broker's
        # default partitions, and the next Connect worker refuses a config topic of more than one.
        if not layout.external_connect and connect_running(layout):
            say("connect: stopping for the new broker")
            stop_connect(layout)
        say("kafka: starting")
        start_broker(layout)
        new_broker = True

    if layout.external_database:
        say("postgres: using DATABASE_URL")
    elif postgres_running(layout):
        say(f"postgres: running on port {layout.postgres_port}")
    else:
        say("postgres: starting")
        start_postgres(layout)

    if new_broker:
        _forget_old_broker(layout, say)

    applied = apply_migrations(layout.database_url, cdc_password=os.environ.get("CDC_PASSWORD") or None)
    say(f"postgres: migrations {', '.join(applied) or 'up to date'}")

    if layout.external_connect:
        say(f"connect: using {redact(layout.external_connect)}")
    elif connect_running(layout) and connect_ready(layout.connect_url):
        say(f"connect: running at {layout.connect_url}")
    else:
        stop_connect(layout)  # a half-started worker from an earlier run
        say("connect: starting (about 20 s)")
        start_connect(layout)

    ensure_topics(layout.kafka_bootstrap, CDC_TOPICS + DOMAIN_EVENT_TOPICS)
    apply_connectors(ConnectClient(layout.connect_url), load_connectors(),
                     say=lambda line: say(f"connector {line}"))

    if prometheus_running(layout):
        say(f"prometheus: running at {layout.prometheus_url}")
    elif prometheus_binary() is None:
        say("prometheus: not installed (`make setup` installs it); the stack runs without it")
    else:
        say("prometheus: starting")
        start_prometheus(layout)

    write_env_file(layout.env_file, layout.env_values())
    say(f"ready: addresses in {layout.env_file}")


def _forget_old_broker(layout: StackLayout, say: Say) -> None:
    """A new memory-backed broker is a new world: drop state that describes the old one's topics."""
    if layout.workers_dir.exists():
        shutil.rmtree(layout.workers_dir)
        say("workers: local table state cleared (the new broker has no changelogs for it)")
    if layout.external_connect:
        say("postgres: replication slots kept (Kafka Connect is yours; reset them if its topics are gone)")
        return
    # Debezium's slot remembers how far the old topics got; without it, the connector
    # snapshots the ledger again into the new topics.
    slots = {d.config.get("slot.name") for d in load_connectors()} - {None}
    with psycopg.connect(layout.database_url, autocommit=True) as conn:
        for slot in sorted(slots):
            if _drop_slot(conn, slot):
                say(f"postgres: replication slot {slot} reset")


def _drop_slot(conn, slot: str, *, timeout: float = 15.0) -> bool:
    """Drop a replication slot once its reader is gone; end a reader that lingers past `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute("SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = %s",
                           (slot,)).fetchone()
        if row is None:
            return False
        active, pid = row
        if not active:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            return True
        if time.monotonic() >= deadline:
            # The Connect worker that read it is stopped; what still holds the slot is a leftover.
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)


def _check_ports(layout: StackLayout) -> None:
    wanted = []
    if not layout.external_kafka and not broker_running(layout):
        wanted.append(("kafka", layout.kafka_port))
    if not layout.external_database and not postgres_running(layout):
        wanted.append(("postgres", layout.postgres_port))
    if not layout.external_connect and not connect_running(layout):
        wanted.append(("connect", layout.connect_port))
    if prometheus_binary() is not None and not prometheus_running(layout):
        wanted.append(("prometheus", layout.prometheus_port))
    for service, port in wanted:
        if not port_is_free("127.0.0.1", port) or port_is_open("127.0.0.1", port):
            setting = StackLayout.PORT_SETTINGS[service]
            raise StackError(f"Port {port} for {service} is taken; free it or set {setting} to another port.")


def down(layout: StackLayout, *, purge: bool = False, say: Say = _print) -> None:
    """Stop every service of the local stack; with purge, delete its state folder too."""
    if connect_running(layout):
        say("connect: stopping")
    stop_connect(layout)
    if prometheus_running(layout):
        say("prometheus: stopping")
    stop_prometheus(layout)
    if broker_running(layout):
        say("kafka: stopping")
    stop_broker(layout)
    if layout.root.exists() and postgres_running(layout):
        say("postgres: stopping")
        stop_postgres(layout)
    layout.env_file.unlink(missing_ok=True)
    if purge and layout.root.exists():
        link = layout.root / "postgres"
        if link.is_symlink():
            shutil.rmtree(link.resolve(), ignore_errors=True)
        shutil.rmtree(layout.root)
        say(f"removed {layout.root}")
    say("stopped")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str
    pid: Optional[int]
    address: str


def status(layout: StackLayout) -> List[ServiceStatus]:
    from .broker import SERVICE as KAFKA
    from .connect import SERVICE as CONNECT

    rows = []
    if layout.external_kafka:
        rows.append(ServiceStatus("kafka", "external", None, redact(layout.external_kafka)))
    else:
        rows.append(ServiceStatus("kafka", "running" if broker_running(layout) else "stopped",
                                  read_pid(layout.pid_file(KAFKA)), layout.kafka_bootstrap))
    if layout.external_database:
        rows.append(ServiceStatus("postgres", "external", None, "DATABASE_URL"))
    else:
        running = layout.root.exists() and postgres_running(layout)
        rows.append(ServiceStatus("postgres", "running" if running else "stopped",
                                  postgres_pid(layout) if running else None, layout.database_url))
    if layout.external_connect:
        rows.append(ServiceStatus("connect", "external", None, redact(layout.external_connect)))
    else:
        state = "stopped"
        if connect_running(layout):
            state = "running" if connect_ready(layout.connect_url) else "starting"
        rows.append(ServiceStatus("connect", state, read_pid(layout.pid_file(CONNECT)), layout.connect_url))
    if prometheus_binary() is not None:
        from .prometheus import SERVICE as PROMETHEUS

        rows.append(ServiceStatus("prometheus", "running" if prometheus_running(layout) else "stopped",
                                  read_pid(layout.pid_file(PROMETHEUS)), layout.prometheus_url))
    return rows
