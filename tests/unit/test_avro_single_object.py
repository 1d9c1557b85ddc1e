"""Unit tests of Avro single-object encoding: round trips of every schema, and decode errors of every kind."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict
from uuid import UUID

import avro.io
import avro.schema
import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import default_catalog
from schemas.codec.envelope import decode_envelope, encode_envelope, wrap
from schemas.codec.errors import AvroDecodeError, AvroEncodeError
from schemas.codec.single_object import HEADER_SIZE, MARKER, decode_single_object, encode_single_object
from schemas.codec.values import compile_check
from schemas.files import ENVELOPE
from schemas.records import WithdrawalAlertV1, record_class

CATALOG = default_catalog()
ALL_VERSIONS = list(CATALOG)
EVENT_VERSIONS = [v for v in CATALOG if v.subject != ENVELOPE]
T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)

_ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
#: Aware datetimes in any of a few zones; whatever the zone, the instant must survive.
TIMESTAMPS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_ZONES)
_PRIMITIVES = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "string": st.text(),
    "bytes": st.binary(),
}


def values_of(schema: Any, named: Dict[str, Any] | None = None) -> st.SearchStrategy:
    """Any value a (file) schema allows, built from the schema itself so that a new file is covered too."""
    named = {} if named is None else named
    if isinstance(schema, list):
        return st.one_of([values_of(branch, named) for branch in schema])
    if isinstance(schema, str):
        return values_of(named[schema], named) if schema in named else _PRIMITIVES[schema]
    logical, kind = schema.get("logicalType"), schema["type"]
    if logical == "uuid":
        return st.uuids()
    if logical == "timestamp-micros":
        return TIMESTAMPS
    if kind == "record":
        named[schema["name"]] = schema
        return st.fixed_dictionaries({f["name"]: values_of(f["type"], named) for f in schema["fields"]})
    if kind == "array":
        return st.lists(values_of(schema["items"], named), max_size=5)
    return values_of(kind, named)


def alert(**changes) -> WithdrawalAlertV1:
    fields = dict(
        alert_id="rapid-large-withdrawals:123", rule="rapid-large-withdrawals", account_id=7, trigger_txn_id=123,
        count=3, total="1234.50", window_start=T0 - timedelta(minutes=5), window_end=T0, txn_ids=[121, 122, 123],
        detected_at=T0,
    )
    return WithdrawalAlertV1(**{**fields, **changes})


@pytest.mark.parametrize("version", ALL_VERSIONS, ids=lambda v: v.label)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_schema_round_trips_as_dict_and_as_record(version, data):
    value = data.draw(values_of(version.schema))
    encoded = encode_single_object(value, version)
    writer, decoded = decode_single_object(encoded, CATALOG)
    assert writer is version and decoded == value
    record = record_class(version.subject, version.version)(**value)
    assert encode_single_object(record, version) == encoded


@pytest.mark.parametrize("version", EVENT_VERSIONS, ids=lambda v: v.label)
@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_round_trips_inside_an_envelope(version, data):
    payload = record_class(version.subject, version.version)(**data.draw(values_of(version.schema)))
    envelope = wrap(
        payload, version.subject, version.version,
        source=data.draw(st.text()), partition_key=data.draw(st.text()),
        event_id=data.draw(st.uuids()), recorded_at=data.draw(TIMESTAMPS), occurred_at=data.draw(TIMESTAMPS),
    )
    decoded = decode_envelope(encode_envelope(envelope), {version.subject: version.version})
    assert decoded == (envelope, payload)


def test_the_bytes_are_marker_fingerprint_and_plain_avro_body():
    version = CATALOG.get("WithdrawalAlert", 1)
    encoded = encode_single_object(alert(), version)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, version.parsed, {f: getattr(alert(), f) for f in alert().__dataclass_fields__})
    assert encoded[:2] == MARKER == b"\xc3\x01"
    assert encoded[2:HEADER_SIZE] == version.fingerprint
    assert encoded[HEADER_SIZE:] == body.getvalue()


def test_the_avro_project_reads_the_body_too():
    version = CATALOG.get("WithdrawalAlert", 1)
    encoded = encode_single_object(alert(), version)
    schema = avro.schema.parse(json.dumps(version.schema))
    decoded = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(encoded[HEADER_SIZE:])))
    assert decoded["alert_id"] == "rapid-large-withdrawals:123" and decoded["txn_ids"] == [121, 122, 123]
    assert decoded["window_end"] == T0 and decoded["total"] == "1234.50"


def encoded_alert() -> bytes:
    return encode_single_object(alert(), CATALOG.get("WithdrawalAlert", 1))


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "not Avro single-object encoded: it starts with nothing"),
        (b"{\"json\": true}", "not Avro single-object encoded: it starts with 7b 22, not the marker c3 01"),
        (b"\xc3", "truncated: 1 bytes, shorter than the 10-byte header"),
        (b"\xc3\x01\x00\x01", "truncated: 4 bytes, shorter than the 10-byte header"),
        (b"\xc3\x01" + b"\xff" * 8 + b"\x00", "unknown writer schema fingerprint ffffffffffffffff"),
        (None, "expected bytes, got NoneType"),
        ("text", "expected bytes, got str"),
    ],
)
def test_bad_headers_raise_a_decode_error_with_the_reason(data, reason):
    with pytest.raises(AvroDecodeError, match=reason):
        decode_single_object(data, CATALOG)


def test_every_truncation_of_the_body_is_a_decode_error():
    encoded = encoded_alert()
    for end in range(HEADER_SIZE, len(encoded)):
        with pytest.raises(AvroDecodeError, match="WithdrawalAlert v1 body is corrupt or truncated"):
            decode_single_object(encoded[:end], CATALOG)


def test_trailing_bytes_are_a_decode_error():
    with pytest.raises(AvroDecodeError, match="2 bytes left over after the WithdrawalAlert v1 body"):
        decode_single_object(encoded_alert() + b"\x00\x00", CATALOG)


def test_corrupt_body_is_a_decode_error():
    encoded = bytearray(encoded_alert())
    encoded[HEADER_SIZE] = 0x01  # alert_id's length as zigzag -1
    with pytest.raises(AvroDecodeError, match="corrupt or truncated"):
        decode_single_object(bytes(encoded), CATALOG)
    invalid_utf8 = encode_single_object({**_as_dict(alert()), "alert_id": "x"}, CATALOG.get("WithdrawalAlert", 1))
    invalid_utf8 = invalid_utf8[:HEADER_SIZE + 1] + b"\xff" + invalid_utf8[HEADER_SIZE + 2:]
    with pytest.raises(AvroDecodeError, match="UnicodeDecodeError"):
        decode_single_object(invalid_utf8, CATALOG)


def _as_dict(record) -> dict:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def test_a_reader_of_another_subject_is_a_decode_error():
    with pytest.raises(AvroDecodeError, match="written as WithdrawalAlert v1, but BalanceLow was expected"):
        decode_single_object(encoded_alert(), CATALOG, reader=CATALOG.get("BalanceLow", 1))


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_after_a_known_header_decode_or_raise_only_a_decode_error(body):
    try:
        decode_single_object(MARKER + CATALOG.get("WithdrawalAlert", 1).fingerprint + body, CATALOG)
    except AvroDecodeError:
        pass


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_envelopes_decode_or_raise_only_a_decode_error(mutations):
    encoded = bytearray(encode_envelope(wrap(alert(), "WithdrawalAlert", 1, source="fraud", partition_key="7")))
    for position, byte in mutations:
        encoded[position % len(encoded)] = byte
    try:
        decode_envelope(bytes(encoded))
    except AvroDecodeError:
        pass


@pytest.mark.parametrize(
    "changes, reason",
    [
        (dict(account_id="7"), "WithdrawalAlert v1: account_id: expected long \\(64-bit\\), got str '7'"),
        (dict(account_id=True), "account_id: expected long \\(64-bit\\), got bool True"),
        (dict(account_id=2**63), "account_id: expected long \\(64-bit\\), got int 9223372036854775808"),
        (dict(count=2**40), "count: expected int \\(32-bit\\), got int 1099511627776"),
        (dict(count=3.0), "count: expected int \\(32-bit\\), got float 3.0"),
        (dict(total=1234.5), "total: expected string, got float 1234.5"),
        (dict(window_end=datetime(2026, 3, 1)), "window_end: 2026-03-01T00:00:00 has no timezone"),
        (dict(window_end=1_700_000_000_000_000), "window_end: expected a timezone-aware datetime, got int"),
        (dict(txn_ids=[1, None]), "txn_ids\\[1\\]: expected long \\(64-bit\\), got NoneType None"),
        (dict(txn_ids=None), "txn_ids: expected a list, got NoneType None"),
    ],
)
def test_values_that_do_not_fit_raise_an_encode_error_naming_the_field(changes, reason):
    with pytest.raises(AvroEncodeError, match=reason):
        encode_single_object(alert(**changes), CATALOG.get("WithdrawalAlert", 1))


def test_misspelt_and_missing_fields_and_bad_uuids_raise_an_encode_error():
    version = CATALOG.get("WithdrawalAlert", 1)
    with pytest.raises(AvroEncodeError, match="WithdrawalAlert v1: fields not in the schema: totl"):
        encode_single_object({**_as_dict(alert()), "totl": "1.00"}, version)
    with pytest.raises(AvroEncodeError, match="WithdrawalAlert v1: total: missing, and the schema has no default"):
        encode_single_object({k: v for k, v in _as_dict(alert()).items() if k != "total"}, version)
    envelope = CATALOG.get(ENVELOPE, 1)
    fields = {"event_id": "not-a-uuid", "event_type": "X", "event_version": 1, "occurred_at": T0, "recorded_at": T0,
              "source": "s", "correlation_id": "c", "causation_id": None, "partition_key": "k", "payload": b""}
    with pytest.raises(AvroEncodeError, match="event_id: 'not-a-uuid' is not a UUID"):
        encode_single_object(fields, envelope)
    with pytest.raises(AvroEncodeError, match="causation_id: expected a UUID, got int 5"):
        encode_single_object({**fields, "event_id": str(UUID(int=1)), "causation_id": 5}, envelope)
    with pytest.raises(AvroEncodeError, match="cannot encode a int"):
        encode_single_object(5, envelope)


def test_a_missing_field_with_a_default_takes_the_default():
    version = CATALOG.get("MoneyWithdrawn", 2)
    payload = dict(account_id=1, transaction_id=2, amount="5.00", balance_after="1.00", currency="EUR")
    assert decode_single_object(encode_single_object(payload, version), CATALOG)[1]["channel"] == "branch"


def test_the_value_check_covers_the_avro_types_no_schema_uses_yet():
    # Enums, fixed, maps, general unions and recursion, for the schema that first needs them.
    node = {
        "type": "record", "name": "Node", "fields": [
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
            {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
            {"name": "tags", "type": {"type": "map", "values": "long"}},
            {"name": "either", "type": ["null", "long", "string"]},
            {"name": "next", "type": ["null", "Node"], "default": None},
        ],
    }
    check = compile_check(node)
    leaf = {"kind": "A", "hash": b"abcd", "tags": {"x": 1}, "either": "s"}
    assert check({**leaf, "next": {**leaf, "either": 5}}, "") is None
    assert check({**leaf, "kind": "C"}, "") == "kind: str 'C' is not one of ['A', 'B']"
    assert check({**leaf, "hash": b"abc"}, "") == "hash: expected 4 bytes, got bytes b'abc'"
    assert check({**leaf, "tags": {"x": "1"}}, "") == "tags['x']: expected long (64-bit), got str '1'"
    assert check({**leaf, "either": 1.5}, "") == "either: float 1.5 fits none of the union's branches"
    assert check({**leaf, "next": {**leaf, "kind": ["A"]}}, "") == "next.kind: list ['A'] is not one of ['A', 'B']"
