"""Unit tests of cdc.decode: hand-written Debezium records (envelopes, flattened rows, declared types).

Records that real Debezium wrote are decoded in test_cdc_fixtures.py; generated ones in test_cdc_properties.py.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc.changes import Change, DecodeError, Op, SourcePosition, Tombstone, Typing
from cdc.columns import ColumnTypes, ConnectorModes, parse_column_type
from cdc.decode import decode_change
from ops.connectors.connector_files import CONNECTORS_DIR, load_connector

# One real record from the local Debezium 3.0.7 (JsonConverter, schemas disabled,
# decimal.handling.mode=string), key b"1".
REAL_KEY = b"1"
REAL_VALUE = (
    b'{"before":null,"after":{"id":1,"customer_id":1,"currency":"EUR","balance":"100.50",'
    b'"status":"open","opened_at":"2026-11-22T01:06:18.490429Z","updated_at":"2026-11-22T01:06:18.490429Z"},'
    b'"source":{"version":"3.0.7.Final","connector":"postgresql","name":"ledger","ts_ms":1795309578491,'
    b'"snapshot":"false","db":"ledger","sequence":"[\\"26501040\\",\\"26501168\\"]","ts_us":1795309578491336,'
    b'"ts_ns":1795309578491336000,"schema":"public","table":"accounts","txId":730,"lsn":26501168,"xmin":null},'
    b'"transaction":null,"op":"c","ts_ms":1795309578567,"ts_us":1795309578567997,"ts_ns":1795309578567997312}'
)
REAL = json.loads(REAL_VALUE)
ROW = REAL["after"]


def envelope(op: str, *, before=None, after=None, **source_changes) -> bytes:
    """The real record with another op, row images and source fields."""
    document = copy.deepcopy(REAL)
    document["op"] = op
    document["before"] = before
    document["after"] = after
    document["source"].update(source_changes)
    return json.dumps(document).encode()


def updated(row: dict, **changes) -> dict:
    return {**row, **changes}


# --------------------------------------------------------------------------- schemaless


def test_real_create_record():
    change = decode_change(REAL_KEY, REAL_VALUE)

    assert change == Change(
        op=Op.CREATE,
        schema="public",
        table="accounts",
        key=1,
        before=None,
        after={
            "id": 1,
            "customer_id": 1,
            "currency": "EUR",
            "balance": "100.50",
            "status": "open",
            "opened_at": "2026-11-22T01:06:18.490429Z",
            "updated_at": "2026-11-22T01:06:18.490429Z",
        },
        source=SourcePosition(lsn=26501168, tx_id=730, commit_ts_ms=1795309578491, snapshot=False, commit_lsn=26501040,
                              commit_ts_us=1795309578491336),
    )


def test_update_carries_before_and_after():
    after = updated(ROW, balance="75.25")

    change = decode_change(b"1", envelope("u", before=ROW, after=after))

    assert change.op is Op.UPDATE
    assert change.before == ROW
    assert change.after == after
    assert change.after["balance"] == "75.25"


def test_delete_carries_the_before_row():
    change = decode_change(b"1", envelope("d", before=ROW, after=None))

    assert change.op is Op.DELETE
    assert change.before == ROW
    assert change.after is None


@pytest.mark.parametrize(
    "snapshot, expected",
    [("true", True), ("last", True), ("first", True), (True, True), ("false", False), (False, False), (None, False)],
)
def test_read_from_snapshot(snapshot, expected):
    change = decode_change(b"1", envelope("r", after=ROW, snapshot=snapshot))

    assert change.op is Op.READ
    assert change.after == ROW
    assert change.source.snapshot is expected


def test_truncate_has_no_rows():
    change = decode_change(None, envelope("t"))

    assert change.op is Op.TRUNCATE
    assert change.key is None
    assert change.before is None and change.after is None
    assert change.table == "accounts"


def test_logical_decoding_message_is_the_after_image():
    document = {
        "op": "m",
        "ts_ms": 1795309578567,
        "source": {"version": "3.0.7.Final", "connector": "postgresql", "name": "ledger", "ts_ms": 1795309578491,
                   "snapshot": "false", "db": "ledger", "schema": "", "table": "", "txId": 731,
                   "lsn": 26501300},
        "message": {"prefix": "ledger.outbox", "content": "aGVsbG8="},
    }

    change = decode_change(None, json.dumps(document).encode())

    assert change.op is Op.MESSAGE
    assert change.before is None
    assert change.after == {"prefix": "ledger.outbox", "content": "aGVsbG8="}
    assert change.source == SourcePosition(lsn=26501300, tx_id=731, commit_ts_ms=1795309578491, snapshot=False)


def test_message_without_message_block_is_an_error():
    with pytest.raises(DecodeError, match="message"):
        decode_change(None, envelope("m"))


def test_tombstone_keeps_the_decoded_key():
    assert decode_change(b"42", None) == Tombstone(42)


def test_unknown_op_is_named():
    with pytest.raises(DecodeError, match="'x'"):
        decode_change(b"1", envelope("x", after=ROW))


def test_invalid_json_value():
    with pytest.raises(DecodeError, match="not valid JSON"):
        decode_change(b"1", b'{"op": "c", ')


def test_invalid_json_key():
    with pytest.raises(DecodeError, match="key is not valid JSON"):
        decode_change(b"{nope", REAL_VALUE)


def test_delete_without_before_is_an_error():
    with pytest.raises(DecodeError, match="before"):
        decode_change(b"1", envelope("d", before=None, after=None))


@pytest.mark.parametrize("op", ["c", "u", "r"])
def test_create_update_read_without_after_is_an_error(op):
    with pytest.raises(DecodeError, match="after"):
        decode_change(b"1", envelope(op, before=ROW, after=None))


@pytest.mark.parametrize("lsn", ["26501168", 26501168.0, True])
def test_non_integer_lsn_is_an_error(lsn):
    with pytest.raises(DecodeError, match="lsn"):
        decode_change(b"1", envelope("c", after=ROW, lsn=lsn))


def test_missing_op_and_missing_source_are_errors():
    no_op = {k: v for k, v in REAL.items() if k != "op"}
    no_source = {k: v for k, v in REAL.items() if k != "source"}

    with pytest.raises(DecodeError, match="op"):
        decode_change(b"1", json.dumps(no_op).encode())
    with pytest.raises(DecodeError, match="source"):
        decode_change(b"1", json.dumps(no_source).encode())


def test_a_non_object_value_is_an_error():
    with pytest.raises(DecodeError, match="list"):
        decode_change(b"1", b"[1, 2]")


# --------------------------------------------------------------------------- schema-enabled

SOURCE_SCHEMA = {"type": "struct", "name": "io.debezium.connector.postgresql.Source", "optional": False,
                 "field": "source", "fields": []}


def schema_envelope(fields: list, after: dict, *, op: str = "c", before: dict | None = None) -> bytes:
    """A JsonConverter (schemas.enable=true) record of a table with the given column schemas."""
    row_schema = {"type": "struct", "name": "ledger.public.t.Value", "optional": True, "fields": fields}
    schema = {
        "type": "struct",
        "name": "ledger.public.t.Envelope",
        "optional": False,
        "fields": [
            {**row_schema, "field": "before"},
            {**row_schema, "field": "after"},
            SOURCE_SCHEMA,
            {"type": "string", "optional": False, "field": "op"},
            {"type": "int64", "optional": True, "field": "ts_ms"},
        ],
    }
    payload = {
        "before": before,
        "after": after,
        "source": {"version": "3.0.7.Final", "connector": "postgresql", "name": "ledger", "ts_ms": 1795309578491,
                   "snapshot": "false", "db": "ledger", "schema": "public", "table": "t", "txId": 730,
                   "lsn": 26501168},
        "op": op,
        "ts_ms": 1795309578567,
    }
    return json.dumps({"schema": schema, "payload": payload}).encode()


def decimal_field(name: str, scale: int | None) -> dict:
    field = {"type": "bytes", "optional": True, "name": "org.apache.kafka.connect.data.Decimal",
             "version": 1, "field": name}
    if scale is not None:
        field["parameters"] = {"scale": str(scale), "connect.decimal.precision": "18"}
    return field


def connect_decimal_bytes(unscaled: int) -> str:
    """Kafka Connect's Decimal: minimal big-endian two's complement of the unscaled value, base64."""
    length = 1
    while not -(1 << (8 * length - 1)) <= unscaled < (1 << (8 * length - 1)):
        length += 1
    return base64.b64encode(unscaled.to_bytes(length, "big", signed=True)).decode()


def decode_one(field: dict, value):
    """Decode a one-column row through a schema-enabled envelope; the column's Python value."""
    change = decode_change(None, schema_envelope([field], {field["field"]: value}))
    return change.after[field["field"]]


