"""Records flattened by ExtractNewRecordState: the row itself, with the change's metadata beside it.

The transform (io.debezium.transforms.ExtractNewRecordState) replaces the envelope by its `after`
row, or by the `before` row for a delete rewritten with `__deleted: "true"`. What it keeps of the
envelope is only what `add.fields` (into the row) and `add.headers` (into record headers) name,
as `__op`, `__table`, `__lsn`, `__source_ts_ms`... (default prefix `__`, default names; renamed
fields such as `lsn:LSN` are not recognised). So:

- with `__op` (a field or a header): the operation it names (c, u, d, r);
- with `__deleted: "true"` (delete.handling.mode=rewrite or delete.tombstone.handling.mode=rewrite):
  a delete, whose row is the deleted row's last state;
- with neither: `Op.UPSERT`, the row as it now is. The record cannot say whether it was created,
  updated or read by a snapshot, and the decoder does not pretend it can;
- a flattened row never has a `before` image (the transform drops it), even for updates.

The source position and table are read from the same fields or headers; absent ones are None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .changes import DecodeError, Op, SourcePosition
from .position import int_or_none, is_snapshot, text_or_none

__all__ = ["FlattenedMetadata", "split_metadata", "METADATA_FIELDS", "is_envelope"]

_PREFIX = "__"
_ENVELOPE_FIELDS = ("op", "ts_ms", "ts_us", "ts_ns")
_SOURCE_FIELDS = ("version", "connector", "name", "ts_ms", "ts_us", "ts_ns", "snapshot", "db", "sequence",
                  "schema", "table", "txId", "lsn", "xmin")
_TRANSACTION_FIELDS = ("id", "total_order", "data_collection_order")

#: Every name the transform can add with the default prefix: `__deleted`, envelope fields
#: (`__op`, `__ts_ms`), source fields (`__lsn`, or `__source_lsn` when written `source.lsn`) and
#: transaction fields (`__transaction_id`). A table column with one of these names cannot be
#: told from metadata.
METADATA_FIELDS = frozenset(
    [f"{_PREFIX}deleted"]
    + [_PREFIX + f for f in _ENVELOPE_FIELDS + _SOURCE_FIELDS]
    + [f"{_PREFIX}source_{f}" for f in _SOURCE_FIELDS]
    + [f"{_PREFIX}transaction_{f}" for f in _TRANSACTION_FIELDS]
)
#: Metadata headers that SimpleHeaderConverter writes as integer text.
_INTEGER_HEADERS = frozenset({"__lsn", "__source_lsn", "__txId", "__source_txId", "__source_ts_ms"})

#: The fields of a Debezium change or message envelope (JsonConverter writes them all, nulls too).
_ENVELOPE_KEYS = frozenset({"before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns", "message"})
_ROW_OPS = {"c": Op.CREATE, "u": Op.UPDATE, "d": Op.DELETE, "r": Op.READ}


def is_envelope(payload: Mapping[str, Any], schema: Mapping[str, Any] | None) -> bool:
    """Whether a value is a Debezium envelope (else a flattened row).

    With a schema, its name says it exactly (`<prefix>.<schema>.<table>.Envelope`, or a
    `...MessageValue`; a flattened row's is `...Value`). Without one, a value is an envelope when
    it has `op` or `source` and no field an envelope does not have. A table whose columns are all
    envelope field names would look the same: pass `flattened=` to decode_change for such a topic.
    """
    if schema is not None:
        name = schema.get("name")
        if isinstance(name, str):
            return name.endswith(".Envelope") or name.endswith("MessageValue")
    keys = payload.keys()
    return bool(keys & {"op", "source"}) and keys <= _ENVELOPE_KEYS


@dataclass(frozen=True)
class FlattenedMetadata:
    """What the transform's fields and headers say of a flattened record's change."""

    op: Op
    schema: str | None
    table: str | None
    source: SourcePosition


def split_metadata(row: Mapping[str, Any],
                   headers: Mapping[str, bytes | None]) -> tuple[dict[str, Any], FlattenedMetadata]:
    """The row without the transform's fields, and what those fields and the headers say.

    A field in the row wins over a header of the same name; every metadata header not shadowed
    so is read (and must be readable), used or not.
    """
    columns: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for name, value in row.items():
        (found if name in METADATA_FIELDS else columns)[name] = value
    for name, raw in headers.items():
        if name in METADATA_FIELDS and name not in found:
            found[name] = _header_value(name, raw)

    def first(*names: str) -> tuple[bool, Any]:
        for name in names:
            if name in found:
                return True, found[name]
        return False, None

    _, raw_op = first("__op")
    deleted = _deleted(found.get("__deleted"))
    op = _op(raw_op, deleted)
    _, schema = first("__schema", "__source_schema")
    _, table = first("__table", "__source_table")
    has_snapshot, snapshot = first("__snapshot", "__source_snapshot")
    return columns, FlattenedMetadata(
        op=op,
        schema=text_or_none(schema, "__schema"),
        table=text_or_none(table, "__table"),
        source=SourcePosition(
            lsn=int_or_none(first("__lsn", "__source_lsn")[1], "__lsn"),
            tx_id=int_or_none(first("__txId", "__source_txId")[1], "__txId"),
            commit_ts_ms=int_or_none(first("__source_ts_ms")[1], "__source_ts_ms"),
            snapshot=is_snapshot(snapshot) if has_snapshot else None,
        ),
    )


def _op(raw: Any, deleted: bool) -> Op:
    if raw is None:
        return Op.DELETE if deleted else Op.UPSERT
    op = _ROW_OPS.get(raw)
    if op is None:
        raise DecodeError(f"flattened record with unknown operation __op={raw!r}")
    if deleted and op is not Op.DELETE:
        raise DecodeError(f"flattened record says __deleted=true but __op={raw!r}")
    return op


def _deleted(value: Any) -> bool:
    if value in (None, False, "false"):
        return False
    if value in (True, "true"):
        return True
    raise DecodeError(f"`__deleted` is {value!r}, not true or false")


def _header_value(name: str, raw: bytes | None) -> Any:
    """A header as Kafka Connect's header converter wrote it: text (the default), or JSON."""
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"header `{name}` is not UTF-8 text") from None
    if text[:1] in ('"', "{"):  # JsonConverter as the header converter
        try:
            document = json.loads(text)
        except ValueError:
            raise DecodeError(f"header `{name}` is not valid JSON") from None
        if isinstance(document, dict) and document.keys() == {"schema", "payload"}:
            document = document["payload"]
        return document
    if name in _INTEGER_HEADERS:
        try:
            return int(text)
        except ValueError:
            raise DecodeError(f"header `{name}` is {text!r}, not an integer") from None
    return text
