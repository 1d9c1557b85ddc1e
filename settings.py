"""Settings: every knob of ledgerstream, each read from one environment variable.

Defaults serve the local stack (`make up`); production overrides them by environment.
Reading settings never touches the network and no variable is required.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
from dataclasses import Field, dataclass, field, fields
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:  # imported where used: settings import nothing of the pipeline at import time
    from detection.withdrawals import RuleSettings

__all__ = ["Settings", "SettingsError", "Range", "load_settings", "ENV_VARS", "PROCESSING_GUARANTEES"]

#: Faust's processing guarantees. exactly_once needs a broker with transactions (not the local one).
PROCESSING_GUARANTEES = ("at_least_once", "exactly_once")


class SettingsError(ValueError):
    """A setting's value that cannot be used; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class Range:
    """The values a number setting accepts: `low <= value` (or `<` when not `low_inclusive`), `value <= high`."""

    low: Optional[float] = None
    high: Optional[float] = None
    low_inclusive: bool = True

    def admits(self, value: float) -> bool:
        if self.low is not None and (value < self.low if self.low_inclusive else value <= self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        if self.low is not None and self.high is not None and self.low_inclusive:
            return f"from {_number(self.low)} to {_number(self.high)}"
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"<= {_number(self.high)}")
        return " and ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


#: The ranges settings name: a count of at least one, a positive duration, a TCP port, zero or more.
AT_LEAST_ONE = Range(1)
POSITIVE = Range(0, low_inclusive=False)
NOT_NEGATIVE = Range(0)
PORT = Range(1, 65535)


def _env(name: str, default: Any, *, help: str, secret: bool = False, range: Optional[Range] = None) -> Any:
    """A dataclass field that names its environment variable and, for a number, the range it accepts;
    a secret one stays out of repr()."""
    return field(default=default, repr=not secret,
                 metadata={"env": name, "help": help, "secret": secret, "range": range})


