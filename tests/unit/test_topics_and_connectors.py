"""Unit tests holding topics.py and connectors/ledger-postgres.yaml together, and of the connector loader."""

from __future__ import annotations

from pathlib import Path

import pytest

import topics
from ops.connectors.connector_files import CONNECTORS_DIR, ConnectorFileError, load_connector, load_connectors

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


def test_a_snapshot_reads_every_captured_table_in_primary_key_order(connector):
    # Heap order follows concurrent inserts and CLUSTER; the rules need each account's transactions
    # in id order (detection/withdrawals.py), and a snapshot must not depend on the heap.
    captured = [entry.strip() for entry in connector.config["table.include.list"].split(",")]
    assert connector.config["snapshot.select.statement.overrides"].split(",") == captured
    for table in captured:
        assert connector.config[f"snapshot.select.statement.overrides.{table}"] == f"SELECT * FROM {table} ORDER BY id"


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


# --------------------------------------------------------------------------- every connector file


ALL_CONNECTORS = load_connectors()
OUTBOX_FILE = CONNECTORS_DIR / "ledger-outbox.yaml"


def test_each_file_is_named_as_its_connector():
    assert {d.path.stem for d in ALL_CONNECTORS} == {d.name for d in ALL_CONNECTORS}
    assert {"ledger-postgres", "ledger-outbox"} <= {d.name for d in ALL_CONNECTORS}


def test_each_connector_has_its_own_slot_publication_and_topic_prefix():
    for key in ("slot.name", "publication.name", "topic.prefix"):
        values = [d.config[key] for d in ALL_CONNECTORS]
        assert len(set(values)) == len(values), f"two connectors share a {key}: {values}"


@pytest.mark.parametrize("definition", ALL_CONNECTORS, ids=lambda d: d.name)
def test_every_connector_creates_topics_with_the_pipeline_partition_count(definition):
    assert int(definition.config["topic.creation.default.partitions"]) == topics.PARTITIONS
    assert definition.config["topic.creation.default.replication.factor"] == "1"


@pytest.mark.parametrize("definition", ALL_CONNECTORS, ids=lambda d: d.name)
def test_secrets_are_references_never_literal_values(definition):
    from ops.connectors.secrets import secret_values

    assert secret_values(definition.config) == []


def test_every_env_reference_is_set_on_the_local_stacks_connect():
    from dev.stack.connect import database_env
    from ops.connectors.secrets import references

    referenced = {ref.name for d in ALL_CONNECTORS for ref in references(d.config) if ref.provider == "env"}

    assert referenced
    assert referenced <= set(database_env("postgresql://u@h:1/db"))


def test_the_outbox_connector_routes_only_the_outbox_by_aggregate_type():
    config = load_connector(OUTBOX_FILE).config

    assert config["table.include.list"] == "public.outbox"
    assert config["transforms"] == "outbox"
    assert config["transforms.outbox.type"] == "io.debezium.transforms.outbox.EventRouter"
    assert config["transforms.outbox.route.by.field"] == "aggregatetype"
    assert config["transforms.outbox.route.topic.replacement"] == "outbox.event.${routedByValue}"
    assert config["transforms.outbox.table.field.event.key"] == "aggregateid"
    assert config["transforms.outbox.table.fields.additional.placement"] == "type:header:eventType"
    # The payload reaches consumers as the jsonb's own text: no schema inferred per record.
    assert config.get("transforms.outbox.table.expand.json.payload", "false") == "false"
    assert config["value.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert config["key.converter"] == "org.apache.kafka.connect.storage.StringConverter"


def test_the_outbox_topics_do_not_collide_with_the_change_topics():
    prefix = load_connector(OUTBOX_FILE).config["transforms.outbox.route.topic.replacement"].split("$")[0]

    assert not any(spec.name.startswith(prefix) for spec in topics.CDC_TOPICS)


def test_two_files_defining_one_connector_are_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("name: same\nconfig:\n  k: v\n")
    (tmp_path / "b.yaml").write_text("name: same\nconfig:\n  k: w\n")

    with pytest.raises(ConnectorFileError, match="a.yaml and b.yaml both define connector same"):
        load_connectors(folder=tmp_path)
