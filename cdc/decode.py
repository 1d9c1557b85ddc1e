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
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Tuple, Union

import orjson

from .changes import Change, DecodeError, Op, SourcePosition, Tombstone, Typing
from .columns import ColumnTypes
from .flattened import is_envelope, split_metadata
from .types import convert_struct, convert_value

__all__ = ["decode_change", "decode_key", "Headers"]

#: Record headers as a Kafka client gives them: (name, value) pairs, or a mapping.
Headers = Union[Iterable[Tuple[str, Optional[bytes]]], Mapping[str, Optional[bytes]], None]

_OPS = {op.value: op for op in Op if op is not Op.UPSERT}
_SNAPSHOT_FALSE = {None, False, "false"}


def decode_change(key: Optional[bytes], value: Optional[bytes], headers: Headers = None, *,
                  columns: Optional[ColumnTypes] = None,
                  flattened: Optional[bool] = None) -> Union[Change, Tombstone]:
    """A change or a tombstone; DecodeError (with the reason) for anything not exact.

    `headers` are read for ExtractNewRecordState's `add.headers` (`__op`, `__table`, `__lsn`...).
    `flattened` forces the record's shape (True: an ExtractNewRecordState row, False: an
    envelope) for the rare table whose schemaless rows look like envelopes; None tells by itself.
    """
    payload, schema = (None, None) if value is None else _payload_and_schema(_parse_json(value, "value"))
    if payload is None:  # a null value; JSON null too, which Kafka Connect reads as a null value
        header_map = _header_map(headers)
        if "__op" in header_map:
            return _flattened_delete(key, header_map, columns)
        return Tombstone(decode_key(key))
    if not isinstance(payload, dict):
        raise DecodeError(f"value is a JSON {type(payload).__name__}, not a Debezium envelope object")
    envelope = is_envelope(payload, schema) if flattened is None else not flattened
    if envelope:
        return _from_envelope(key, payload, schema, columns)
    return _from_flattened(key, payload, schema, _header_map(headers), columns)


def decode_key(key: Optional[bytes], *, columns: Optional[ColumnTypes] = None, schema: Optional[str] = None,
               table: Optional[str] = None, message: bool = False) -> Any:
    """A record key: typed by its schema, or by the declared columns of its table when given."""
    if key is None:
        return None
    payload, key_schema = _payload_and_schema(_parse_json(key, "key"))
    if columns is not None and not message and isinstance(payload, dict):
        return columns.convert_row(payload, columns.table(schema, table), key_schema, "key")
    return convert_value(payload, key_schema, "key")


# --------------------------------------------------------------------------- envelopes


def _from_envelope(key: Optional[bytes], payload: Mapping[str, Any], schema: Optional[Mapping[str, Any]],
                   columns: Optional[ColumnTypes]) -> Change:
    raw_op = payload.get("op")
    if raw_op is None:
        raise DecodeError("value has no `op` field: not a Debezium change envelope")
    op = _OPS.get(raw_op)
    if op is None:
        raise DecodeError(f"unknown operation {raw_op!r}")
    source = payload.get("source")
    if not isinstance(source, dict):
        raise DecodeError("envelope has no `source` block")
    fields = {f.get("field"): f for f in schema.get("fields") or ()} if schema is not None else {}
    typing = Typing.SQL if columns is not None else Typing.CONNECT if schema is not None else Typing.WIRE
    schema_name, table_name = _text(source.get("schema")), _text(source.get("table"))
    if op is Op.MESSAGE:
        before, after = None, _message(payload, fields, columns)
    else:
        before, after = _images(payload, fields, op, columns, schema_name, table_name)
    change_key = decode_key(key, columns=columns, schema=schema_name, table=table_name, message=op is Op.MESSAGE)
    return Change(op=op, schema=schema_name, table=table_name, key=change_key, before=before, after=after,
                  source=_position(source), typing=typing)


def _message(payload: Mapping[str, Any], fields: Mapping[str, Any], columns: Optional[ColumnTypes]):
    message = payload.get("message")
    if not isinstance(message, dict):
        raise DecodeError("logical decoding message without a `message` block")
    if columns is not None:
        return columns.convert_message(message, fields.get("message"))
    if "message" in fields:
        return convert_struct(message, fields["message"], "message")
    return message


