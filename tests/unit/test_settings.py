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
    yes_no = {"BROKER_END_OFFSETS_PROBE": "true", "WEB_ACCESS_LOG": "true", "METRICS_ENABLED": "false"}
    for name in ENV_VARS:
        changed = Settings.from_env({name: yes_no.get(name, "7")})
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
