"""Property-based tests of cdc.decode: generated rows and values, written as Debezium writes them.

Records are built by the test oracle tests/fixtures/debezium_model.py, which test_cdc_fixtures.py holds
to what real Debezium wrote.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Context, Decimal
from typing import Any, Dict, Mapping
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cdc.changes import DecodeError, Typing
from cdc.columns import ColumnTypes, ConnectorModes
from cdc.decode import decode_change
from tests.fixtures.debezium_model import (
    UNDECODABLE,
    connect_decimal_bytes,
    expected_value,
    field_schema,
    same,
    wire_value,
)

UTC = timezone.utc
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
TABLE = "t"

COLUMNS: Dict[str, str] = {
    "id": "integer", "amount": "numeric(18,2)", "quantity": "numeric", "ratio": "numeric(38,10)",
    "score": "double precision", "active": "boolean", "born": "date", "opens": "time", "opens_ms": "time(3)",
    "opens_tz": "timetz", "happened": "timestamp", "happened_ms": "timestamp(3)", "happened_tz": "timestamptz",
    "doc": "json", "docb": "jsonb", "ref": "uuid", "blob": "bytea", "note": "text", "big": "bigint",
    "small": "smallint",
}

MODES = st.fixed_dictionaries({
    "decimal.handling.mode": st.sampled_from(["precise", "string", "double"]),
    "time.precision.mode": st.sampled_from(["adaptive", "adaptive_time_microseconds", "connect"]),
    "binary.handling.mode": st.sampled_from(["bytes", "base64", "base64-url-safe", "hex"]),
})

# --------------------------------------------------------------------------- value strategies


_WIDE = Context(prec=1000)  # Decimal's default context keeps 28 digits


def fixed_decimals(precision: int, scale: int):
    """Every numeric(precision, scale) value, its limits included, at exactly that scale."""
    limit = 10 ** precision - 1
    unscaled = st.integers(-limit, limit) | st.sampled_from([limit, -limit, 0, 1, -1])
    return unscaled.map(lambda n: Decimal(n).scaleb(-scale, context=_WIDE))

variable_decimals = st.builds(
    lambda n, scale: Decimal(n).scaleb(-scale, context=_WIDE),
    st.integers(-(10 ** 60), 10 ** 60), st.integers(0, 30),
)
special_decimals = st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])

OFFSETS = st.integers(-15 * 60 + 1, 15 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
ZONES = st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"),
                         ZoneInfo("Asia/Kathmandu")]) | OFFSETS


def json_documents():
    scalars = (st.none() | st.booleans() | st.integers(-(10 ** 30), 10 ** 30) | st.text(max_size=8)
               | st.decimals(allow_nan=False, allow_infinity=False, places=4))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


def json_text(value: Any) -> str:
    """JSON with decimals written digit for digit (json.dumps would go through float)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        return "[" + ", ".join(json_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {json_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def values_of(sql: str):
    kind = sql.split("(")[0]
    strategies = {
        "integer": st.integers(-(2 ** 31), 2 ** 31 - 1),
        "bigint": st.integers(-(2 ** 63), 2 ** 63 - 1),
        "smallint": st.integers(-(2 ** 15), 2 ** 15 - 1),
        "double precision": st.floats(),
        "boolean": st.booleans(),
        "date": st.dates(),
        "timetz": st.times(timezones=OFFSETS),
        "timestamptz": st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES,
                                    allow_imaginary=False),
        "json": json_documents().map(json_text),
        "jsonb": json_documents().map(json_text),
        "uuid": st.uuids(),
        "bytea": st.binary(max_size=16),
        "text": st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    }
    if sql == "numeric(18,2)":
        return fixed_decimals(18, 2) | special_decimals
    if sql == "numeric(38,10)":
        return fixed_decimals(38, 10)
    if sql == "numeric":
        return variable_decimals | special_decimals
    if sql == "time":
        return st.times()
    if sql == "time(3)":
        return st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
    if sql == "timestamp":
        return st.datetimes()
    if sql == "timestamp(3)":
        return st.datetimes().map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
    return strategies[kind]


ROWS = st.fixed_dictionaries({name: st.none() | values_of(sql) if name != "id" else values_of(sql)
                              for name, sql in COLUMNS.items()})

# --------------------------------------------------------------------------- records


def record(row: Mapping[str, Any], modes: Mapping[str, str], *, schemas: bool, columns=COLUMNS, op="c") -> bytes:
    """A Debezium envelope of one row, as JsonConverter writes it."""
    after = {name: wire_value(columns[name], value, modes) for name, value in row.items()}
    payload = {
        "before": None, "after": after, "op": op, "ts_ms": 1795309578567, "transaction": None,
        "source": {"version": "3.0.7.Final", "connector": "postgresql", "name": "p", "ts_ms": 1795309578491,
                   "snapshot": "false", "db": "ledger", "schema": "public", "table": TABLE, "txId": 730,
                   "lsn": 26501168},
    }
    if not schemas:
        return json.dumps(payload).encode()
    fields = [{**field_schema(columns[name], modes), "optional": True, "field": name} for name in row]
    row_schema = {"type": "struct", "optional": True, "name": f"p.public.{TABLE}.Value", "fields": fields}
    schema = {"type": "struct", "name": f"p.public.{TABLE}.Envelope", "optional": False, "fields": [
        {**row_schema, "field": "before"}, {**row_schema, "field": "after"},
        {"type": "struct", "name": "io.debezium.connector.postgresql.Source", "optional": False, "field": "source",
         "fields": []},
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"},
        {"type": "struct", "optional": True, "name": "event.block", "field": "transaction", "fields": []},
    ]}
    return json.dumps({"schema": schema, "payload": payload}).encode()


def declared(modes: Mapping[str, str], columns=COLUMNS) -> ColumnTypes:
    return ColumnTypes({f"public.{TABLE}": dict(columns)}, ConnectorModes.from_connector_config(modes))


def expected_row(row, modes, typing, columns=COLUMNS):
    return {name: expected_value(columns[name], value, modes, typing) for name, value in row.items()}


def assert_decodes(raw: bytes, expected: Mapping[str, Any], typing: Typing, columns=None) -> None:
    if any(v is UNDECODABLE for v in expected.values()):
        with pytest.raises(DecodeError):
            decode_change(None, raw, columns=columns)
        return
    change = decode_change(None, raw, columns=columns)
    assert change.typing is typing
    for name, value in expected.items():
        assert same(change.after[name], value), (name, change.after[name], value)


# --------------------------------------------------------------------------- generated rows


@settings(max_examples=150)
@given(row=ROWS, modes=MODES, schemas=st.booleans())
def test_generated_rows_decode_to_their_sql_values(row, modes, schemas):
    raw = record(row, modes, schemas=schemas)

    assert_decodes(raw, expected_row(row, modes, "sql"), Typing.SQL, declared(modes))


@settings(max_examples=150)
@given(row=ROWS, modes=MODES)
def test_generated_rows_decode_by_their_record_schema(row, modes):
    assert_decodes(record(row, modes, schemas=True), expected_row(row, modes, "connect"), Typing.CONNECT)


@settings(max_examples=50)
@given(row=ROWS, modes=MODES)
def test_generated_schemaless_rows_stay_as_written(row, modes):
    change = decode_change(None, record(row, modes, schemas=False))

    assert change.typing is Typing.WIRE
    assert same(change.after, expected_row(row, modes, "wire")) or change.after == expected_row(row, modes, "wire")


# --------------------------------------------------------------------------- decimals at their limits

PRECISE = {"decimal.handling.mode": "precise"}
STRING = {"decimal.handling.mode": "string"}


@given(value=fixed_decimals(18, 2), schemas=st.booleans())
@example(value=Decimal("9999999999999999.99"), schemas=False)
@example(value=Decimal("-9999999999999999.99"), schemas=True)
@example(value=Decimal("0.00"), schemas=False)
@example(value=Decimal("-0.01"), schemas=True)
def test_money_numeric_18_2_is_exact_to_its_limits(value, schemas):
    columns = {"amount": "numeric(18,2)"}
    for modes in (PRECISE, STRING):
        change = decode_change(None, record({"amount": value}, modes, schemas=schemas, columns=columns),
                               columns=declared(modes, columns))
        assert same(change.after["amount"], value)


@given(value=fixed_decimals(38, 10))
@example(value=Decimal("9999999999999999999999999999.9999999999"))
@example(value=Decimal("-9999999999999999999999999999.9999999999"))
@example(value=Decimal("0.0000000001"))
def test_numeric_38_10_keeps_all_38_digits(value):
    columns = {"ratio": "numeric(38,10)"}
    with_schema = decode_change(None, record({"ratio": value}, PRECISE, schemas=True, columns=columns))
    declared_only = decode_change(None, record({"ratio": value}, PRECISE, schemas=False, columns=columns),
                                  columns=declared(PRECISE, columns))

    assert same(with_schema.after["ratio"], value)
    assert same(declared_only.after["ratio"], value)


@given(value=variable_decimals)
@example(value=Decimal("123456789012345678901234567890.123456789012"))
@example(value=Decimal("-0.000000000000000000000000000001"))
def test_unconstrained_numeric_keeps_its_own_scale(value):
    columns = {"quantity": "numeric"}
    change = decode_change(None, record({"quantity": value}, PRECISE, schemas=True, columns=columns))

    assert same(change.after["quantity"], value)


@given(value=fixed_decimals(18, 2))
def test_a_precise_decimal_without_its_scale_is_never_read_as_a_number(value):
    """Without schema or declared types, base64 stays text: nobody can tell it from a text column."""
    columns = {"amount": "numeric(18,2)"}
    change = decode_change(None, record({"amount": value}, PRECISE, schemas=False, columns=columns))

    assert change.typing is Typing.WIRE
    assert change.after["amount"] == connect_decimal_bytes(int(value.scaleb(2)))


# --------------------------------------------------------------------------- time around its edges


def epoch_micros_to_datetime(micros: int) -> datetime:
    """An oracle apart from the decoder's: whole days by ordinal, then the time of day."""
    days, rest = divmod(micros, 86_400_000_000)
    seconds, micro = divmod(rest, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return datetime.combine(date.fromordinal(EPOCH_ORDINAL + days), time(hour, minute, second, micro))


def one_field(name: str, value: Any, kind: str = "int64") -> bytes:
    """A schema-enabled envelope whose row is one field `ts` of the given logical type."""
    schema = {"type": kind, "optional": True, "name": name, "field": "ts"}
    envelope = json.loads(record({}, {}, schemas=True, columns={}))
    for part in ("before", "after"):
        field = next(f for f in envelope["schema"]["fields"] if f["field"] == part)
        field["fields"] = [schema]
    envelope["payload"]["after"] = {"ts": value}
    return json.dumps(envelope).encode()


MICROS_RANGE = st.integers(-62135596800000000, 253402300799999999)  # 0001-01-01 .. 9999-12-31


@given(micros=st.integers(-10 ** 12, 10 ** 12) | MICROS_RANGE)
@example(micros=-1)
@example(micros=0)
@example(micros=-62135596800000000)
@example(micros=253402300799999999)
def test_micro_timestamps_around_the_epoch(micros):
    expected = epoch_micros_to_datetime(micros)

    assert decode_change(None, one_field("io.debezium.time.MicroTimestamp", micros)).after["ts"] == expected
    if -(2 ** 63) <= micros * 1000 < 2 ** 63:  # an int64 of nanoseconds spans 1677..2262
        assert decode_change(None, one_field("io.debezium.time.NanoTimestamp", micros * 1000)).after["ts"] == expected
    millis = micros // 1000
    assert decode_change(None, one_field("io.debezium.time.Timestamp", millis)).after["ts"] == \
        epoch_micros_to_datetime(millis * 1000)


@given(micros=st.integers(253402300800000000, 2 ** 63 - 1) | st.integers(-(2 ** 63), -62135596800000001))
@example(micros=9223372036825200000)  # what Debezium writes for PostgreSQL's timestamp 'infinity'
def test_timestamps_outside_python_range_are_an_error(micros):
    with pytest.raises(DecodeError, match="outside"):
        decode_change(None, one_field("io.debezium.time.MicroTimestamp", micros))


def _around(moment: datetime, hours: int = 6):
    return st.integers(-hours * 3600_000_000, hours * 3600_000_000).map(lambda us: moment + timedelta(microseconds=us))


#: Daylight-saving changes of 2026: Europe spring forward and fall back, and the US ones.
DST_INSTANTS = (_around(datetime(2026, 3, 29, 1, tzinfo=UTC)) | _around(datetime(2026, 10, 25, 1, tzinfo=UTC))
                | _around(datetime(2026, 3, 8, 7, tzinfo=UTC)) | _around(datetime(2026, 11, 1, 6, tzinfo=UTC))
                | _around(datetime(1970, 1, 1, tzinfo=UTC), hours=48))


def zoned(name: str, value: str) -> bytes:
    return one_field(name, value, kind="string")


def offset_text(offset: timedelta, z_for_utc: bool = False) -> str:
    if offset == timedelta(0) and z_for_utc:
        return "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@given(instant=DST_INSTANTS, zone=st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")]),
       digits=st.sampled_from([0, 3, 6, 9]), z_for_utc=st.booleans())