def test_encoder_matches_known_bytes():
    # Fixed points for the test's own encoder: 10050 = 0x2742, -1 = 0xff, 128 = 0x0080.
    assert base64.b64decode(connect_decimal_bytes(10050)) == b"\x27\x42"
    assert base64.b64decode(connect_decimal_bytes(-1)) == b"\xff"
    assert base64.b64decode(connect_decimal_bytes(128)) == b"\x00\x80"
    assert base64.b64decode(connect_decimal_bytes(-128)) == b"\x80"


@pytest.mark.parametrize(
    "encoded, expected",
    [
        ("J0I=", Decimal("100.50")),  # 0x2742 = 10050
        ("2L4=", Decimal("-100.50")),  # 0xd8be = -10050
        ("/w==", Decimal("-0.01")),  # 0xff = -1
        ("AA==", Decimal("0.00")),
        ("AIA=", Decimal("1.28")),  # 0x0080: the leading zero byte keeps it positive
        ("gA==", Decimal("-1.28")),  # 0x80
        ("DeC2s6dj//8=", Decimal("9999999999999999.99")),  # 0x0de0b6b3a763ffff, 18 digits
        ("8h9JTFicAAE=", Decimal("-9999999999999999.99")),  # 0xf21f494c589c0001
    ],
)
def test_connect_decimal_with_scale(encoded, expected):
    value = decode_one(decimal_field("balance", 2), encoded)

    assert value == expected
    assert value.as_tuple() == expected.as_tuple()  # the scale too, not just the number
    assert str(value) == str(expected)


