"""Unit tests of cdc.decode: Debezium records (schemaless and schema-enabled) into typed changes."""

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

from cdc.changes import Change, DecodeError, Op, SourcePosition, Tombstone
from cdc.decode import decode_change

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
        source=SourcePosition(lsn=26501168, tx_id=730, commit_ts_ms=1795309578491, snapshot=False),
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
