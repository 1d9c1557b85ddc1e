"""Unit tests holding topics.py and connectors/ledger-postgres.yaml together, and of the connector loader."""

from __future__ import annotations

from pathlib import Path

import pytest

import topics
from cdc.connector_files import CONNECTORS_DIR, ConnectorFileError, load_connector, load_connectors

CONNECTOR_FILE = CONNECTORS_DIR / "ledger-postgres.yaml"


@pytest.fixture(scope="module")
def connector():
    return load_connector(CONNECTOR_FILE)


def test_connector_file_is_named_as_its_connector(connector):
    assert connector.name == "ledger-postgres"
    assert connector.path == CONNECTOR_FILE


def test_connector_creates_topics_with_the_pipeline_partition_count(connector):
    assert int(connector.config["topic.creation.default.partitions"]) == topics.PARTITIONS


def test_every_cdc_topic_has_the_pipeline_partition_count():
    assert [spec.partitions for spec in topics.CDC_TOPICS] == [topics.PARTITIONS] * len(topics.CDC_TOPICS)


def test_connector_topics_are_the_cdc_topics(connector):
    prefix = connector.config["topic.prefix"]
    tables = []
    for entry in connector.config["table.include.list"].split(","):
        schema, table = entry.strip().split(".")
        assert schema == "public"
        tables.append(table)

    produced = {f"{prefix}.public.{table}" for table in tables}

    assert produced == {spec.name for spec in topics.CDC_TOPICS}
    assert len(tables) == len(topics.CDC_TOPICS)


def test_every_config_value_is_a_string(connector):
    not_text = {key: value for key, value in connector.config.items() if not isinstance(value, str)}
    assert not_text == {}
    assert all(isinstance(key, str) for key in connector.config)


def test_money_is_carried_as_exact_decimal_text(connector):
    assert connector.config["decimal.handling.mode"] == "string"


def test_yaml_numbers_and_booleans_become_connect_strings(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("name: c\nconfig:\n  tasks.max: 1\n  tombstones.on.delete: true\n  ratio: 0.5\n  skip: false\n")

    config = load_connector(path).config

    assert config == {"tasks.max": "1", "tombstones.on.delete": "true", "ratio": "0.5", "skip": "false"}


@pytest.mark.parametrize("written", ["0.10", "010", "yes", "off", "12:30"])
def test_unquoted_values_reach_connect_as_written(tmp_path: Path, written):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\nconfig:\n  some.setting: {written}\n")

    assert load_connector(path).config == {"some.setting": written}


def test_invalid_yaml_names_the_file(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nconfig:\n  a: [1, 2\n")

    with pytest.raises(ConnectorFileError) as excinfo:
        load_connector(path)

    assert str(path) in str(excinfo.value)
    assert "not valid YAML" in str(excinfo.value)


@pytest.mark.parametrize(
    "text",
    [
        "config:\n  a: b\n",  # no name
        "name: x\n",  # no config
        "name: x\nconfig: [a, b]\n",  # config not a mapping
        "- name: x\n",  # not a mapping at all
        "",  # empty
    ],
)
def test_a_file_without_name_or_config_names_the_file(tmp_path: Path, text):
    path = tmp_path / "incomplete.yaml"
    path.write_text(text)

    with pytest.raises(ConnectorFileError) as excinfo:
        load_connector(path)

    assert str(path) in str(excinfo.value)
    assert "name:" in str(excinfo.value)


def test_a_missing_file_names_the_file(tmp_path: Path):
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConnectorFileError, match="absent.yaml"):
        load_connector(path)


def test_load_connectors_by_name():
    assert [d.name for d in load_connectors(["ledger-postgres"])] == ["ledger-postgres"]


def test_load_connectors_unknown_name_is_named():
    with pytest.raises(ConnectorFileError, match="nope"):
        load_connectors(["nope"])


def test_load_connectors_from_a_folder(tmp_path: Path):
    (tmp_path / "b.yaml").write_text("name: b\nconfig:\n  k: v\n")
    (tmp_path / "a.yaml").write_text("name: a\nconfig:\n  k: v\n")
    (tmp_path / "notes.txt").write_text("not a connector")

    assert [d.name for d in load_connectors(folder=tmp_path)] == ["a", "b"]
    assert [d.name for d in load_connectors(["b"], folder=tmp_path)] == ["b"]
