"""Unit tests of settings: defaults, parsing of numbers, the canonical URL, ENV_VARS."""

from __future__ import annotations

import socket

import pytest

from settings import ENV_VARS, Settings


def test_empty_environment_gives_the_local_stack_defaults():
    s = Settings.from_env({})

    assert s.app_id == "ledgerstream"
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.database_url == "postgresql://postgres@127.0.0.1:5433/ledger"
    assert s.connect_url == "http://127.0.0.1:8083"
    assert s.web_url == "http://127.0.0.1:6066"
    assert s.web_bind == "127.0.0.1"
    assert s.web_port == 6066
    assert s.web_canonical_url == ""
    assert s.store == "rocksdb://"
    assert s.broker_rebalance_timeout is None
    assert s.broker_session_timeout is None
    assert s.broker_heartbeat_interval is None
    assert s.log_level == "info"


def test_empty_string_counts_as_unset():
    s = Settings.from_env({"WEB_PORT": "", "KAFKA_BOOTSTRAP": ""})

    assert s.web_port == 6066
    assert s.kafka_bootstrap == "127.0.0.1:9092"


def test_text_values_are_taken_as_given():
    s = Settings.from_env({"KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:9092", "STORE_URL": "memory://"})

    assert s.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert s.store == "memory://"


def test_int_and_float_values_are_parsed():
    s = Settings.from_env(
        {
            "WEB_PORT": "7001",
            "BROKER_REBALANCE_TIMEOUT": "6",
            "BROKER_SESSION_TIMEOUT": "6.5",
            "BROKER_HEARTBEAT_INTERVAL": "0.25",
        }
    )

    assert s.web_port == 7001 and type(s.web_port) is int
    assert s.broker_rebalance_timeout == 6.0 and type(s.broker_rebalance_timeout) is float
    assert s.broker_session_timeout == 6.5
    assert s.broker_heartbeat_interval == 0.25


@pytest.mark.parametrize(
    "name, raw",
    [
        ("WEB_PORT", "six"),
        ("WEB_PORT", "6066.5"),
        ("BROKER_SESSION_TIMEOUT", "soon"),
        ("BROKER_HEARTBEAT_INTERVAL", "1s"),
    ],
)
def test_a_non_number_raises_value_error_naming_the_variable(name, raw):
    with pytest.raises(ValueError) as excinfo:
        Settings.from_env({name: raw})

    message = str(excinfo.value)
    assert name in message
    assert repr(raw) in message


def test_canonical_url_explicit_wins():
    s = Settings.from_env({"WEB_CANONICAL_URL": "http://worker-1.internal:6066", "WEB_BIND": "0.0.0.0"})

    assert s.canonical_url == "http://worker-1.internal:6066"


def test_canonical_url_from_a_specific_bind_address():
    s = Settings.from_env({"WEB_BIND": "127.0.0.1", "WEB_PORT": "6067"})

    assert s.canonical_url == "http://127.0.0.1:6067"


def test_canonical_url_for_bind_all_uses_the_hostname():
    s = Settings.from_env({"WEB_BIND": "0.0.0.0", "WEB_PORT": "6068"})

    assert s.canonical_url == f"http://{socket.gethostname()}:6068"
    assert "0.0.0.0" not in s.canonical_url


def test_env_vars_names_the_addresses_of_every_service():
    assert {"KAFKA_BOOTSTRAP", "DATABASE_URL", "CONNECT_URL", "WEB_URL"} <= ENV_VARS


def test_every_env_var_is_read_by_from_env():
    # A value set for each variable shows up on the settings: no name in ENV_VARS is dead.
    defaults = Settings.from_env({})
    # Yes/no settings get the opposite of their default.
    yes_no = {"BROKER_END_OFFSETS_PROBE": "true", "WEB_ACCESS_LOG": "true", "METRICS_ENABLED": "false",
              "WEB_ALLOW_UNAUTHENTICATED": "true", "WEB_FAUST_PAGES": "true"}
    # Settings whose range leaves out 7.
    in_range = {"TABLE_STANDBY_REPLICAS": "2", "WEB_FORWARD_TIMEOUT_MS": "700"}
    for name in ENV_VARS:
        changed = Settings.from_env({name: yes_no.get(name) or in_range.get(name, "7")})
        assert changed != defaults, f"{name} changes nothing"


@pytest.mark.parametrize("raw, expected", [("true", True), ("1", True), ("yes", True), ("false", False),
                                           ("0", False), ("off", False)])
def test_yes_no_settings_parse(raw, expected):
    assert Settings.from_env({"BROKER_END_OFFSETS_PROBE": raw}).broker_end_offsets_probe is expected


def test_a_yes_no_setting_that_is_neither_names_the_variable():
    with pytest.raises(ValueError, match="BROKER_END_OFFSETS_PROBE"):
        Settings.from_env({"BROKER_END_OFFSETS_PROBE": "maybe"})


def test_canonical_url_from_an_ipv6_bind_address_is_a_valid_url():
    s = Settings.from_env({"WEB_BIND": "::1", "WEB_PORT": "6066"})

    assert s.canonical_url == "http://[::1]:6066"