def test_connect_decimal_without_scale_is_an_error():
    with pytest.raises(DecodeError, match="scale"):
        decode_one(decimal_field("balance", None), "J0I=")


def test_connect_decimal_with_bad_base64_is_an_error():
    with pytest.raises(DecodeError, match="balance"):
        decode_one(decimal_field("balance", 2), "not base64!")


@given(
    unscaled=st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1),
    scale=st.integers(min_value=0, max_value=10),
)
def test_connect_decimal_round_trips_exactly(unscaled, scale):
    expected = Decimal(f"{unscaled}E-{scale}")  # precision <= 18, the given scale

    value = decode_one(decimal_field("amount", scale), connect_decimal_bytes(unscaled))

    assert value == expected
    assert value.as_tuple() == expected.as_tuple()


@pytest.mark.parametrize(
    "scale, unscaled, expected",
    [(2, 10050, Decimal("100.50")), (0, -7, Decimal("-7")), (5, 123456789, Decimal("1234.56789"))],
)
def test_variable_scale_decimal(scale, unscaled, expected):
    field = {"type": "struct", "optional": True, "name": "io.debezium.data.VariableScaleDecimal", "version": 1,
             "fields": [{"type": "int32", "optional": False, "field": "scale"},
                        {"type": "bytes", "optional": False, "field": "value"}],
             "field": "amount"}

    value = decode_one(field, {"scale": scale, "value": connect_decimal_bytes(unscaled)})

    assert value == expected
    assert value.as_tuple() == expected.as_tuple()


