"""Declared column types: decode records by their PostgreSQL types, with or without a schema.

A schemaless record cannot say what its values are: with decimal.handling.mode=precise a
numeric(18,2) arrives as base64 text that looks like any other string, and the scale it needs is
nowhere in the record. A column's SQL type and the connector's modes say it all, because Debezium
derives the wire form from exactly these (its PostgresValueConverter): `ColumnTypes` holds both and
rebuilds, per column, the Kafka Connect schema Debezium writes (`column_schema`), then reads each
value as its PostgreSQL type (`Typing.SQL`): numeric is a Decimal under `precise` and `string`,
bytea is bytes under every binary.handling.mode. A record that carries its own schema is checked
against the declared one, so a connector whose modes differ from the declaration is caught on its
first record instead of being misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Mapping, Optional

from .changes import DecodeError
from .types import DECIMAL, VARIABLE_SCALE_DECIMAL, b64, convert_value

__all__ = ["ColumnType", "ConnectorModes", "ColumnTypes", "parse_column_type", "column_schema"]

_DECIMAL_MODES = ("precise", "string", "double")
_TIME_MODES = ("adaptive", "adaptive_time_microseconds", "connect")
_BINARY_MODES = ("bytes", "base64", "base64-url-safe", "hex")
#: How decimal.handling.mode=string writes what a Java BigDecimal cannot hold.
_DECIMAL_WORDS = {"NAN": Decimal("NaN"), "POSITIVE_INFINITY": Decimal("Infinity"),
                  "NEGATIVE_INFINITY": Decimal("-Infinity")}


@dataclass(frozen=True)
class ConnectorModes:
    """The Debezium settings that shape values on the wire; defaults are Debezium's own."""

    decimal_handling_mode: str = "precise"
    time_precision_mode: str = "adaptive"
    binary_handling_mode: str = "bytes"

    def __post_init__(self) -> None:
        for name, allowed in (("decimal_handling_mode", _DECIMAL_MODES), ("time_precision_mode", _TIME_MODES),
                              ("binary_handling_mode", _BINARY_MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name.replace('_', '.')}={getattr(self, name)!r} is not one of "
                                 f"{', '.join(allowed)}")

    @classmethod
    def from_connector_config(cls, config: Mapping[str, str]) -> "ConnectorModes":
        """The modes a Debezium PostgreSQL connector config sets (connectors/*.yaml, or Connect's)."""
        return cls(
            decimal_handling_mode=config.get("decimal.handling.mode", "precise"),
            time_precision_mode=config.get("time.precision.mode", "adaptive"),
            binary_handling_mode=config.get("binary.handling.mode", "bytes"),
        )


@dataclass(frozen=True)
class ColumnType:
    """A PostgreSQL column type, normalised: `kind` is the type's canonical name."""

    kind: str
    precision: Optional[int] = None  # numeric(p, s): p; time(p) and timestamp(p): p
    scale: Optional[int] = None  # numeric(p, s): s

    def __str__(self) -> str:
        if self.kind == "numeric" and self.precision is not None:
            return f"numeric({self.precision},{self.scale or 0})"
        if self.precision is not None:
            return f"{self.kind}({self.precision})"
        return self.kind


_ALIASES = {
    "smallint": "int2", "int2": "int2",
    "integer": "int4", "int": "int4", "int4": "int4",
    "bigint": "int8", "int8": "int8",
    "real": "float4", "float4": "float4",
    "double precision": "float8", "float8": "float8",
    "numeric": "numeric", "decimal": "numeric",
    "boolean": "bool", "bool": "bool",
    "text": "text", "character varying": "text", "varchar": "text", "character": "text", "char": "text",
    "bpchar": "text", "name": "text", "citext": "text",
    "date": "date",
    "time": "time", "time without time zone": "time",
    "timetz": "timetz", "time with time zone": "timetz",
    "timestamp": "timestamp", "timestamp without time zone": "timestamp",
    "timestamptz": "timestamptz", "timestamp with time zone": "timestamptz",
    "json": "json", "jsonb": "jsonb",
    "uuid": "uuid",
    "bytea": "bytea",
}
_TYPE = re.compile(r"\s*(?P<name>[a-z0-9 ]+?)\s*(?:\(\s*(?P<p>-?\d+)\s*(?:,\s*(?P<s>-?\d+)\s*)?\))?"
                   r"\s*(?P<suffix>with(?:out)? time zone)?\s*")


