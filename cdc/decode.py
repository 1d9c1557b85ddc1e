"""Decode one raw Debezium record (JsonConverter, with or without schemas) into a typed change.

    decode_change(key, value, headers=None, *, columns=None, flattened=None) -> Change | Tombstone

One pure function for every shape the ledger's connectors can write: the Debezium envelope (ops c, u,
d, r, t and m), a row flattened by ExtractNewRecordState (see cdc.flattened), a null or JSON-null
value (a Tombstone; or a delete without a row image when an `__op` header says so). What it cannot
decode exactly raises DecodeError with the reason; the caller dead-letters the record. It never
guesses, so how far values are typed depends on what it is told:

- the record has a schema (schemas.enable=true): values are typed by it (`Typing.CONNECT`);
- `columns` declares the table's PostgreSQL types and the connector's modes: values are typed as
  PostgreSQL types them (`Typing.SQL`), with or without a schema in the record (cdc.columns);
- neither: values stay the JSON the connector wrote (`Typing.WIRE`). With decimal.handling.mode=
  precise a numeric then arrives as base64 text that no decoder can tell from a text column, so
  code reading WIRE values must know the connector's modes; the ledger's connector uses
  decimal.handling.mode=string, whose values are the exact decimal text, and the projections
  reject a money value that is not decimal text.

The typing is chosen once per record, from `columns` and the record's schema (`_typing_for`), as
one of three strategies with the same four steps (envelope images, flattened row, message, key);
the rest of the decoder checks the record's shape and never asks which typing it is in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Union

import orjson

from .changes import Change, DecodeError, Op, Tombstone, Typing
from .columns import ColumnTypes
from .flattened import is_envelope, split_metadata
from .position import envelope_position
from .types import convert_struct, convert_value, field_map

__all__ = ["decode_change", "decode_key", "Headers"]

#: Record headers as a Kafka client gives them: (name, value) pairs, or a mapping.
Headers = Union[Iterable[tuple[str, bytes | None]], Mapping[str, bytes | None], None]
Row = dict[str, Any]
Schema = Mapping[str, Any]

_OPS = {op.value: op for op in Op if op is not Op.UPSERT}


def decode_change(key: bytes | None, value: bytes | None, headers: Headers = None, *,
                  columns: ColumnTypes | None = None,
                  flattened: bool | None = None) -> Change | Tombstone:
    """A change or a tombstone; DecodeError (with the reason) for anything not exact.

    `headers` are read for ExtractNewRecordState's `add.headers` (`__op`, `__table`, `__lsn`...).
    `flattened` forces the record's shape (True: an ExtractNewRecordState row, False: an
    envelope) for the rare table whose schemaless rows look like envelopes; None tells by itself.
    """
    try:
        return _decode_change(key, value, headers, columns=columns, flattened=flattened)
    except DecodeError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        # A field of a shape no Debezium version writes (a list where text belongs, a schema that is
        # a number): still a record to dead-letter with its reason, never one that stops the agent.
        raise DecodeError(f"malformed Debezium record ({type(exc).__name__}: {exc})") from None


def _decode_change(key: bytes | None, value: bytes | None, headers: Headers, *,
                   columns: ColumnTypes | None, flattened: bool | None) -> Change | Tombstone:
    payload, schema = (None, None) if value is None else _payload_and_schema(_parse_json(value, "value"))
    typing = _typing_for(columns, None if payload is None else schema)  # a null value has nothing to type
    if payload is None:  # a null value; JSON null too, which Kafka Connect reads as a null value
        header_map = _header_map(headers)
        if "__op" in header_map:
            return _flattened_delete(key, header_map, typing)
        return Tombstone(decode_key(key))
    if not isinstance(payload, dict):
        raise DecodeError(f"value is a JSON {type(payload).__name__}, not a Debezium envelope object")
    envelope = is_envelope(payload, schema) if flattened is None else not flattened
    if envelope:
        return _from_envelope(key, payload, schema, typing)
    return _from_flattened(key, payload, schema, _header_map(headers), typing)


def decode_key(key: bytes | None, *, columns: ColumnTypes | None = None, schema: str | None = None,
               table: str | None = None, message: bool = False) -> Any:
    """A record key: typed by its schema, or by the declared columns of its table when given."""
    if key is None:
        return None
    payload, key_schema = _payload_and_schema(_parse_json(key, "key"))
    if columns is not None and not message and isinstance(payload, dict):
        return columns.table(schema, table).convert_row(payload, key_schema, "key")
    return convert_value(payload, key_schema, "key")


# --------------------------------------------------------------------------- typings


class _Wire:
    """No schema and no declared types: values stay the JSON the connector wrote."""

    typing = Typing.WIRE

    def images(self, before: Row | None, after: Row | None, fields: Mapping[Any, Schema],
               schema_name: str | None, table_name: str | None) -> tuple[Row | None, Row | None]:
        return before, after

    def row(self, row: Row, schema: Schema | None, schema_name: str | None, table_name: str | None) -> Row:
        return row

    def message(self, message: Row, fields: Mapping[Any, Schema]) -> Row:
        return message

    def key(self, key: bytes | None, schema_name: str | None, table_name: str | None, *,
            message: bool = False) -> Any:
        return decode_key(key)


class _Connect(_Wire):
    """The record's own Kafka Connect schema types each value (cdc.types)."""

    typing = Typing.CONNECT

    def images(self, before: Row | None, after: Row | None, fields: Mapping[Any, Schema],
               schema_name: str | None, table_name: str | None) -> tuple[Row | None, Row | None]:
        if not fields:  # a schema that names no fields types nothing
            return before, after
        return (None if before is None else _struct(before, fields, "before"),
                None if after is None else _struct(after, fields, "after"))

    def row(self, row: Row, schema: Schema | None, schema_name: str | None, table_name: str | None) -> Row:
        assert schema is not None  # this typing is chosen only for a record with a schema
        return convert_struct(row, schema, "row")

    def message(self, message: Row, fields: Mapping[Any, Schema]) -> Row:
        if "message" in fields:
            return convert_struct(message, fields["message"], "message")
        return message