def test_variable_scale_decimal_without_scale_is_an_error():
    field = {"type": "struct", "optional": True, "name": "io.debezium.data.VariableScaleDecimal", "field": "amount"}

    with pytest.raises(DecodeError, match="amount"):
        decode_one(field, {"value": "J0I="})


@pytest.mark.parametrize(
    "days, expected",
    [(0, date(1970, 1, 1)), (20779, date(2026, 11, 22)), (-1, date(1969, 12, 31)), (-25567, date(1900, 1, 1))],
)
def test_debezium_date(days, expected):
    field = {"type": "int32", "optional": True, "name": "io.debezium.time.Date", "version": 1, "field": "d"}

    assert decode_one(field, days) == expected


def test_micro_timestamp():
    field = {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTimestamp", "version": 1,
             "field": "ts"}

    assert decode_one(field, 1795309578490429) == datetime(2026, 11, 22, 1, 6, 18, 490429)
    assert decode_one(field, -1) == datetime(1969, 12, 31, 23, 59, 59, 999999)


def test_nano_timestamp_with_exact_micros():
    field = {"type": "int64", "optional": True, "name": "io.debezium.time.NanoTimestamp", "version": 1,
             "field": "ts"}

    assert decode_one(field, 1795309578490429000) == datetime(2026, 11, 22, 1, 6, 18, 490429)


def test_nano_timestamp_below_a_microsecond_is_an_error():
    field = {"type": "int64", "optional": True, "name": "io.debezium.time.NanoTimestamp", "version": 1,
             "field": "ts"}

    with pytest.raises(DecodeError, match="nanosecond"):
        decode_one(field, 1795309578490429001)


