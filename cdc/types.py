"""Kafka Connect schemas and Debezium logical types to exact Python values, one field at a time.

The schema of a field says what its JSON is (JsonConverter writes no types of its own): an int32
named io.debezium.time.Date is a day count, a bytes field named ...connect.data.Decimal an unscaled
integer whose scale is a schema parameter. A logical name this module does not know keeps its
Connect type's value (an int stays an int); a value that does not fit its schema is a DecodeError.

Every field is read by one `Reader`, chosen by the schema's logical name, else by its Connect type
(`reader_for`). `convert_value` chooses it per value, for schemas that come with the record;
`field_converter` chooses it once, for a schema known in advance (cdc.columns' declared columns).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from .changes import DecodeError

__all__ = [
    "convert_struct",
    "convert_value",
    "field_converter",
    "field_map",
    "reader_for",
    "Reader",
    "decimal_from_unscaled",
    "b64",
    "parse_zoned_timestamp",
    "parse_zoned_time",
    "parse_json_text",
    "DECIMAL",
    "VARIABLE_SCALE_DECIMAL",
]

DECIMAL = "org.apache.kafka.connect.data.Decimal"
VARIABLE_SCALE_DECIMAL = "io.debezium.data.VariableScaleDecimal"

#: Reads one field's JSON value (never None) by the field's schema; `field` names it in errors.
Reader = Callable[[Any, Mapping[str, Any], str], Any]
Schema = Mapping[str, Any]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)
_MIDNIGHT = datetime(1970, 1, 1)
_DAY_MICROS = 86_400_000_000
#: Jackson writes non-finite doubles as these strings (JsonConverter keeps its default).
_FLOAT_WORDS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
#: What a Reader may raise besides DecodeError; reported as "cannot be decoded" with the field.
_READ_ERRORS = (ValueError, TypeError, OverflowError, binascii.Error)


def field_map(schema: Schema | None) -> dict[Any, Schema]:
    """A struct schema's fields by name (empty without a schema or fields)."""
    if not schema:
        return {}
    return {f.get("field"): f for f in schema.get("fields") or ()}


def convert_struct(values: Any, schema: Schema, where: str = "") -> dict[str, Any]:
    """Each field of a struct by its own schema; a field the schema does not name is an error."""
    if not isinstance(values, dict):
        raise DecodeError(f"`{where or 'struct'}` is a JSON {type(values).__name__}, not an object")
    by_name = field_map(schema)
    converted = {}
    for name, value in values.items():
        field = by_name.get(name)
        if field is None:
            raise DecodeError(f"field `{name}` is not in the record's schema")
        converted[name] = convert_value(value, field, name)
    return converted


def convert_value(value: Any, schema: Schema | None, field: str = "?") -> Any:
    """The Python value of one field; None stays None, and no schema leaves the value as it is."""
    if value is None or schema is None:
        return value
    logical = schema.get("name")
    kind = schema.get("type")
    try:
        return reader_for(logical, kind)(value, schema, field)
    except DecodeError as exc:
        raise _in_field(exc, field, logical or kind) from None
    except _READ_ERRORS as exc:
        raise _cannot_decode(exc, field, logical or kind) from None


def field_converter(schema: Schema, field: str) -> Callable[[Any], Any]:
    """`convert_value` for a field whose schema is fixed: the reader is chosen here, once."""
    logical = schema.get("name")
    kind = schema.get("type")
    reader, label = reader_for(logical, kind), logical or kind

    def convert(value: Any) -> Any:
        if value is None:
            return None
        try:
            return reader(value, schema, field)
        except DecodeError as exc:
            raise _in_field(exc, field, label) from None
        except _READ_ERRORS as exc:
            raise _cannot_decode(exc, field, label) from None

    return convert


def reader_for(logical: Any, kind: Any) -> Reader:
    """The reader of a schema's logical name, else of its Connect type (an unknown type's raises)."""
    reader = _LOGICAL.get(logical) if logical else None
    if reader is not None:
        return reader
    return _CONNECT.get(kind, _unknown_type) if isinstance(kind, str) else _unknown_type


def _in_field(exc: DecodeError, field: str, label: Any) -> DecodeError:
    """A reader's DecodeError, naming the field unless it already does."""
    if f"`{field}`" in str(exc):
        return exc
    return DecodeError(f"field `{field}` ({label}): {exc}")


def _cannot_decode(exc: Exception, field: str, label: Any) -> DecodeError:
    return DecodeError(f"field `{field}` ({label}) cannot be decoded: {exc}")


# --------------------------------------------------------------------------- Connect types


def _read_integer(value: Any, schema: Schema, field: str) -> int:
    return _integer(value)