def parse_column_type(text: str) -> ColumnType:
    """`numeric(18,2)`, `timestamp(3) with time zone`, `varchar(20)`...: the type as PostgreSQL names it."""
    match = _TYPE.fullmatch(text.lower())
    if match is None:
        raise ValueError(f"column type {text!r} is not understood; write it as PostgreSQL does, e.g. numeric(18,2)")
    name = match["name"]
    if match["suffix"]:
        name = f"{name} {match['suffix']}"
    kind = _ALIASES.get(name)
    if kind is None:
        raise ValueError(f"column type {text!r} is not supported by the decoder; supported: "
                         f"{', '.join(sorted(set(_ALIASES)))}")
    p = int(match["p"]) if match["p"] is not None else None
    s = int(match["s"]) if match["s"] is not None else None
    if kind == "numeric":
        return ColumnType("numeric", p, (s or 0) if p is not None else None)
    if kind in ("time", "timetz", "timestamp", "timestamptz"):
        return ColumnType(kind, p)
    return ColumnType(kind)  # varchar(20) and char(3) are text whatever their length


def column_schema(column: ColumnType, modes: ConnectorModes) -> Dict[str, Any]:
    """The Kafka Connect field schema Debezium writes for a column under these modes."""
    kind = column.kind
    simple = {"int2": "int16", "int4": "int32", "int8": "int64", "float4": "float", "float8": "double",
              "bool": "boolean", "text": "string"}
    if kind in simple:
        return {"type": simple[kind]}
    if kind == "numeric":
        if modes.decimal_handling_mode == "string":
            return {"type": "string"}
        if modes.decimal_handling_mode == "double":
            return {"type": "double"}
        if column.precision is None:
            return {"type": "struct", "name": VARIABLE_SCALE_DECIMAL}
        return {"type": "bytes", "name": DECIMAL, "parameters": {"scale": str(column.scale or 0)}}
    connect = modes.time_precision_mode == "connect"
    if kind == "date":
        return {"type": "int32", "name": "org.apache.kafka.connect.data.Date" if connect else "io.debezium.time.Date"}
    if kind == "time":
        if connect:
            return {"type": "int32", "name": "org.apache.kafka.connect.data.Time"}
        if modes.time_precision_mode == "adaptive" and column.precision is not None and column.precision <= 3:
            return {"type": "int32", "name": "io.debezium.time.Time"}
        return {"type": "int64", "name": "io.debezium.time.MicroTime"}
    if kind == "timestamp":
        if connect:
            return {"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"}
        if column.precision is not None and column.precision <= 3:
            return {"type": "int64", "name": "io.debezium.time.Timestamp"}
        return {"type": "int64", "name": "io.debezium.time.MicroTimestamp"}
    if kind == "timetz":
        return {"type": "string", "name": "io.debezium.time.ZonedTime"}
    if kind == "timestamptz":
        return {"type": "string", "name": "io.debezium.time.ZonedTimestamp"}
    if kind in ("json", "jsonb"):
        return {"type": "string", "name": "io.debezium.data.Json"}
    if kind == "uuid":
        return {"type": "string", "name": "io.debezium.data.Uuid"}
    if kind == "bytea":
        return {"type": "bytes" if modes.binary_handling_mode == "bytes" else "string"}
    raise ValueError(f"no schema for column type {column}")  # parse_column_type admits no other kind


