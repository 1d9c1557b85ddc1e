"""The decoder's parts: a declared column's reader agrees with the per-value one; flattened metadata precedence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc.changes import Change, DecodeError, Op, Typing
from cdc.columns import ColumnTypes, ConnectorModes, column_schema, parse_column_type
from cdc.decode import decode_change
from cdc.flattened import split_metadata
from cdc.types import convert_value, field_converter

#: Every column type the decoder supports, under every mode that changes its wire form.
COLUMN_TYPES = ["smallint", "integer", "bigint", "real", "double precision", "numeric(18,2)", "numeric", "boolean",
                "text", "date", "time", "time(3)", "timetz", "timestamp", "timestamp(3)", "timestamptz", "json",
                "jsonb", "uuid", "bytea"]
MODES = [ConnectorModes(decimal_handling_mode=d, time_precision_mode=t, binary_handling_mode=b)
         for d in ("precise", "string", "double") for t in ("adaptive", "adaptive_time_microseconds", "connect")
         for b in ("bytes", "base64", "hex")]
SCHEMAS = [column_schema(parse_column_type(sql), modes) for sql in COLUMN_TYPES for modes in MODES]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["AeI6", "2026-11-22T01:45:54.287670Z", "12:00:00Z", "NaN", "{}",
                                               "00000000-0000-4000-8000-000000000001", "deadbeef", "1234.50"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["scale", "value", "x"]), inner,
                                                                max_size=3),
    max_leaves=6,
)


def outcome(read: Any, value: Any) -> tuple[str, str]:
    try:
        return "value", repr(read(value))
    except DecodeError as exc:
        return "error", str(exc)


@given(schema=st.sampled_from(SCHEMAS), value=JSON_VALUES)
def test_a_fixed_schema_reads_every_value_as_convert_value_does(schema, value):
    """field_converter chooses the reader once; the result, or the error message, is convert_value's."""
    assert outcome(field_converter(schema, "col"), value) == outcome(lambda v: convert_value(v, schema, "col"), value)


def test_declared_columns_are_worked_out_when_built():
    columns = ColumnTypes({"public.t": {"id": "bigint", "amount": "numeric(18,2)"}},
                          ConnectorModes(decimal_handling_mode="string"))

    declared = columns.table("public", "t")

    assert declared.columns["amount"].schema == {"type": "string"}
    assert declared.columns["id"].read(7) == 7
    with pytest.raises(DecodeError, match="amount.*not decimal text"):
        declared.columns["amount"].read("12,50")


def test_the_typing_is_the_same_for_every_shape_of_one_setting():
    """A null value with a delete header, a flattened row and an envelope: one rule picks the typing."""
    columns = ColumnTypes({"public.t": {"id": "integer"}})
    key = json.dumps({"id": 1}).encode()
    envelope = json.dumps({"op": "c", "before": None, "after": {"id": 1},
                           "source": {"schema": "public", "table": "t"}}).encode()
    row = json.dumps({"id": 1, "__op": "c", "__schema": "public", "__table": "t"}).encode()
    delete = [("__op", b"d"), ("__schema", b"public"), ("__table", b"t")]
    for given_columns, typing in ((None, Typing.WIRE), (columns, Typing.SQL)):
        changes = [decode_change(key, envelope, columns=given_columns),
                   decode_change(key, row, columns=given_columns),
                   decode_change(key, None, delete, columns=given_columns)]
        assert all(isinstance(change, Change) for change in changes)
        assert [change.typing for change in changes if isinstance(change, Change)] == [typing] * 3
        assert [change.op for change in changes if isinstance(change, Change)] == [Op.CREATE, Op.CREATE, Op.DELETE]


def test_a_metadata_field_wins_over_the_header_of_the_same_name():
    row, meta = split_metadata({"id": 1, "__table": "accounts"}, {"__table": b"customers", "__lsn": b"42"})

    assert row == {"id": 1}
    assert meta.table == "accounts"
    assert meta.source.lsn == 42


def test_every_metadata_header_must_be_readable_even_one_not_used():
    with pytest.raises(DecodeError, match="__db"):
        split_metadata({"id": 1}, {"__db": b"\xff"})