def _read_float(value: Any, schema: Schema, field: str) -> float:
    return _float(value)


def _read_boolean(value: Any, schema: Schema, field: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _read_string(value: Any, schema: Schema, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _read_bytes(value: Any, schema: Schema, field: str) -> bytes:
    return b64(value)


def _read_struct(value: Any, schema: Schema, field: str) -> dict[str, Any]:
    return convert_struct(value, schema, field)


def _read_array(value: Any, schema: Schema, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected an array, got {type(value).__name__}")
    return [convert_value(v, schema.get("items"), field) for v in value]


def _read_map(value: Any, schema: Schema, field: str) -> dict[Any, Any]:
    keys, values = schema.get("keys"), schema.get("values")
    if isinstance(value, dict):  # string keys: a JSON object
        return {convert_value(k, keys, field): convert_value(v, values, field) for k, v in value.items()}
    if isinstance(value, list):  # other keys: a list of [key, value] pairs
        return {convert_value(k, keys, field): convert_value(v, values, field) for k, v in value}
    raise TypeError(f"expected a map, got {type(value).__name__}")


def _unknown_type(value: Any, schema: Schema, field: str) -> Any:
    raise DecodeError(f"field `{field}` has the unknown Connect type {schema.get('type')!r}")


_CONNECT: dict[str, Reader] = {
    **dict.fromkeys(("int8", "int16", "int32", "int64"), _read_integer),
    **dict.fromkeys(("float32", "float64", "double", "float"), _read_float),
    "boolean": _read_boolean,
    "string": _read_string,
    "bytes": _read_bytes,
    "struct": _read_struct,
    "array": _read_array,
    "map": _read_map,
}


# --------------------------------------------------------------------------- logical types


def decimal_from_unscaled(raw: bytes, scale: int) -> Decimal:
    """Kafka Connect's Decimal: a big-endian two's-complement unscaled integer, and a scale."""
    unscaled = int.from_bytes(raw, "big", signed=True)
    # Built from its digits, not by arithmetic: no context precision can round it.
    digits = tuple(int(d) for d in str(abs(unscaled)))
    return Decimal((1 if unscaled < 0 else 0, digits, -scale))


def b64(value: Any, *, altchars: bytes | None = None) -> bytes:
    """Base64 text as bytes: the standard alphabet, validated; or the URL-safe one (`altchars`)."""
    if not isinstance(value, str):
        raise TypeError(f"expected base64 text, got {type(value).__name__}")
    if altchars is None:
        return base64.b64decode(value, validate=True)
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", value):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _float(value: Any) -> float:
    if isinstance(value, str) and value in _FLOAT_WORDS:
        return _FLOAT_WORDS[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _scale(schema: Schema) -> int:
    scale = (schema.get("parameters") or {}).get("scale")
    if scale is None:
        raise DecodeError("a Decimal without a scale in its schema cannot be decoded exactly")
    try:
        return int(scale)
    except (TypeError, ValueError):
        raise DecodeError(f"the Decimal scale {scale!r} in the schema is not an integer") from None


def _fixed_decimal(value: Any, schema: Schema, field: str) -> Decimal:
    return decimal_from_unscaled(b64(value), _scale(schema))


def _variable_decimal(value: Any, schema: Schema, field: str) -> Decimal:
    if not isinstance(value, dict) or "scale" not in value or "value" not in value:
        raise TypeError("expected {scale, value}")
    return decimal_from_unscaled(b64(value["value"]), _integer(value["scale"]))


def _days(value: Any, schema: Schema, field: str) -> date:
    days = _integer(value)
    try:
        return _EPOCH_DATE + timedelta(days=days)
    except OverflowError:
        raise DecodeError(f"{days} days from 1970-01-01 is outside what a Python date holds "
                          "(PostgreSQL's infinity dates arrive like this)") from None


def _since_epoch(micros: int, raw: int, unit: str) -> datetime:
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise DecodeError(f"{raw} {unit} from 1970-01-01 is outside what a Python datetime holds "
                          "(PostgreSQL's infinity timestamps arrive like this)") from None


def _time_of_day(micros: int, raw: int, unit: str) -> time:
    if not 0 <= micros < _DAY_MICROS:
        raise DecodeError(f"{raw} {unit} is not a time of day")
    return (_MIDNIGHT + timedelta(microseconds=micros)).time()


def _nanos_to_micros(nanos: int) -> int:
    micros, rest = divmod(nanos, 1000)
    if rest:
        raise DecodeError("a nanosecond value that a Python datetime cannot hold exactly")
    return micros


_FRACTION = r"(?:\.(?P<fraction>\d{1,9}))?"
_OFFSET = r"(?P<offset>Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)"
_ZONED_TIMESTAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})" + _FRACTION + _OFFSET)
_ZONED_TIME = re.compile(r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})" + _FRACTION + _OFFSET)


def _micros(fraction: str | None) -> int:
    """Fractional seconds as microseconds; digits past the sixth must be zero to be exact."""
    if not fraction:
        return 0
    if len(fraction) > 6 and fraction[6:].strip("0"):
        raise DecodeError(f"fraction .{fraction} has nanoseconds that a Python datetime cannot hold")
    return int(fraction[:6].ljust(6, "0"))


def _offset(text: str) -> timezone:
    if text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes, seconds = int(digits[0:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes, seconds=seconds))


def parse_zoned_timestamp(text: Any) -> datetime:
    """io.debezium.time.ZonedTimestamp: ISO-8601 with an offset (Debezium writes UTC, `Z`)."""
    if not isinstance(text, str):
        raise TypeError(f"expected ISO-8601 text, got {text!r}")
    if text in ("infinity", "-infinity"):
        raise DecodeError(f"{text!r} is PostgreSQL's {text} timestamp, which a Python datetime cannot hold")
    match = _ZONED_TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO-8601 timestamp with an offset")
    day = date.fromisoformat(match["date"])
    return datetime(day.year, day.month, day.day, int(match["hour"]), int(match["minute"]), int(match["second"]),
                    _micros(match["fraction"]), tzinfo=_offset(match["offset"]))


def parse_zoned_time(text: Any) -> time:
    """io.debezium.time.ZonedTime: a time of day with an offset (Debezium writes UTC, `Z`)."""
    if not isinstance(text, str):
        raise TypeError(f"expected ISO-8601 text, got {text!r}")
    match = _ZONED_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO-8601 time with an offset")
    return time(int(match["hour"]), int(match["minute"]), int(match["second"]), _micros(match["fraction"]),
                tzinfo=_offset(match["offset"]))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_text(text: Any) -> Any:
    """A json/jsonb column: numbers stay exact (fractions as Decimal), as PostgreSQL keeps them."""
    if not isinstance(text, str):
        raise TypeError(f"expected JSON text, got {type(text).__name__}")
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def _uuid(value: Any, schema: Schema, field: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError(f"expected UUID text, got {value!r}")
    return uuid.UUID(value)


def _milliseconds_timestamp(value: Any, schema: Schema, field: str) -> datetime:
    return _since_epoch(_integer(value) * 1000, value, "milliseconds")


def _microseconds_timestamp(value: Any, schema: Schema, field: str) -> datetime:
    return _since_epoch(_integer(value), value, "microseconds")


def _nanoseconds_timestamp(value: Any, schema: Schema, field: str) -> datetime:
    return _since_epoch(_nanos_to_micros(_integer(value)), value, "nanoseconds")


def _milliseconds_time(value: Any, schema: Schema, field: str) -> time:
    return _time_of_day(_integer(value) * 1000, value, "milliseconds")


def _microseconds_time(value: Any, schema: Schema, field: str) -> time:
    return _time_of_day(_integer(value), value, "microseconds")


def _nanoseconds_time(value: Any, schema: Schema, field: str) -> time:
    return _time_of_day(_nanos_to_micros(_integer(value)), value, "nanoseconds")


def _zoned_timestamp(value: Any, schema: Schema, field: str) -> datetime:
    return parse_zoned_timestamp(value)


def _zoned_time(value: Any, schema: Schema, field: str) -> time:
    return parse_zoned_time(value)


def _json_text(value: Any, schema: Schema, field: str) -> Any:
    return parse_json_text(value)


_LOGICAL: dict[str, Reader] = {
    DECIMAL: _fixed_decimal,
    VARIABLE_SCALE_DECIMAL: _variable_decimal,
    "io.debezium.time.Date": _days,
    "org.apache.kafka.connect.data.Date": _days,
    "io.debezium.time.Timestamp": _milliseconds_timestamp,
    "org.apache.kafka.connect.data.Timestamp": _milliseconds_timestamp,
    "io.debezium.time.MicroTimestamp": _microseconds_timestamp,
    "io.debezium.time.NanoTimestamp": _nanoseconds_timestamp,
    "io.debezium.time.ZonedTimestamp": _zoned_timestamp,
    "io.debezium.time.Time": _milliseconds_time,
    "org.apache.kafka.connect.data.Time": _milliseconds_time,
    "io.debezium.time.MicroTime": _microseconds_time,
    "io.debezium.time.NanoTime": _nanoseconds_time,
    "io.debezium.time.ZonedTime": _zoned_time,
    "io.debezium.data.Json": _json_text,
    "io.debezium.data.Uuid": _uuid,
}