def test_zoned_timestamps_keep_instant_and_offset_across_dst(instant, zone, digits, z_for_utc):
    local = instant.astimezone(zone)
    if digits < 6:  # fewer digits written: the value is what they hold
        local = local.replace(microsecond=local.microsecond // 1000 * 1000 if digits else 0)
    text = local.replace(tzinfo=None).isoformat(timespec="seconds")
    if digits:
        text += "." + f"{local.microsecond:06d}000"[:digits]
    text += offset_text(local.utcoffset(), z_for_utc)

    decoded = decode_change(None, zoned("io.debezium.time.ZonedTimestamp", text)).after["ts"]

    # The same instant. Compared in UTC: Python calls an ambiguous local time (fold=1, the second
    # 01:30 of a fall-back night) unequal to every time of another zone.
    assert decoded.astimezone(UTC) == local.astimezone(UTC)
    assert decoded.utcoffset() == local.utcoffset()  # and the offset it was written with


@given(instant=DST_INSTANTS)
def test_zoned_timestamps_as_debezium_writes_them_are_utc(instant):
    text = instant.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    decoded = decode_change(None, zoned("io.debezium.time.ZonedTimestamp", text)).after["ts"]

    assert decoded == instant and decoded.tzinfo == UTC


@given(value=st.times(timezones=OFFSETS))
def test_zoned_times_keep_their_offset(value):
    text = value.replace(tzinfo=None).isoformat(timespec="microseconds") + offset_text(value.utcoffset())

    decoded = decode_change(None, zoned("io.debezium.time.ZonedTime", text)).after["ts"]

    assert decoded == value and decoded.utcoffset() == value.utcoffset()


@given(nanos=st.integers(1, 999))
def test_zoned_timestamp_with_nanoseconds_is_an_error(nanos):
    with pytest.raises(DecodeError, match="nanoseconds"):
        decode_change(None, zoned("io.debezium.time.ZonedTimestamp", f"2026-03-29T01:30:00.123456{nanos:03d}Z"))


@given(days=st.integers(-719162, 2932896))  # 0001-01-01 .. 9999-12-31
@example(days=-1)
@example(days=-25567)
def test_dates_before_and_after_the_epoch(days):
    decoded = decode_change(None, one_field("io.debezium.time.Date", days, kind="int32")).after["ts"]

    assert decoded == date.fromordinal(EPOCH_ORDINAL + days)