# --------------------------------------------------------------------------- ranges (bad-input catalogue II)

import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import fields as _fields  # noqa: E402
from pathlib import Path  # noqa: E402

from settings import SettingsError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

#: Each value is outside its setting's range: before ranges, every one of them was accepted.
OUT_OF_RANGE = [
    ("ALERTS_KEPT_PER_ACCOUNT", "0"), ("ALERTS_KEPT_PER_ACCOUNT", "-3"), ("WEB_PORT", "0"), ("WEB_PORT", "65536"),
    ("WEB_PORT", "-1"), ("STATE_FLUSH_INTERVAL_MS", "0"), ("STATE_FLUSH_INTERVAL_MS", "-250"),
    ("STATE_FLUSH_RECORDS", "0"), ("BROKER_SESSION_TIMEOUT", "-6"), ("BROKER_HEARTBEAT_INTERVAL", "0"),
    ("BROKER_REBALANCE_TIMEOUT", "0"), ("BROKER_FETCH_MAX_WAIT_MS", "-1"), ("PRODUCER_LINGER_MS", "-10"),
    ("RULE_LATENESS_SECONDS", "-1"),
    ("BALANCE_LOW_THRESHOLD", "-0.01"), ("TURNOVER_RETENTION_DAYS", "0"),
    ("WEB_FORWARD_TIMEOUT_MS", "0"), ("WEB_FORWARD_TIMEOUT_MS", "49"), ("WEB_FORWARD_TIMEOUT_MS", "60001"),
    ("WEB_FORWARD_CONCURRENCY", "0"), ("WEB_FORWARD_CONCURRENCY", "10001"),
    ("CONSISTENCY_WAIT_DEFAULT_MS", "-1"), ("CONSISTENCY_WAIT_DEFAULT_MS", "60001"),
    ("CONSISTENCY_WAIT_MAX_MS", "0"), ("CONSISTENCY_WAIT_MAX_MS", "60001"), ("SOURCE_CHECKPOINT_IDLE_MS", "0"),
    ("BALANCE_HISTORY_RETENTION_HOURS", "0"), ("BALANCE_HISTORY_MAX_ENTRIES", "1"),
    ("BALANCE_HISTORY_MAX_ENTRIES", "251"),
]


@pytest.mark.parametrize("name, raw", OUT_OF_RANGE)
def test_a_value_out_of_range_is_one_sentence_naming_the_variable_and_its_range(name, raw):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: raw})
    message = str(caught.value)
    assert message.startswith(f"{name}={raw!r} is out of range; set {name} to a number ")
    assert message.count(".") <= 2 and "\n" not in message


@pytest.mark.parametrize("name, raw", [("BROKER_SESSION_TIMEOUT", "nan"), ("BROKER_SESSION_TIMEOUT", "inf"),
                                       ("WEB_PORT", "6066.5"), ("BALANCE_LOW_THRESHOLD", "NaN")])
def test_a_value_that_is_no_finite_number_is_refused(name, raw):
    with pytest.raises(SettingsError, match=f"^{name}="):
        Settings.from_env({name: raw})


@pytest.mark.parametrize("name, raw", [("WEB_PORT", "1"), ("WEB_PORT", "65535"), ("ALERTS_KEPT_PER_ACCOUNT", "1"),
                                       ("RULE_LATENESS_SECONDS", "0"), ("BROKER_FETCH_MAX_WAIT_MS", "0")])
def test_the_edges_of_a_range_are_accepted(name, raw):
    Settings.from_env({name: raw})


def test_every_number_setting_states_its_range_and_every_default_is_inside_it():
    defaults = Settings()
    for f in _fields(Settings):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        if any(word in kind for word in ("int", "float", "Decimal")):
            allowed = f.metadata.get("range")
            assert allowed is not None, f"{f.metadata['env']} states no range"
            value = getattr(defaults, f.name)
            assert value is None or allowed.admits(value), f"the default of {f.metadata['env']} is out of its range"


@pytest.mark.parametrize("argv", [["-c", "import app"], ["-m", "faust", "-A", "app", "worker", "-l", "info"]])
def test_a_worker_with_a_bad_setting_stops_with_one_sentence_and_no_traceback(argv):
    import os

    env = {**os.environ, "ALERTS_KEPT_PER_ACCOUNT": "0", "STORE_URL": "memory://", "KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[-1]] and "ALERTS_KEPT_PER_ACCOUNT='0' is out of range" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_bound_beyond_loopback_without_a_token_stops_with_one_sentence():
    import os

    env = {**os.environ, "WEB_BIND": "0.0.0.0", "STORE_URL": "memory://", "KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    env.pop("WEB_TOKEN", None)
    env.pop("WEB_ALLOW_UNAUTHENTICATED", None)
    done = subprocess.run([sys.executable, "-m", "faust", "-A", "app", "worker", "-l", "info"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[-1]], done.stderr
    assert lines[0].startswith("error: WEB_BIND='0.0.0.0' serves the views beyond this machine without a token; "
                               "set WEB_TOKEN"), lines[0]