class _Declared:
    """Declared column types (cdc.columns): each value as PostgreSQL types it."""

    typing = Typing.SQL

    def __init__(self, columns: ColumnTypes) -> None:
        self.columns = columns

    def images(self, before: Row | None, after: Row | None, fields: Mapping[Any, Schema],
               schema_name: str | None, table_name: str | None) -> tuple[Row | None, Row | None]:
        declared = self.columns.table(schema_name, table_name)
        return (None if before is None else declared.convert_row(before, fields.get("before"), "before"),
                None if after is None else declared.convert_row(after, fields.get("after"), "after"))

    def row(self, row: Row, schema: Schema | None, schema_name: str | None, table_name: str | None) -> Row:
        return self.columns.table(schema_name, table_name).convert_row(row, schema, "row")

    def message(self, message: Row, fields: Mapping[Any, Schema]) -> Row:
        return self.columns.convert_message(message, fields.get("message"))

    def key(self, key: bytes | None, schema_name: str | None, table_name: str | None, *,
            message: bool = False) -> Any:
        return decode_key(key, columns=self.columns, schema=schema_name, table=table_name, message=message)


_Typing = Union[_Wire, _Declared]
_WIRE, _CONNECT = _Wire(), _Connect()


def _typing_for(columns: ColumnTypes | None, schema: Schema | None) -> _Typing:
    """Declared types win over the record's schema, which wins over the wire."""
    if columns is not None:
        return _Declared(columns)
    return _CONNECT if schema is not None else _WIRE


def _struct(image: Row, fields: Mapping[Any, Schema], name: str) -> Row:
    if name not in fields:
        raise DecodeError(f"the record's schema has no `{name}` field")
    return convert_struct(image, fields[name], name)


# --------------------------------------------------------------------------- envelopes