@dataclass(frozen=True)
class Settings:
    app_id: str = _env("APP_ID", "ledgerstream", help="Faust app id: consumer group and topic prefix.")
    kafka_bootstrap: str = _env(
        "KAFKA_BOOTSTRAP", "127.0.0.1:9092", help="Kafka bootstrap servers, host:port[,host:port].")
    database_url: str = _env(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5433/ledger", help="The ledger database (PostgreSQL).",
        secret=True,  # may hold a password
    )
    cdc_password: str = _env(
        "CDC_PASSWORD", "", secret=True,
        help="Password `python -m ops.migrations` gives Debezium's replication role (unset: none, as locally).")
    connect_url: str = _env("CONNECT_URL", "http://127.0.0.1:8083", help="Kafka Connect REST API.")
    web_url: str = _env("WEB_URL", "http://127.0.0.1:6066", help="Where clients reach the worker's web views.")
    web_bind: str = _env("WEB_BIND", "127.0.0.1", help="Address the worker's web server binds to.")
    web_port: int = _env("WEB_PORT", 6066, help="Port of the worker's web server.", range=PORT)
    web_token: str = _env(
        "WEB_TOKEN", "", secret=True,
        help="When set, every web view but the probes needs `Authorization: Bearer <WEB_TOKEN>`; required "
             "on a non-loopback WEB_BIND.")
    web_peer_secret: str = _env(
        "WEB_PEER_SECRET", "", secret=True,
        help="Key of the signature workers put on requests they forward to a key's owner (unset: derived from "
             "WEB_TOKEN, or from APP_ID when WEB_TOKEN is unset too); the same on every worker of an app.")
    web_allow_unauthenticated: bool = _env(
        "WEB_ALLOW_UNAUTHENTICATED", False,
        help="Let a worker bound to a non-loopback WEB_BIND serve without WEB_TOKEN (open to anyone who reaches it).")
    web_forward_timeout_ms: int = _env(
        "WEB_FORWARD_TIMEOUT_MS", 2000, range=Range(50, 60000),
        help="How long a worker waits for the key's owner to answer a forwarded request before a 503.")
    web_forward_concurrency: int = _env(
        "WEB_FORWARD_CONCURRENCY", 64, range=Range(1, 10000),
        help="Forwarded requests one worker has in flight at most; one more is a 503 at once.")
    web_faust_pages: bool = _env(
        "WEB_FAUST_PAGES", False,
        help="Serve Faust's own pages (/router, /table: table contents, /graph, /stats); off by default.")
    web_canonical_url: str = _env(
        "WEB_CANONICAL_URL", "", help="URL other workers use to reach this one (default: from bind and port)."
    )
    store: str = _env("STORE_URL", "rocksdb://", help="Table store: rocksdb:// in production, memory:// in unit tests.")
    data_dir: str = _env("DATA_DIR", "ledgerstream-data", help="Worker-local state (RocksDB) folder.")
    # Faust's defaults suit Apache Kafka; the local broker holds a JoinGroup for half the
    # rebalance timeout, so the local stack sets these short (see dev/stack/).
    broker_rebalance_timeout: Optional[float] = _env(
        "BROKER_REBALANCE_TIMEOUT", None, help="Consumer rebalance timeout, seconds.", range=POSITIVE
    )
    broker_session_timeout: Optional[float] = _env("BROKER_SESSION_TIMEOUT", None,
                                                   help="Consumer session timeout, seconds.", range=POSITIVE)
    broker_heartbeat_interval: Optional[float] = _env(
        "BROKER_HEARTBEAT_INTERVAL", None, help="Consumer heartbeat interval, seconds.", range=POSITIVE
    )
    broker_end_offsets_probe: bool = _env(
        "BROKER_END_OFFSETS_PROBE", False,
        help="Correct end offsets by a fetch (for the local broker, whose ListOffsets undercounts).",
    )
    # at_least_once with idempotent effects (see docs/reliability.md); exactly_once needs a broker with
    # transactions, which the local broker lacks.
    processing_guarantee: str = _env(
        "PROCESSING_GUARANTEE", "at_least_once", help="Faust processing guarantee: at_least_once or exactly_once.")
    broker_fetch_max_wait_ms: Optional[int] = _env(
        "BROKER_FETCH_MAX_WAIT_MS", None,
        help="Longest wait of a consumer fetch (Faust's fixed 1500 when unset; short on the local broker).",
        range=NOT_NEGATIVE,
    )
    producer_linger_ms: int = _env("PRODUCER_LINGER_MS", 10, help="How long the producer batches records.",
                                   range=NOT_NEGATIVE)
    state_flush_interval_ms: int = _env(
        # Longer means fewer changelog records (a busy row is written once per interval) and more to
        # replay after a crash; views read through the cache, so they are fresh either way. 250 ms
        # costs 10-15% of throughput against 1 s; beyond 1 s the gain is within this machine's noise
        # (results/). Quix Streams checkpoints every 5 s, Kafka Streams commits every 30 s.
        "STATE_FLUSH_INTERVAL_MS", 5000,
        help="Batch agents write cached table rows to the tables (and changelogs) at least this often.",
        range=POSITIVE,
    )
    state_flush_records: int = _env(
        "STATE_FLUSH_RECORDS", 20000, help="...or as soon as this many records of a partition wait for a flush.",
        range=AT_LEAST_ONE)
    state_row_limit_bytes: int = _env(
        # Every table's rows are designed to stay far below this whatever a key's volume (tables/);
        # one over it is refused, logged, counted on /health and dead-lettered, never sent.
        "STATE_ROW_LIMIT_BYTES", 64 * 1024, help="Largest table row (serialized key and value) written at a flush.",
        range=AT_LEAST_ONE)
    table_standby_replicas: int = _env(
        # A standby keeps another worker's table partitions warm from their changelogs, so when that
        # worker dies its partitions are served again without replaying their changelogs from the
        # start. It costs a changelog consumer's work per replica on every worker, and does nothing
        # with a single worker.
        "TABLE_STANDBY_REPLICAS", 0, help="Standby copies of each table partition kept on other workers.",
        range=Range(0, 3))
    reconcile_interval_s: int = _env(
        "RECONCILE_INTERVAL_S", 0, range=Range(0, 7 * 86400),
        help="Reconcile the read models with the ledger this often, as metrics (0: never; one worker is enough).")
    reconcile_database_url: str = _env(
        # A role that may read customers, accounts and transactions (the CDC role may).
        "RECONCILE_DATABASE_URL", "", secret=True,
        help="The ledger, for the worker's periodic reconciliation (read access to its tables is enough).")
    log_level: str = _env("LOG_LEVEL", "info", help="Worker log level (wins over the CLI's -l when set).")
    log_format: str = _env(
        "LOG_FORMAT", "text", help="Worker logs: text, or json (one JSON object per line; run `faust --quiet`).")
    web_access_log: bool = _env(
        "WEB_ACCESS_LOG", False, help="Log each web request (method, path, status, time; never headers or query).")
    metrics_enabled: bool = _env(
        "METRICS_ENABLED", True, help="Serve Prometheus metrics on /metrics and count what the worker does.")
    # Detection rules (declared in detection/catalog.yaml, thresholds there) and read models.
    rule_catalog: str = _env(
        "RULE_CATALOG", "", help="The rule catalogue file the worker reads at start (unset: detection/catalog.yaml).")
    rule_lateness_seconds: int = _env("RULE_LATENESS_SECONDS", 300,
                                      help="How late (by created_at) a transaction may arrive and be judged exactly.",
                                      range=NOT_NEGATIVE)
    balance_low_threshold: Decimal = _env("BALANCE_LOW_THRESHOLD", Decimal("100.00"),
                                          help="A balance crossing below this emits BalanceLow.",
                                          range=NOT_NEGATIVE)
    turnover_retention_days: int = _env("TURNOVER_RETENTION_DAYS", 35, help="Days of turnover kept per account.",
                                        range=AT_LEAST_ONE)
    alerts_kept_per_account: int = _env("ALERTS_KEPT_PER_ACCOUNT", 500, help="Newest alerts kept per account.",
                                        range=AT_LEAST_ONE)
    # Read-your-writes (docs/consistency.md): how long a view waits for `min_lsn` when `wait_ms` is not given,
    # and the longest `wait_ms` it accepts (kept well under the forwarding worker's HTTP timeout).
    consistency_wait_default_ms: int = _env(
        "CONSISTENCY_WAIT_DEFAULT_MS", 2000, help="Wait for `min_lsn` when a request gives no `wait_ms`.",
        range=Range(0, 60000))
    consistency_wait_max_ms: int = _env(
        "CONSISTENCY_WAIT_MAX_MS", 10000, help="Longest `wait_ms` a request may ask for.", range=Range(1, 60000))
    # As-of reads (docs/consistency.md): each account's row after each change, kept this long and at most this
    # many (a history row must stay under STATE_ROW_LIMIT_BYTES: 250 entries of ~250 bytes).
    balance_history_retention_hours: int = _env(
        "BALANCE_HISTORY_RETENTION_HOURS", 72, help="How far back as-of reads of an account go (hours).",
        range=Range(1, 24 * 400))
    balance_history_max_entries: int = _env(
        "BALANCE_HISTORY_MAX_ENTRIES", 200, help="Most entries kept in one account's history.", range=Range(2, 250))
    source_checkpoint_idle_ms: int = _env(
        "SOURCE_CHECKPOINT_IDLE_MS", 1000,
        help="With no request waiting, heartbeats are turned into source positions at most this often.",
        range=Range(1, 60000))
    # The live alert feed (views/live.py): each listener costs a socket and at most its queue and buffers.
    live_feed_max_listeners: int = _env(
        "LIVE_FEED_MAX_LISTENERS", 1000, help="Most /live/alerts clients at once; more get 503 with Retry-After.",
        range=Range(1, 100_000))
    live_feed_queue_size: int = _env(
        "LIVE_FEED_QUEUE_SIZE", 1000, help="Alerts queued per live client; a slower one loses its oldest, told so.",
        range=Range(1, 100_000))
    live_feed_write_timeout_seconds: float = _env(
        "LIVE_FEED_WRITE_TIMEOUT_SECONDS", 10.0,
        help="A live client that takes no write for this long is disconnected (it resumes by Last-Event-ID).",
        range=Range(0, 600, low_inclusive=False))

    def checked_processing_guarantee(self) -> str:
        if self.processing_guarantee not in PROCESSING_GUARANTEES:
            raise SettingsError(f"PROCESSING_GUARANTEE={self.processing_guarantee!r} is not one of "
                             f"{', '.join(PROCESSING_GUARANTEES)}; set one of them or unset it.")
        return self.processing_guarantee

    def checked_web_exposure(self) -> None:
        """Refuse views open to the network: a non-loopback bind needs WEB_TOKEN, or an explicit opt-out."""
        if self.web_token or self.web_allow_unauthenticated or _is_loopback(self.web_bind):
            return
        raise SettingsError(
            f"WEB_BIND={self.web_bind!r} serves the views beyond this machine without a token; set WEB_TOKEN "
            "(or WEB_BIND=127.0.0.1, or WEB_ALLOW_UNAUTHENTICATED=true to serve them open on purpose).")

    @property
    def peer_secret(self) -> bytes:
        """The key of forwarded requests' signatures (views/peer_auth.py): WEB_PEER_SECRET, else derived from
        WEB_TOKEN (so one secret configures a deployment), else from APP_ID (views then are open anyway)."""
        if self.web_peer_secret:
            return self.web_peer_secret.encode("utf-8")
        base = self.web_token or f"unauthenticated:{self.app_id}"
        return hmac.new(base.encode("utf-8"), b"ledgerstream peer signature v1", hashlib.sha256).digest()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _checked(f, _parse(f, raw), raw)
        return cls(**values)

    def rule_settings(self) -> RuleSettings:
        """The time window and count window rules of the catalogue (read once, see detection/catalog.py)."""
        from detection.catalog import loaded_catalog

        return loaded_catalog(self.rule_catalog).withdrawal_settings(timedelta(seconds=self.rule_lateness_seconds))

    @property
    def canonical_url(self) -> str:
        if self.web_canonical_url:
            return self.web_canonical_url
        host = self.web_bind if self.web_bind not in ("0.0.0.0", "::", "") else socket.gethostname()
        if ":" in host:  # an IPv6 address goes in brackets in a URL
            host = f"[{host}]"
        return f"http://{host}:{self.web_port}"


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _checked(f: Field[Any], value: Any, raw: str) -> Any:
    """The value, if its field's range admits it."""
    allowed = f.metadata.get("range")
    if allowed is not None and not allowed.admits(value):
        name = f.metadata["env"]
        raise SettingsError(f"{name}={raw!r} is out of range; set {name} to a number {allowed} or unset it.")
    return value


def _parse(f: Field[Any], raw: str) -> Any:
    name = f.metadata["env"]
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if "bool" in kind:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}={raw!r} is not a yes/no value; set {name} to true or false.")
    try:
        if "Decimal" in kind:
            number = Decimal(raw)
            if not number.is_finite():
                raise InvalidOperation
            return number
        if "int" in kind:
            return int(raw)
        if "float" in kind:
            real = float(raw)
            if real != real or real in (float("inf"), float("-inf")):
                raise ValueError
            return real
    except (ValueError, InvalidOperation):
        raise SettingsError(f"{name}={raw!r} is not a number; set {name} to a number or unset it.") from None
    return raw


#: Every environment variable the settings read, for checks (e.g. docker-compose.yml).
ENV_VARS = frozenset(f.metadata["env"] for f in fields(Settings))

_loaded: Optional[Settings] = None


def load_settings() -> Settings:
    """The process's settings, read from the environment once."""
    global _loaded
    if _loaded is None:
        _loaded = Settings.from_env()
    return _loaded
