"""Unit tests of stack.layout: the local stack's folder, ports and external services."""

from __future__ import annotations

from pathlib import Path

import pytest

from dev.stack.layout import REPO_ROOT, StackLayout
from dev.stack.processes import StackError
from settings import ENV_VARS, Settings


def test_repo_root_is_the_project_folder():
    assert REPO_ROOT == Path(__file__).resolve().parents[2]
    assert (REPO_ROOT / "pyproject.toml").is_file()


def test_defaults():
    layout = StackLayout.from_env({})

    assert layout.root == REPO_ROOT / ".stack"
    assert (layout.kafka_port, layout.postgres_port, layout.connect_port, layout.web_port) == (9092, 5433, 8083, 6066)
    assert (layout.external_kafka, layout.external_database, layout.external_connect) == (None, None, None)
    assert layout.kafka_bootstrap == "127.0.0.1:9092"
    assert layout.database_url == "postgresql://postgres@127.0.0.1:5433/ledger"
    assert layout.connect_url == "http://127.0.0.1:8083"
    assert layout.web_url == "http://127.0.0.1:6066"


def test_default_addresses_equal_the_settings_defaults():
    # The local stack and a worker with no environment must agree on where everything is.
    layout, settings = StackLayout.from_env({}), Settings.from_env({})

    assert layout.kafka_bootstrap == settings.kafka_bootstrap
    assert layout.database_url == settings.database_url
    assert layout.connect_url == settings.connect_url
    assert layout.web_url == settings.web_url


def test_ports_from_the_environment():
    layout = StackLayout.from_env(
        {"STACK_KAFKA_PORT": "19092", "STACK_POSTGRES_PORT": "15433", "STACK_CONNECT_PORT": "18083",
         "WEB_PORT": "16066"}
    )

    assert layout.kafka_bootstrap == "127.0.0.1:19092"
    assert layout.database_url == "postgresql://postgres@127.0.0.1:15433/ledger"
    assert layout.connect_url == "http://127.0.0.1:18083"
    assert layout.web_url == "http://127.0.0.1:16066"


def test_relative_stack_dir_resolves_under_the_repo_root():
    assert StackLayout.from_env({"STACK_DIR": "tmp/stack-a"}).root == REPO_ROOT / "tmp" / "stack-a"


def test_absolute_stack_dir_is_kept(tmp_path: Path):
    layout = StackLayout.from_env({"STACK_DIR": str(tmp_path)})

    assert layout.root == tmp_path
    assert layout.env_file == tmp_path / "env"
    assert layout.log_file("broker") == tmp_path / "logs" / "broker.log"
    assert layout.pid_file("connect") == tmp_path / "run" / "connect.pid"
    assert layout.workers_dir == tmp_path / "workers"


@pytest.mark.parametrize(
    "name, raw",
    [
        ("STACK_KAFKA_PORT", "kafka"),
        ("STACK_POSTGRES_PORT", "0"),
        ("STACK_CONNECT_PORT", "65536"),
        ("STACK_CONNECT_PORT", "-1"),
        ("WEB_PORT", "80.5"),
    ],
)
def test_a_bad_port_raises_stack_error_naming_the_variable(name, raw):
    with pytest.raises(StackError) as excinfo:
        StackLayout.from_env({name: raw})

    assert name in str(excinfo.value)
    assert repr(raw) in str(excinfo.value)


@pytest.mark.parametrize("port", ["1", "65535"])
def test_port_bounds_are_accepted(port):
    assert StackLayout.from_env({"STACK_KAFKA_PORT": port}).kafka_port == int(port)


def test_our_own_addresses_are_not_external():
    # e.g. a shell that sourced .stack/env
    layout = StackLayout.from_env(
        {
            "KAFKA_BOOTSTRAP": "127.0.0.1:9092",
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:5433/ledger",
            "CONNECT_URL": "http://127.0.0.1:8083",
        }
    )

    assert (layout.external_kafka, layout.external_database, layout.external_connect) == (None, None, None)


def test_own_address_on_a_custom_port_is_not_external():
    layout = StackLayout.from_env({"STACK_KAFKA_PORT": "19092", "KAFKA_BOOTSTRAP": "127.0.0.1:19092"})

    assert layout.external_kafka is None
    assert layout.kafka_bootstrap == "127.0.0.1:19092"


def test_other_addresses_are_external():
    layout = StackLayout.from_env(
        {
            "KAFKA_BOOTSTRAP": "kafka.example:9092",
            "DATABASE_URL": "postgresql://app@db.example/ledger",
            "CONNECT_URL": "http://connect.example:8083",
        }
    )

    assert layout.external_kafka == "kafka.example:9092"
    assert layout.kafka_bootstrap == "kafka.example:9092"
    assert layout.external_database == "postgresql://app@db.example/ledger"
    assert layout.database_url == "postgresql://app@db.example/ledger"
    assert layout.external_connect == "http://connect.example:8083"
    assert layout.connect_url == "http://connect.example:8083"


def test_default_address_with_a_moved_local_port_is_external():
    # KAFKA_BOOTSTRAP names 9092 while our broker moved to 19092: that 9092 is someone else's.
    layout = StackLayout.from_env({"STACK_KAFKA_PORT": "19092", "KAFKA_BOOTSTRAP": "127.0.0.1:9092"})

    assert layout.external_kafka == "127.0.0.1:9092"


def test_env_values_has_every_address():
    values = StackLayout.from_env({"STACK_CONNECT_PORT": "18083"}).env_values()

    assert values["KAFKA_BOOTSTRAP"] == "127.0.0.1:9092"
    assert values["DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5433/ledger"
    assert values["CONNECT_URL"] == "http://127.0.0.1:18083"
    assert values["WEB_URL"] == "http://127.0.0.1:6066"


def test_env_values_are_all_settings_the_worker_reads():
    values = StackLayout.from_env({}).env_values()

    assert set(values) <= ENV_VARS
    assert all(isinstance(v, str) for v in values.values())


def test_env_values_parse_as_settings():
    values = StackLayout.from_env({}).env_values()

    settings = Settings.from_env(values)

    assert settings.kafka_bootstrap == values["KAFKA_BOOTSTRAP"]
    assert settings.broker_rebalance_timeout == 6.0
    assert settings.broker_heartbeat_interval == 1.0