def _from_envelope(key: bytes | None, payload: Mapping[str, Any], schema: Schema | None, typing: _Typing) -> Change:
    raw_op = payload.get("op")
    if raw_op is None:
        raise DecodeError("value has no `op` field: not a Debezium change envelope")
    op = _OPS.get(raw_op)
    if op is None:
        raise DecodeError(f"unknown operation {raw_op!r}")
    source = payload.get("source")
    if not isinstance(source, dict):
        raise DecodeError("envelope has no `source` block")
    fields = field_map(schema) if schema is not None else {}  # the worker's records have no schema
    schema_name, table_name = _text(source.get("schema")), _text(source.get("table"))
    before: Row | None
    after: Row | None
    if op is Op.MESSAGE:
        message = payload.get("message")
        if not isinstance(message, dict):
            raise DecodeError("logical decoding message without a `message` block")
        before, after = None, typing.message(message, fields)
    else:
        before, after = _images(payload, op)
        if op is not Op.TRUNCATE:
            before, after = typing.images(before, after, fields, schema_name, table_name)
    change_key = typing.key(key, schema_name, table_name, message=op is Op.MESSAGE)
    return Change(op=op, schema=schema_name, table=table_name, key=change_key, before=before, after=after,
                  source=envelope_position(source), typing=typing.typing)


def _images(payload: Mapping[str, Any], op: Op) -> tuple[Row | None, Row | None]:
    """The row images an operation must have, checked; none for a truncate."""
    before, after = payload.get("before"), payload.get("after")
    for name, image in (("before", before), ("after", after)):
        if image is not None and not isinstance(image, dict):
            raise DecodeError(f"`{name}` is a JSON {type(image).__name__}, not a row")
    if op in (Op.CREATE, Op.READ, Op.UPDATE) and after is None:
        raise DecodeError(f"operation {op.value!r} without an `after` row")
    if op is Op.DELETE and before is None:
        raise DecodeError("delete without a `before` row")
    if op is Op.TRUNCATE:
        return None, None
    return before, after


# --------------------------------------------------------------------------- flattened rows


def _from_flattened(key: bytes | None, payload: Row, schema: Schema | None,
                    headers: Mapping[str, bytes | None], typing: _Typing) -> Change:
    row, meta = split_metadata(payload, headers)
    row = typing.row(row, schema, meta.schema, meta.table)
    before, after = (row, None) if meta.op is Op.DELETE else (None, row)
    return Change(op=meta.op, schema=meta.schema, table=meta.table,
                  key=typing.key(key, meta.schema, meta.table),
                  before=before, after=after, source=meta.source, typing=typing.typing)


def _flattened_delete(key: bytes | None, headers: Mapping[str, bytes | None], typing: _Typing) -> Change:
    """A null value with an `__op` header: ExtractNewRecordState in tombstone mode (add.headers)
    turned a delete into this tombstone, the only record of the delete. A delete with no row image."""
    _, meta = split_metadata({}, headers)
    if meta.op is not Op.DELETE:
        raise DecodeError(f"a null value whose header says __op={meta.op.value!r}, not a delete")
    return Change(op=Op.DELETE, schema=meta.schema, table=meta.table,
                  key=typing.key(key, meta.schema, meta.table),
                  before=None, after=None, source=meta.source, typing=typing.typing)


# --------------------------------------------------------------------------- helpers


def _parse_json(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"{what} is not valid JSON ({exc})") from None


def _payload_and_schema(document: Any) -> tuple[Any, Schema | None]:
    """JsonConverter with schemas.enable=true wraps every record as {schema, payload}."""
    if isinstance(document, dict) and document.keys() == {"schema", "payload"} \
            and isinstance(document["schema"], (dict, type(None))):
        return document["payload"], document["schema"]
    return document, None


def _header_map(headers: Headers) -> Mapping[str, bytes | None]:
    if not headers:
        return {}
    if isinstance(headers, Mapping):
        return headers
    return {name: value for name, value in headers}


def _text(value: Any) -> str | None:
    """The envelope's `source.schema`/`source.table`: text, or None (absent, empty, or not text)."""
    return value if isinstance(value, str) and value else None
