"""Every record real Debezium wrote (tests/fixtures/debezium), decoded and compared with the SQL row values.

The fixtures are recorded by tests/fixtures/capture_debezium.py from a local Debezium 3.0.7, one folder
per converter setting; each record carries the row values PostgreSQL held at the time, as its own text.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

from cdc.changes import Change, DecodeError, Op, Tombstone, Typing
from cdc.columns import ColumnTypes, ConnectorModes, column_schema, parse_column_type
from cdc.decode import decode_change
from tests.fixtures.debezium_model import UNDECODABLE, expected_value, field_schema, same, sql_value, wire_value

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "debezium"
TABLE = "decode_fixture_types"
MODE_KEYS = ("decimal.handling.mode", "time.precision.mode", "binary.handling.mode")


def _settings() -> Dict[str, Dict[str, Any]]:
    return {folder.name: json.loads((folder / "setting.json").read_text())
            for folder in sorted(FIXTURES.iterdir()) if (folder / "setting.json").exists()}


SETTINGS = _settings()


def _records() -> Iterator[Tuple[str, str, Dict[str, Any]]]:
    for name in SETTINGS:
        for path in sorted((FIXTURES / name).glob("[0-9]*.json")):
            yield name, path.name, json.loads(path.read_text())


RECORDS = list(_records())
RECORD_IDS = [f"{setting}/{file}" for setting, file, _ in RECORDS]
#: The records with a row image, which the test oracle (tests/fixtures/debezium_model.py) writes:
#: not messages, truncates, tombstones (a null value, or tombstone mode's JSON `null`).
MODELLED = [(s, f, r) for s, f, r in RECORDS
            if r["value"] is not None and r["value"]["text"] != "null"
            and r["expected"]["event"] not in ("message", "truncate", "tombstone")]
MODELLED_IDS = [f"{setting}/{file}" for setting, file, _ in MODELLED]


def raw(field: Optional[Mapping[str, str]]) -> Optional[bytes]:
    if field is None:
        return None
    if "text" in field:
        return field["text"].encode("utf-8")
    return base64.b64decode(field["base64"])


def record_headers(record: Mapping[str, Any]) -> List[Tuple[str, Optional[bytes]]]:
    return [(name, raw(value)) for name, value in record["headers"]]


def modes(setting: Mapping[str, Any]) -> Dict[str, str]:
    return {k: setting["connector"][k] for k in MODE_KEYS if k in setting["connector"]}


def schemas_enabled(setting: Mapping[str, Any]) -> bool:
    return setting["connector"]["value.converter.schemas.enable"] == "true"


def flattening(setting: Mapping[str, Any]) -> Optional[Dict[str, str]]:
    """The ExtractNewRecordState options of a setting, or None when it keeps envelopes."""
    connector = setting["connector"]
    if connector.get("transforms.unwrap.type") != "io.debezium.transforms.ExtractNewRecordState":
        return None
    return {k[len("transforms.unwrap."):]: v for k, v in connector.items() if k.startswith("transforms.unwrap.")}


def declared(setting: Mapping[str, Any]) -> ColumnTypes:
    return ColumnTypes.for_connector(setting["connector"], {f"public.{TABLE}": setting["columns"]})


def payload_of(record: Mapping[str, Any]) -> Any:
    document = json.loads(record["value"]["text"])
    if isinstance(document, dict) and set(document) == {"schema", "payload"}:
        return document["payload"], document["schema"]
    return document, None


# --------------------------------------------------------------------------- expectations


def expected_row(setting, text_row: Optional[Mapping[str, Optional[str]]], typing: str):
    if text_row is None:
        return None
    columns = setting["columns"]
    return {name: expected_value(columns[name], sql_value(columns[name], text), modes(setting), typing)
            for name, text in text_row.items()}


def expected_op(setting, expected: Mapping[str, Any]) -> Op:
    options = flattening(setting)
    op = Op(expected["op"])
    if options is None:
        return op
    says_op = "op" in options.get("add.fields", "").split(",") or "op" in options.get("add.headers", "").split(",")
    if says_op or op is Op.DELETE:
        return op
    return Op.UPSERT


def is_tombstone(setting, record) -> bool:
    """A null value, or the JSON `null` that tombstone mode writes for a delete without schemas."""
    return record["value"] is None or record["value"]["text"] == "null"


def check(setting_name: str, record: Mapping[str, Any], typing: str, columns: Optional[ColumnTypes]) -> None:
    setting = SETTINGS[setting_name]
    expected = record["expected"]
    key, value, headers = raw(record["key"]), raw(record["value"]), record_headers(record)
    event = expected["event"]

    if is_tombstone(setting, record) and not dict(headers).get("__op"):
        assert decode_change(key, value, headers, columns=columns) == Tombstone({"id": expected["id"]})
        return
    if is_tombstone(setting, record):  # tombstone mode with add.headers: the delete itself
        change = decode_change(key, value, headers, columns=columns)
        assert (change.op, change.key, change.before, change.after) == (Op.DELETE, {"id": expected["id"]}, None, None)
        assert (change.schema, change.table) == ("public", TABLE)
        assert change.source.snapshot is False and change.source.lsn > 0 and change.source.tx_id > 0
        return

    if event == "message":
        change = decode_change(key, value, headers, columns=columns)
        content = expected_value("bytea", b"hello", modes(setting), typing)
        assert change.op is Op.MESSAGE
        assert change.key == {"prefix": "ledgerstream"}
        assert change.before is None
        assert same(change.after, {"prefix": "ledgerstream", "content": content})
        assert (change.schema, change.table) == (None, None)
        assert change.source.snapshot is False and change.source.lsn > 0 and change.source.tx_id > 0
        assert change.typing is Typing(typing)
        return

    before = expected_row(setting, expected["before"], typing)
    after = expected_row(setting, expected["after"], typing)
    if any(v is UNDECODABLE for row in (before, after) if row for v in row.values()):
        with pytest.raises(DecodeError):
            decode_change(key, value, headers, columns=columns)
        return

    change = decode_change(key, value, headers, columns=columns)
    assert isinstance(change, Change)
    op = expected_op(setting, expected)
    assert change.op is op
    assert change.typing is Typing(typing)
    if op is Op.TRUNCATE:
        assert change.key is None and change.before is None and change.after is None
    else:
        assert change.key == {"id": expected["id"]}
    if flattening(setting) is None:
        assert (change.schema, change.table) == ("public", TABLE)
        assert same(change.before, before), (change.before, before)
        assert same(change.after, after), (change.after, after)
        assert change.source.snapshot is (op is Op.READ)
        assert change.source.lsn > 0 and change.source.tx_id > 0 and change.source.commit_ts_ms > 0
        return
    # Flattened: no before image ever; a delete carries the deleted row as `before`.
    if op is Op.DELETE:
        assert same(change.before, before) and change.after is None
    else:
        assert change.before is None and same(change.after, after), (change.after, after)
    options = flattening(setting)
    if options.get("add.fields") or options.get("add.headers"):
        assert (change.schema, change.table) == ("public", TABLE)
        assert change.source.snapshot is (op is Op.READ)
        assert change.source.lsn > 0 and change.source.tx_id > 0 and change.source.commit_ts_ms > 0
    else:
        assert (change.schema, change.table) == (None, None)
        assert (change.source.lsn, change.source.tx_id, change.source.commit_ts_ms) == (None, None, None)
        assert change.source.snapshot is None


# --------------------------------------------------------------------------- the tests


def test_every_converter_setting_was_recorded():
    combos = {(schemas_enabled(s), s["connector"].get("decimal.handling.mode", "precise"))
              for s in SETTINGS.values() if flattening(s) is None}
    assert combos == {(schemas, mode) for schemas in (True, False) for mode in ("precise", "string", "double")}
    assert {s["connector"].get("time.precision.mode", "adaptive") for s in SETTINGS.values()} == {
        "adaptive", "adaptive_time_microseconds", "connect"}
    binary_modes = {s["connector"].get("binary.handling.mode", "bytes") for s in SETTINGS.values()}
    assert binary_modes >= {"bytes", "hex", "base64"}
    assert any(flattening(s) for s in SETTINGS.values())


@pytest.mark.parametrize("setting_name", list(SETTINGS))
def test_every_operation_was_recorded(setting_name):
    events = [record["expected"]["event"] for name, _, record in RECORDS if name == setting_name]
    options = flattening(SETTINGS[setting_name])
    expected = ["read", "read", "create", "create", "update", "delete", "tombstone", "truncate", "create", "message"]
    if options is not None:
        expected.remove("truncate")  # ExtractNewRecordState drops truncates
    if options is not None and options.get("delete.tombstone.handling.mode") == "tombstone":
        expected.remove("tombstone")  # the delete itself becomes the tombstone
    assert sorted(events) == sorted(expected)


@pytest.mark.parametrize("setting_name, file, record", RECORDS, ids=RECORD_IDS)
def test_record_decodes_to_the_sql_values(setting_name, file, record):
    typing = "connect" if schemas_enabled(SETTINGS[setting_name]) else "wire"
    check(setting_name, record, typing, columns=None)


@pytest.mark.parametrize("setting_name, file, record", RECORDS, ids=RECORD_IDS)
def test_record_decodes_by_declared_column_types(setting_name, file, record):
    check(setting_name, record, "sql", columns=declared(SETTINGS[setting_name]))


@pytest.mark.parametrize("setting_name, file, record", MODELLED, ids=MODELLED_IDS)
def test_the_model_writes_what_debezium_wrote(setting_name, file, record):
    """The test oracle (tests/fixtures/debezium_model.py) reproduces every recorded value and schema."""
    setting = SETTINGS[setting_name]
    payload, schema = payload_of(record)
    expected = record["expected"]
    if flattening(setting) is None:
        images = {"before": payload["before"], "after": payload["after"]}
        schemas = {f["field"]: f for f in schema["fields"]} if schema else {}
    else:
        image = "before" if expected["op"] == "d" else "after"
        images = {image: payload}
        schemas = {image: schema} if schema else {}
    for image, row in images.items():
        text_row = expected[image]
        assert (row is None) == (text_row is None)
        if row is None:
            continue
        fields = {f["field"]: f for f in schemas[image]["fields"]} if image in schemas else {}
        for name, sql in setting["columns"].items():
            wire = wire_value(sql, sql_value(sql, text_row[name]), modes(setting))
            assert same(row[name], wire) or (wire == row[name] and type(wire) in (int, float)), (name, row[name], wire)
            if fields:
                model = field_schema(sql, modes(setting))
                recorded = {k: v for k, v in fields[name].items() if k in model}
                assert recorded == model, name
                # cdc.columns builds the same schema from the declared type.
                connector_modes = ConnectorModes.from_connector_config(setting["connector"])
                built = column_schema(parse_column_type(sql), connector_modes)
                assert {k: v for k, v in recorded.items() if k in built and k != "parameters"} == \
                    {k: v for k, v in built.items() if k != "parameters"}
                if "parameters" in built:
                    assert recorded["parameters"]["scale"] == built["parameters"]["scale"]


@pytest.mark.parametrize("pair", [("schemaless-precise", "schemas-precise"), ("schemaless-string", "schemas-string"),
                                  ("schemaless-double", "schemas-double")])
def test_schemaless_with_declared_types_equals_schemas_on(pair):
    """The same statements, seen by two connectors: declared types make the schema unnecessary."""
    schemaless, with_schemas = pair
    left = [r for name, _, r in RECORDS if name == schemaless]
    right = [r for name, _, r in RECORDS if name == with_schemas]
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        results = []
        for setting_name, record in ((schemaless, a), (with_schemas, b)):
            try:
                results.append(decode_change(raw(record["key"]), raw(record["value"]), record_headers(record),
                                             columns=declared(SETTINGS[setting_name])))
            except DecodeError as exc:
                results.append(type(exc))
        assert results[0] == results[1] or same(results[0], results[1]) or _same_change(*results)


def _same_change(a: Any, b: Any) -> bool:
    # Each connector snapshots at its own point; what they stream has one position.
    return isinstance(a, Change) and isinstance(b, Change) and all(
        same(getattr(a, f), getattr(b, f)) for f in ("op", "schema", "table", "key", "before", "after")) \
        and (a.source == b.source or a.op is b.op is Op.READ)


def test_declared_types_that_disagree_with_the_record_schema_are_an_error():
    """A connector whose modes are not the declared ones is caught on its first record."""
    name, _, record = next(r for r in RECORDS if r[0] == "schemas-precise" and r[2]["expected"]["event"] == "read")
    wrong = ColumnTypes({f"public.{TABLE}": SETTINGS[name]["columns"]}, ConnectorModes(decimal_handling_mode="string"))

    with pytest.raises(DecodeError, match="amount.*declared numeric\\(18,2\\)"):
        decode_change(raw(record["key"]), raw(record["value"]), columns=wrong)


def test_schemaless_precise_decimal_stays_wire_text_without_declared_types():
    """The case no decoder can guess: base64 of an unscaled integer, with the scale nowhere."""
    _, _, record = next(r for r in RECORDS if r[0] == "schemaless-precise" and r[2]["expected"]["event"] == "read"
                        and r[2]["expected"]["id"] == 1)

    change = decode_change(raw(record["key"]), raw(record["value"]))

    assert change.typing is Typing.WIRE
    assert change.after["amount"] == "AeI6"  # 123450 at scale 2, but the record cannot say so
    assert decode_change(raw(record["key"]), raw(record["value"]),
                         columns=declared(SETTINGS["schemaless-precise"])).after["amount"] == sql_value(
        "numeric(18,2)", "1234.50")