def _same_schema(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    if expected.get("name") != actual.get("name"):
        return False
    if expected["type"] != actual.get("type"):
        return False
    if expected.get("name") == DECIMAL:
        return str((actual.get("parameters") or {}).get("scale")) == expected["parameters"]["scale"]
    return True


def _describe(schema: Mapping[str, Any]) -> str:
    text = schema.get("name") or schema.get("type")
    if schema.get("name") == DECIMAL:
        text += f" scale {(schema.get('parameters') or {}).get('scale')}"
    return str(text)


@dataclass(frozen=True)
class ColumnTypes:
    """Per table ("schema.table"), each column's PostgreSQL type; and the connector's modes.

    For example `ColumnTypes({"public.accounts": {"id": "bigint", "balance": "numeric(18,2)"}},
    ConnectorModes(decimal_handling_mode="string"))`, or `ColumnTypes.for_connector(config, tables)`
    with the connector's own config. Types are checked when it is built, not on the first record.
    """

    tables: Mapping[str, Mapping[str, str]]
    modes: ConnectorModes = field(default_factory=ConnectorModes)

    def __post_init__(self) -> None:
        parsed = {table: {name: parse_column_type(sql) for name, sql in columns.items()}
                  for table, columns in self.tables.items()}
        object.__setattr__(self, "_parsed", parsed)

    @classmethod
    def for_connector(cls, config: Mapping[str, str], tables: Mapping[str, Mapping[str, str]]) -> "ColumnTypes":
        return cls(tables, ConnectorModes.from_connector_config(config))

    def table(self, schema: Optional[str], table: Optional[str]) -> Dict[str, ColumnType]:
        """The columns of a table, or DecodeError: a table without declared types is not guessed at.

        Without a schema name (a flattened record with `__table` but no `__schema`), the table name
        must match exactly one declared table. A record that names no table at all (flattened,
        without `__table`) can only use a ColumnTypes that declares one table: one per topic.
        """
        parsed: Dict[str, Dict[str, ColumnType]] = self._parsed  # type: ignore[attr-defined]
        if table is None:
            if len(parsed) == 1:
                return next(iter(parsed.values()))
            raise DecodeError("the record does not name its table, so its declared column types cannot be "
                              "chosen; add `table` and `schema` to the transform's add.fields, or declare "
                              "only this topic's table")
        if schema is None:
            matches = [name for name in parsed if name.rsplit(".", 1)[-1] == table]
            if len(matches) != 1:
                raise DecodeError(f"table {table} without a schema name matches {len(matches)} declared tables; "
                                  "add `schema` to the transform's add.fields")
            return parsed[matches[0]]
        columns = parsed.get(f"{schema}.{table}")
        if columns is None:
            raise DecodeError(f"no column types are declared for table {schema}.{table}; "
                              "declare them to decode its records")
        return columns

    def convert_row(self, row: Mapping[str, Any], columns: Mapping[str, ColumnType],
                    schema: Optional[Mapping[str, Any]], where: str) -> Dict[str, Any]:
        """Each column's value as its PostgreSQL type; `schema` is the record's row schema, if any."""
        if not isinstance(row, dict):
            raise DecodeError(f"`{where}` is a JSON {type(row).__name__}, not a row")
        record_fields = {f.get("field"): f for f in (schema or {}).get("fields") or ()} if schema else None
        converted = {}
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                raise DecodeError(f"column `{name}` has no declared type; declare it to decode this table")
            converted[name] = self.convert_column(name, column, value,
                                                  None if record_fields is None else record_fields.get(name))
        return converted

    def convert_column(self, name: str, column: ColumnType, value: Any,
                       record_field: Optional[Mapping[str, Any]] = None) -> Any:
        expected = column_schema(column, self.modes)
        if record_field is not None and not _same_schema(expected, record_field):
            raise DecodeError(
                f"column `{name}` is declared {column} but arrives as {_describe(record_field)}, not "
                f"{_describe(expected)}; the connector's modes or the declared types are wrong")
        if value is None:
            return None
        logical = convert_value(value, record_field or expected, name)
        return self._as_sql(name, column, logical)

    def _as_sql(self, name: str, column: ColumnType, value: Any) -> Any:
        if column.kind == "numeric":
            mode = self.modes.decimal_handling_mode
            if mode == "double":
                raise DecodeError(f"column `{name}` ({column}) arrives as a binary float under "
                                  "decimal.handling.mode=double, which cannot hold it exactly")
            if mode == "string":
                return _decimal_text(name, column, value)
            return value
        if column.kind == "bytea" and isinstance(value, str):
            mode = self.modes.binary_handling_mode
            try:
                if mode == "hex":
                    return bytes.fromhex(value)
                return b64(value, altchars=b"-_" if mode == "base64-url-safe" else None)
            except ValueError as exc:
                raise DecodeError(f"column `{name}` (bytea, binary.handling.mode={mode}) cannot be decoded: "
                                  f"{exc}") from None
        return value

    def convert_message(self, message: Mapping[str, Any], schema: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        """A logical decoding message: its content is binary, written by binary.handling.mode."""
        prefix, content = message.get("prefix"), message.get("content")
        if schema is not None:
            fields = {f.get("field"): f for f in schema.get("fields") or ()}
            content = convert_value(content, fields.get("content"), "message.content")
        if isinstance(content, str):
            content = self._as_sql("message.content", ColumnType("bytea"), content)
        return {"prefix": prefix, "content": content}


def _decimal_text(name: str, column: ColumnType, value: Any) -> Decimal:
    if not isinstance(value, str):
        raise DecodeError(f"column `{name}` ({column}) is {value!r}, not decimal text")
    word = _DECIMAL_WORDS.get(value)
    if word is not None:
        return word
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise DecodeError(f"column `{name}` ({column}) is {value!r}, not decimal text") from None
    if not number.is_finite():  # Python reads "nan" and "inf"; Debezium never writes them
        raise DecodeError(f"column `{name}` ({column}) is {value!r}, not decimal text")
    return number