def test_timestamp_that_is_not_an_integer_is_an_error():
    field = {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTimestamp", "field": "ts"}

    with pytest.raises(DecodeError, match="ts"):
        decode_one(field, "1795309578490429")


def test_zoned_timestamp_is_an_aware_utc_datetime():
    field = {"type": "string", "optional": True, "name": "io.debezium.time.ZonedTimestamp", "version": 1,
             "field": "opened_at"}

    value = decode_one(field, "2026-11-22T01:06:18.490429Z")

    assert value == datetime(2026, 11, 22, 1, 6, 18, 490429, tzinfo=timezone.utc)
    assert value.utcoffset() == timedelta(0)


def test_json_column():
    field = {"type": "string", "optional": True, "name": "io.debezium.data.Json", "version": 1, "field": "meta"}

    assert decode_one(field, '{"channel": "atm", "tags": [1, 2]}') == {"channel": "atm", "tags": [1, 2]}


def test_uuid_column():
    field = {"type": "string", "optional": True, "name": "io.debezium.data.Uuid", "version": 1, "field": "ref"}

    assert decode_one(field, "6f1c0a52-8f1e-4d8b-9f2a-0c5d6e7f8a9b") == uuid.UUID(
        "6f1c0a52-8f1e-4d8b-9f2a-0c5d6e7f8a9b"
    )


def test_bad_uuid_is_an_error_naming_the_field():
    field = {"type": "string", "optional": True, "name": "io.debezium.data.Uuid", "field": "ref"}

    with pytest.raises(DecodeError, match="ref"):
        decode_one(field, "not-a-uuid")


def test_bytes_column():
    field = {"type": "bytes", "optional": True, "field": "blob"}

    assert decode_one(field, "AAEC/w==") == b"\x00\x01\x02\xff"


def test_plain_columns_pass_through_and_nulls_stay_null():
    fields = [
        {"type": "int64", "optional": False, "field": "id"},
        {"type": "string", "optional": True, "field": "status"},
        decimal_field("balance", 2),
    ]

    change = decode_change(None, schema_envelope(fields, {"id": 1, "status": "open", "balance": None}))

    assert change.after == {"id": 1, "status": "open", "balance": None}


def test_schema_enabled_update_converts_both_images():
    fields = [{"type": "int64", "optional": False, "field": "id"}, decimal_field("balance", 2)]

    change = decode_change(
        None,
        schema_envelope(fields, {"id": 1, "balance": "J0I="}, op="u", before={"id": 1, "balance": "AA=="}),
    )

    assert change.op is Op.UPDATE
    assert change.before == {"id": 1, "balance": Decimal("0.00")}
    assert change.after == {"id": 1, "balance": Decimal("100.50")}
    assert change.source.lsn == 26501168


def test_schema_enabled_struct_key():
    key = json.dumps(
        {
            "schema": {"type": "struct", "name": "ledger.public.accounts.Key", "optional": False,
                       "fields": [{"type": "int64", "optional": False, "field": "id"}]},
            "payload": {"id": 1},
        }
    ).encode()

    assert decode_change(key, None) == Tombstone({"id": 1})


def test_schema_enabled_plain_key():
    key = json.dumps({"schema": {"type": "int64", "optional": False}, "payload": 7}).encode()

    assert decode_change(key, None) == Tombstone(7)


# --------------------------------------------------------------------------- known bugs

# 35 significant digits: PostgreSQL numeric(38,2) holds it; Decimal's default context keeps 28.
WIDE = 12345678901234567890123456789012345


def test_connect_decimal_wider_than_28_digits_is_exact():
    field = {**decimal_field("amount", 2), "parameters": {"scale": "2", "connect.decimal.precision": "38"}}

    value = decode_one(field, connect_decimal_bytes(WIDE))

    assert value == Decimal("123456789012345678901234567890123.45")


def test_variable_scale_decimal_wider_than_28_digits_is_exact():
    field = {"type": "struct", "optional": True, "name": "io.debezium.data.VariableScaleDecimal", "field": "amount"}

    value = decode_one(field, {"scale": 2, "value": connect_decimal_bytes(WIDE)})

    assert value == Decimal("123456789012345678901234567890123.45")


def test_schema_enabled_primitive_key_with_a_logical_type_is_converted():
    ref = "6f1c0a52-8f1e-4d8b-9f2a-0c5d6e7f8a9b"
    key = json.dumps(
        {"schema": {"type": "string", "optional": False, "name": "io.debezium.data.Uuid", "version": 1},
         "payload": ref}
    ).encode()

    assert decode_change(key, None) == Tombstone(uuid.UUID(ref))


# --------------------------------------------------------------------------- null values


def test_json_null_value_is_a_tombstone():
    # ExtractNewRecordState in tombstone mode, schemas disabled: the delete is the four bytes `null`.
    assert decode_change(b'{"id":2}', b"null") == Tombstone({"id": 2})
    assert decode_change(b"2", b'{"schema":{"type":"struct","fields":[]},"payload":null}') == Tombstone(2)


def test_null_value_with_an_op_header_is_the_delete_itself():
    headers = [("__op", b"d"), ("__schema", b"public"), ("__table", b"accounts"), ("__lsn", b"27383344"),
               ("__txId", b"847"), ("__source_ts_ms", b"1795311227612"), ("__snapshot", None)]

    change = decode_change(b'{"id":2}', b"null", headers)

    assert change == Change(op=Op.DELETE, schema="public", table="accounts", key={"id": 2}, before=None,
                            after=None, source=SourcePosition(27383344, 847, 1795311227612, False))


def test_null_value_with_another_op_header_is_an_error():
    with pytest.raises(DecodeError, match="not a delete"):
        decode_change(b"2", None, [("__op", b"c")])


# --------------------------------------------------------------------------- flattened rows

FLAT = {"id": 1, "customer_id": 1, "currency": "EUR", "balance": "100.50", "status": "open"}


def flat(**fields) -> bytes:
    return json.dumps({**FLAT, **fields}).encode()


def test_flattened_row_without_op_is_an_upsert_and_says_nothing_more():
    change = decode_change(b"1", flat())

    assert change == Change(op=Op.UPSERT, schema=None, table=None, key=1, before=None, after=FLAT,
                            source=SourcePosition(None, None, None, None))


def test_flattened_rewritten_delete_carries_the_deleted_row():
    change = decode_change(b"1", flat(__deleted="true"))

    assert change.op is Op.DELETE
    assert change.before == FLAT and change.after is None


def test_flattened_fields_name_op_table_and_position():
    change = decode_change(b"1", flat(__op="r", __schema="public", __table="accounts", __lsn=26501168, __txId=730,
                                      __source_ts_ms=1795309578491, __snapshot="first", __deleted="false"))

    assert change.op is Op.READ
    assert (change.schema, change.table) == ("public", "accounts")
    assert change.source == SourcePosition(26501168, 730, 1795309578491, True)
    assert change.after == FLAT  # the transform's fields are not columns


@pytest.mark.parametrize("headers", [
    [("__op", b"u"), ("__table", b"accounts"), ("__lsn", b"26501168")],
    {"__op": b"u", "__table": b"accounts", "__lsn": b"26501168"},
    [("__op", b'"u"'), ("__table", b'"accounts"'), ("__lsn", b"26501168")],  # JsonConverter headers
])
def test_flattened_headers_name_op_and_position(headers):
    change = decode_change(b"1", flat(), headers)

    assert change.op is Op.UPDATE
    assert change.table == "accounts" and change.source.lsn == 26501168
    assert change.before is None and change.after == FLAT
    assert change.source.snapshot is None  # no __snapshot: not known


def test_flattened_delete_flag_and_op_must_agree():
    with pytest.raises(DecodeError, match="__deleted"):
        decode_change(b"1", flat(__deleted="true", __op="c"))


@pytest.mark.parametrize("fields, match", [({"__op": "t"}, "unknown operation"), ({"__deleted": "yes"}, "__deleted"),
                                           ({"__lsn": "26501168"}, "__lsn")])
def test_bad_flattened_metadata_is_an_error(fields, match):
    with pytest.raises(DecodeError, match=match):
        decode_change(b"1", flat(**fields))


def test_bad_lsn_header_is_an_error():
    with pytest.raises(DecodeError, match="__lsn"):
        decode_change(b"1", flat(), [("__lsn", b"soon")])


def test_shape_can_be_forced_for_a_table_that_looks_like_an_envelope():
    row = {"op": "c", "source": {"x": 1}}  # a table whose columns are named like envelope fields

    with pytest.raises(DecodeError):
        decode_change(b"1", json.dumps(row).encode())
    assert decode_change(b"1", json.dumps(row).encode(), flattened=True).after == row


def test_flattened_row_with_schema_is_typed_by_it():
    value = {"schema": {"type": "struct", "name": "ledger.public.accounts.Value", "optional": False, "fields": [
        {"type": "int64", "optional": False, "field": "id"}, decimal_field("balance", 2),
        {"type": "string", "optional": True, "field": "__op"}]},
        "payload": {"id": 1, "balance": "J0I=", "__op": "c"}}

    change = decode_change(b"1", json.dumps(value).encode())

    assert change.op is Op.CREATE and change.typing is Typing.CONNECT
    assert change.after == {"id": 1, "balance": Decimal("100.50")}


# --------------------------------------------------------------------------- declared column types

ACCOUNTS = {"id": "bigint", "customer_id": "bigint", "currency": "char(3)", "balance": "numeric(18,2)",
            "status": "text", "opened_at": "timestamp with time zone", "updated_at": "timestamptz"}


def ledger_columns() -> ColumnTypes:
    config = load_connector(CONNECTORS_DIR / "ledger-postgres.yaml").config
    return ColumnTypes.for_connector(config, {"public.accounts": ACCOUNTS})


def test_the_ledger_connector_record_by_declared_types():
    change = decode_change(REAL_KEY, REAL_VALUE, columns=ledger_columns())

    assert change.typing is Typing.SQL
    assert change.after["balance"] == Decimal("100.50") and str(change.after["balance"]) == "100.50"
    assert change.after["opened_at"] == datetime(2026, 11, 22, 1, 6, 18, 490429, tzinfo=timezone.utc)


def test_a_table_without_declared_types_is_an_error():
    columns = ColumnTypes({"public.customers": {"id": "bigint"}})

    with pytest.raises(DecodeError, match="public.accounts"):
        decode_change(REAL_KEY, REAL_VALUE, columns=columns)


def test_a_column_without_a_declared_type_is_an_error():
    columns = ColumnTypes({"public.accounts": {k: v for k, v in ACCOUNTS.items() if k != "status"}},
                          ConnectorModes(decimal_handling_mode="string"))

    with pytest.raises(DecodeError, match="status"):
        decode_change(REAL_KEY, REAL_VALUE, columns=columns)


def test_schemaless_precise_decimal_is_read_with_the_declared_scale():
    value = envelope("c", after={**ROW, "balance": "J0I="})

    change = decode_change(REAL_KEY, value, columns=ColumnTypes({"public.accounts": ACCOUNTS}))

    assert change.after["balance"] == Decimal("100.50")


def test_precise_decimal_declared_as_string_mode_is_an_error_not_a_number():
    value = envelope("c", after={**ROW, "balance": "J0I="})

    with pytest.raises(DecodeError, match="balance"):
        decode_change(REAL_KEY, value, columns=ledger_columns())


def test_double_mode_decimal_is_not_exact():
    value = envelope("c", after={**ROW, "balance": 100.5})
    columns = ColumnTypes({"public.accounts": ACCOUNTS}, ConnectorModes(decimal_handling_mode="double"))

    with pytest.raises(DecodeError, match="binary float"):
        decode_change(REAL_KEY, value, columns=columns)


@pytest.mark.parametrize("text, expected", [("NAN", Decimal("NaN")), ("POSITIVE_INFINITY", Decimal("Infinity")),
                                            ("NEGATIVE_INFINITY", Decimal("-Infinity")), ("-0.00", Decimal("-0.00"))])
def test_string_mode_words_for_what_bigdecimal_cannot_hold(text, expected):
    change = decode_change(REAL_KEY, envelope("c", after={**ROW, "balance": text}), columns=ledger_columns())

    assert str(change.after["balance"]) == str(expected)


@pytest.mark.parametrize("text", ["nan", "inf", "1,5", ""])
def test_string_mode_text_that_debezium_never_writes_is_an_error(text):
    with pytest.raises(DecodeError, match="balance"):
        decode_change(REAL_KEY, envelope("c", after={**ROW, "balance": text}), columns=ledger_columns())


@pytest.mark.parametrize("mode, text", [("hex", "0001ff"), ("base64", "AAH/"), ("base64-url-safe", "AAH_"),
                                        ("bytes", "AAH/")])
def test_bytea_under_every_binary_mode(mode, text):
    columns = ColumnTypes({"public.accounts": {**ACCOUNTS, "blob": "bytea"}},
                          ConnectorModes(decimal_handling_mode="string", binary_handling_mode=mode))

    change = decode_change(REAL_KEY, envelope("c", after={**ROW, "blob": text}), columns=columns)

    assert change.after["blob"] == b"\x00\x01\xff"


def test_message_content_by_binary_mode():
    document = {"op": "m", "source": {"ts_ms": 1, "snapshot": "false", "schema": "", "table": "", "txId": 7,
                                      "lsn": 9}, "message": {"prefix": "ledgerstream", "content": "68656c6c6f"}}
    columns = ColumnTypes({}, ConnectorModes(binary_handling_mode="hex"))

    change = decode_change(b'{"prefix":"ledgerstream"}', json.dumps(document).encode(), columns=columns)

    assert change.after == {"prefix": "ledgerstream", "content": b"hello"}
    assert change.key == {"prefix": "ledgerstream"}


def test_flattened_row_without_table_uses_the_one_declared_table():
    columns = ColumnTypes({"public.accounts": ACCOUNTS}, ConnectorModes(decimal_handling_mode="string"))
    row = {**ROW}

    change = decode_change(b"1", json.dumps(row).encode(), columns=columns)

    assert change.op is Op.UPSERT and change.after["balance"] == Decimal("100.50")
    two = ColumnTypes({"public.accounts": ACCOUNTS, "public.customers": {"id": "bigint"}})
    with pytest.raises(DecodeError, match="does not name its table"):
        decode_change(b"1", json.dumps(row).encode(), columns=two)


@pytest.mark.parametrize("text, kind, precision, scale", [
    ("numeric(18,2)", "numeric", 18, 2), ("NUMERIC", "numeric", None, None), ("decimal(10)", "numeric", 10, 0),
    ("timestamp(3) with time zone", "timestamptz", 3, None), ("time without time zone", "time", None, None),
    ("character varying(20)", "text", None, None), ("double precision", "float8", None, None),
    ("int", "int4", None, None),
])
def test_column_types_are_read_as_postgresql_writes_them(text, kind, precision, scale):
    parsed = parse_column_type(text)

    assert (parsed.kind, parsed.precision, parsed.scale) == (kind, precision, scale)


@pytest.mark.parametrize("text", ["money", "interval", "numeric(", "int[]", "point"])
def test_unsupported_column_types_are_refused_up_front(text):
    with pytest.raises(ValueError, match="column type"):
        parse_column_type(text)


def test_unknown_connector_modes_are_refused_up_front():
    with pytest.raises(ValueError, match="decimal.handling.mode"):
        ConnectorModes(decimal_handling_mode="exact")


# --------------------------------------------------------------------------- values at their edges


def test_non_finite_doubles_arrive_as_words():
    field = {"type": "double", "optional": True, "field": "score"}

    assert str(decode_one(field, "NaN")) == "nan"
    assert decode_one(field, "-Infinity") == float("-inf")
    with pytest.raises(DecodeError, match="score"):
        decode_one(field, "nan")


@pytest.mark.parametrize("text", ["infinity", "-infinity"])
def test_infinite_zoned_timestamps_are_an_error(text):
    field = {"type": "string", "optional": True, "name": "io.debezium.time.ZonedTimestamp", "field": "at"}

    with pytest.raises(DecodeError, match="infinity"):
        decode_one(field, text)


def test_infinite_date_is_an_error():
    field = {"type": "int32", "optional": True, "name": "io.debezium.time.Date", "field": "born"}

    with pytest.raises(DecodeError, match="born.*infinity"):
        decode_one(field, -2147472692)  # what Debezium 3.0.7 wrote for date 'infinity'


def test_midnight_at_the_end_of_the_day_is_an_error():
    field = {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTime", "field": "opens"}

    with pytest.raises(DecodeError, match="time of day"):
        decode_one(field, 86_400_000_000)  # PostgreSQL's time '24:00:00'


def test_json_numbers_stay_exact():
    field = {"type": "string", "optional": True, "name": "io.debezium.data.Json", "field": "meta"}

    assert decode_one(field, '{"amount": 2.50, "n": 12345678901234567890123}') == {
        "amount": Decimal("2.50"), "n": 12345678901234567890123}


def test_a_field_the_schema_does_not_name_is_an_error():
    with pytest.raises(DecodeError, match="surprise"):
        decode_change(None, schema_envelope([{"type": "int64", "optional": False, "field": "id"}],
                                            {"id": 1, "surprise": 2}))


def test_big_integer_is_never_read_as_a_float():
    field = {"type": "int64", "optional": True, "field": "big"}
    value = schema_envelope([field], {"big": 1}).replace(b'"big": 1}', b'"big": 18446744073709551616}')

    with pytest.raises(DecodeError, match="big"):
        decode_change(None, value)


@pytest.mark.parametrize("value", [
    b'{"op": [1], "source": {}, "after": {}}',
    b'{"op": "c", "source": {"snapshot": [1], "lsn": 1, "txId": 1, "ts_ms": 1}, "after": {"id": 1}}',
    b'{"op": {"c": 1}, "source": {"lsn": 1}, "before": null, "after": {"id": 1}}',
])
def test_a_field_of_a_shape_no_debezium_writes_is_a_decode_error_not_a_crash(value):
    # The agents dead-letter a DecodeError; anything else would stop the agent on one bad record.
    with pytest.raises(DecodeError, match="malformed Debezium record"):
        decode_change(b"1", value)