def _images(payload: Mapping[str, Any], fields: Mapping[str, Any], op: Op, columns: Optional[ColumnTypes],
            schema_name: Optional[str], table_name: Optional[str]):
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
    if columns is not None:
        declared = columns.table(schema_name, table_name)
        return tuple(None if image is None else columns.convert_row(image, declared, fields.get(name), name)
                     for name, image in (("before", before), ("after", after)))
    if fields:
        return tuple(None if image is None else _struct(image, fields, name)
                     for name, image in (("before", before), ("after", after)))
    return before, after


def _struct(image: Mapping[str, Any], fields: Mapping[str, Any], name: str):
    if name not in fields:
        raise DecodeError(f"the record's schema has no `{name}` field")
    return convert_struct(image, fields[name], name)


def _position(source: Mapping[str, Any]) -> SourcePosition:
    return SourcePosition(
        lsn=_int_or_none(source.get("lsn"), "source.lsn"),
        tx_id=_int_or_none(source.get("txId"), "source.txId"),
        commit_ts_ms=_int_or_none(source.get("ts_ms"), "source.ts_ms"),
        snapshot=source.get("snapshot") not in _SNAPSHOT_FALSE,
        commit_lsn=_commit_lsn(source.get("sequence")),
    )


def _commit_lsn(sequence: Any) -> Optional[int]:
    """The first half of Postgres' `source.sequence`, '["<last commit lsn>","<lsn>"]', or None."""
    if sequence is None:
        return None
    try:
        parts = orjson.loads(sequence) if isinstance(sequence, str) else sequence
        return int(parts[0]) if parts and parts[0] is not None else None
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, KeyError):
        raise DecodeError(f"`source.sequence` is {sequence!r}, not [commit LSN, LSN]") from None


# --------------------------------------------------------------------------- flattened rows


def _from_flattened(key: Optional[bytes], payload: Mapping[str, Any], schema: Optional[Mapping[str, Any]],
                    headers: Mapping[str, Optional[bytes]], columns: Optional[ColumnTypes]) -> Change:
    row, meta = split_metadata(payload, headers)
    if columns is not None:
        row = columns.convert_row(row, columns.table(meta.schema, meta.table), schema, "row")
        typing = Typing.SQL
    elif schema is not None:
        row = convert_struct(row, schema, "row")
        typing = Typing.CONNECT
    else:
        typing = Typing.WIRE
    before, after = (row, None) if meta.op is Op.DELETE else (None, row)
    return Change(op=meta.op, schema=meta.schema, table=meta.table,
                  key=decode_key(key, columns=columns, schema=meta.schema, table=meta.table),
                  before=before, after=after,
                  source=SourcePosition(meta.lsn, meta.tx_id, meta.commit_ts_ms, meta.snapshot), typing=typing)


def _flattened_delete(key: Optional[bytes], headers: Mapping[str, Optional[bytes]],
                      columns: Optional[ColumnTypes]) -> Change:
    """A null value with an `__op` header: ExtractNewRecordState in tombstone mode (add.headers)
    turned a delete into this tombstone, the only record of the delete. A delete with no row image."""
    _, meta = split_metadata({}, headers)
    if meta.op is not Op.DELETE:
        raise DecodeError(f"a null value whose header says __op={meta.op.value!r}, not a delete")
    return Change(op=Op.DELETE, schema=meta.schema, table=meta.table,
                  key=decode_key(key, columns=columns, schema=meta.schema, table=meta.table),
                  before=None, after=None,
                  source=SourcePosition(meta.lsn, meta.tx_id, meta.commit_ts_ms, meta.snapshot),
                  typing=Typing.SQL if columns is not None else Typing.WIRE)


# --------------------------------------------------------------------------- helpers


def _parse_json(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"{what} is not valid JSON ({exc})") from None


def _payload_and_schema(document: Any) -> Tuple[Any, Optional[Mapping[str, Any]]]:
    """JsonConverter with schemas.enable=true wraps every record as {schema, payload}."""
    if isinstance(document, dict) and document.keys() == {"schema", "payload"} \
            and isinstance(document["schema"], (dict, type(None))):
        return document["payload"], document["schema"]
    return document, None


def _header_map(headers: Headers) -> Mapping[str, Optional[bytes]]:
    if not headers:
        return {}
    if isinstance(headers, Mapping):
        return headers
    return {name: value for name, value in headers}


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: Any, name: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"`{name}` is {value!r}, not an integer")
    return value
