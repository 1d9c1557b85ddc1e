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

All of it is worked out once, when a ColumnTypes is built: each declared table becomes a
`DeclaredTable` whose columns hold their schema and one function from the JSON value to the
PostgreSQL value (the Connect reader of cdc.types, then the mode's own step: decimal text, base64
or hex bytea), so a record costs one call per value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .changes import DecodeError
from .types import DECIMAL, VARIABLE_SCALE_DECIMAL, b64, convert_value, field_converter, field_map

__all__ = ["ColumnType", "ConnectorModes", "ColumnTypes", "DeclaredColumn", "DeclaredTable", "parse_column_type",
           "column_schema"]

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
    def from_connector_config(cls, config: Mapping[str, str]) -> ConnectorModes:
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
    precision: int | None = None  # numeric(p, s): p; time(p) and timestamp(p): p
    scale: int | None = None  # numeric(p, s): s

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


def column_schema(column: ColumnType, modes: ConnectorModes) -> dict[str, Any]:
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
        return bool(str((actual.get("parameters") or {}).get("scale")) == expected["parameters"]["scale"])
    return True


def _describe(schema: Mapping[str, Any]) -> str:
    text = str(schema.get("name") or schema.get("type"))
    if schema.get("name") == DECIMAL:
        text += f" scale {(schema.get('parameters') or {}).get('scale')}"
    return text


@dataclass(frozen=True)
class DeclaredColumn:
    """One declared column, worked out for the connector's modes."""

    name: str
    type: ColumnType
    #: The Kafka Connect field schema Debezium writes for it (column_schema).
    schema: Mapping[str, Any]
    #: The JSON value (not None) to its PostgreSQL value, or DecodeError naming the column.
    read: Callable[[Any], Any]

    def check(self, record_field: Mapping[str, Any]) -> None:
        """A record's own schema for the column must be the declared one."""
        if not _same_schema(self.schema, record_field):
            raise DecodeError(
                f"column `{self.name}` is declared {self.type} but arrives as {_describe(record_field)}, not "
                f"{_describe(self.schema)}; the connector's modes or the declared types are wrong")


@dataclass(frozen=True)
class DeclaredTable:
    """A declared table's columns by name, ready to decode its rows."""

    columns: Mapping[str, DeclaredColumn]

    def convert_row(self, row: Any, schema: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
        """Each column's value as its PostgreSQL type; `schema` is the record's row schema, if any."""
        if not isinstance(row, dict):
            raise DecodeError(f"`{where}` is a JSON {type(row).__name__}, not a row")
        record_fields = field_map(schema) if schema else None
        converted = {}
        for name, value in row.items():
            column = self.columns.get(name)
            if column is None:
                raise DecodeError(f"column `{name}` has no declared type; declare it to decode this table")
            if record_fields is not None:
                record_field = record_fields.get(name)
                if record_field is not None:
                    column.check(record_field)
            converted[name] = None if value is None else column.read(value)
        return converted


def declared_column(name: str, column: ColumnType, modes: ConnectorModes) -> DeclaredColumn:
    """The column's schema under these modes and its one reader: Connect's, then the mode's step."""
    schema = column_schema(column, modes)
    connect = field_converter(schema, name)
    as_sql = _sql_step(name, column, modes)
    if as_sql is None:
        return DeclaredColumn(name, column, schema, connect)
    return DeclaredColumn(name, column, schema, lambda value: as_sql(connect(value)))


def _sql_step(name: str, column: ColumnType, modes: ConnectorModes) -> Callable[[Any], Any] | None:
    """What turns the Connect value of a column into its PostgreSQL value, when they differ."""
    if column.kind == "numeric":
        mode = modes.decimal_handling_mode
        if mode == "double":
            def binary_float(value: Any) -> Any:
                raise DecodeError(f"column `{name}` ({column}) arrives as a binary float under "
                                  "decimal.handling.mode=double, which cannot hold it exactly")
            return binary_float
        if mode == "string":
            return lambda value: _decimal_text(name, column, value)
        return None
    if column.kind == "bytea" and modes.binary_handling_mode != "bytes":
        return _bytea_text(name, modes.binary_handling_mode)
    return None


def _bytea_text(name: str, mode: str) -> Callable[[Any], Any]:
    """bytea written as text to bytes: hex under binary.handling.mode=hex, else base64 (URL-safe or not)."""
    altchars = b"-_" if mode == "base64-url-safe" else None

    def decode(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            if mode == "hex":
                return bytes.fromhex(value)
            return b64(value, altchars=altchars)
        except ValueError as exc:
            raise DecodeError(f"column `{name}` (bytea, binary.handling.mode={mode}) cannot be decoded: "
                              f"{exc}") from None

    return decode


@dataclass(frozen=True)
class ColumnTypes:
    """Per table ("schema.table"), each column's PostgreSQL type; and the connector's modes.

    For example `ColumnTypes({"public.accounts": {"id": "bigint", "balance": "numeric(18,2)"}},
    ConnectorModes(decimal_handling_mode="string"))`, or `ColumnTypes.for_connector(config, tables)`
    with the connector's own config. Types are checked when it is built, not on the first record.
    """

    tables: Mapping[str, Mapping[str, str]]
    modes: ConnectorModes = field(default_factory=ConnectorModes)
    _declared: dict[str, DeclaredTable] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        declared = {table: DeclaredTable({name: declared_column(name, parse_column_type(sql), self.modes)
                                          for name, sql in columns.items()})
                    for table, columns in self.tables.items()}
        object.__setattr__(self, "_declared", declared)  # frozen: set once, here

    @classmethod
    def for_connector(cls, config: Mapping[str, str], tables: Mapping[str, Mapping[str, str]]) -> ColumnTypes:
        return cls(tables, ConnectorModes.from_connector_config(config))

    def table(self, schema: str | None, table: str | None) -> DeclaredTable:
        """The columns of a table, or DecodeError: a table without declared types is not guessed at.

        Without a schema name (a flattened record with `__table` but no `__schema`), the table name
        must match exactly one declared table. A record that names no table at all (flattened,
        without `__table`) can only use a ColumnTypes that declares one table: one per topic.
        """
        declared = self._declared
        if table is None:
            if len(declared) == 1:
                return next(iter(declared.values()))
            raise DecodeError("the record does not name its table, so its declared column types cannot be "
                              "chosen; add `table` and `schema` to the transform's add.fields, or declare "
                              "only this topic's table")
        if schema is None:
            matches = [name for name in declared if name.rsplit(".", 1)[-1] == table]
            if len(matches) != 1:
                raise DecodeError(f"table {table} without a schema name matches {len(matches)} declared tables; "
                                  "add `schema` to the transform's add.fields")
            return declared[matches[0]]
        columns = declared.get(f"{schema}.{table}")
        if columns is None:
            raise DecodeError(f"no column types are declared for table {schema}.{table}; "
                              "declare them to decode its records")
        return columns

    def convert_message(self, message: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
        """A logical decoding message: its content is binary, written by binary.handling.mode."""
        prefix, content = message.get("prefix"), message.get("content")
        if schema is not None:
            content = convert_value(content, field_map(schema).get("content"), "message.content")
        if isinstance(content, str):
            content = _bytea_text("message.content", self.modes.binary_handling_mode)(content)
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
