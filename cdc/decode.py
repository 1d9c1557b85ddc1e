"""Decode one raw Debezium record (JsonConverter, with or without schemas) into a typed change."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple, Union

import orjson

from .changes import Change, DecodeError, Op, SourcePosition, Tombstone
from .types import convert_struct, convert_value

__all__ = ["decode_change", "decode_key"]

_OPS = {op.value: op for op in Op}
_SNAPSHOT_FALSE = {None, False, "false"}


def decode_change(key: Optional[bytes], value: Optional[bytes]) -> Union[Change, Tombstone]:
    """A change or a tombstone; DecodeError (with the reason) for anything not exact."""
    decoded_key = decode_key(key)
    if value is None:
        return Tombstone(decoded_key)
    payload, schema = _payload_and_schema(_parse_json(value, "value"))
    if not isinstance(payload, dict):
        raise DecodeError(f"value is a JSON {type(payload).__name__}, not a Debezium envelope object")
    raw_op = payload.get("op")
    if raw_op is None:
        raise DecodeError("value has no `op` field: not a Debezium change envelope")
    op = _OPS.get(raw_op)
    if op is None:
        raise DecodeError(f"unknown operation {raw_op!r}")
    source = payload.get("source")
    if not isinstance(source, dict):
        raise DecodeError("envelope has no `source` block")
    before, after = _images(payload, schema, op)
    return Change(
        op=op,
        schema=source.get("schema"),
        table=source.get("table"),
        key=decoded_key,
        before=before,
        after=after,
        source=_position(source),
    )


def decode_key(key: Optional[bytes]) -> Any:
    if key is None:
        return None
    payload, schema = _payload_and_schema(_parse_json(key, "key"))
    return convert_value(payload, schema, "key")


def _parse_json(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"{what} is not valid JSON ({exc})") from None


def _payload_and_schema(document: Any) -> Tuple[Any, Optional[Mapping[str, Any]]]:
    """JsonConverter with schemas.enable=true wraps every record as {schema, payload}."""
    if isinstance(document, dict) and document.keys() == {"schema", "payload"}:
        return document["payload"], document["schema"]
    return document, None


def _images(payload: Mapping[str, Any], schema: Optional[Mapping[str, Any]], op: Op):
    if op is Op.MESSAGE:
        message = payload.get("message")
        if not isinstance(message, dict):
            raise DecodeError("logical decoding message without a `message` block")
        return None, message
    before, after = payload.get("before"), payload.get("after")
    for name, image in (("before", before), ("after", after)):
        if image is not None and not isinstance(image, dict):
            raise DecodeError(f"`{name}` is a JSON {type(image).__name__}, not a row")
    if op in (Op.CREATE, Op.READ, Op.UPDATE) and after is None:
        raise DecodeError(f"operation {op.value!r} without an `after` row")
    if op is Op.DELETE and before is None:
        raise DecodeError("delete without a `before` row")
    if schema is not None:
        fields = {f.get("field"): f for f in schema.get("fields", [])}
        if before is not None and "before" in fields:
            before = convert_struct(before, fields["before"])
        if after is not None and "after" in fields:
            after = convert_struct(after, fields["after"])
    return before, after


def _position(source: Mapping[str, Any]) -> SourcePosition:
    return SourcePosition(
        lsn=_int_or_none(source.get("lsn"), "source.lsn"),
        tx_id=_int_or_none(source.get("txId"), "source.txId"),
        commit_ts_ms=_int_or_none(source.get("ts_ms"), "source.ts_ms"),
        snapshot=source.get("snapshot") not in _SNAPSHOT_FALSE,
    )


def _int_or_none(value: Any, name: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"`{name}` is {value!r}, not an integer")
    return value
