"""Kafka Connect schemas and Debezium logical types to exact Python values, one field at a time.

The schema of a field says what its JSON is (JsonConverter writes no types of its own): an int32
named io.debezium.time.Date is a day count, a bytes field named ...connect.data.Decimal an unscaled
integer whose scale is a schema parameter. A logical name this module does not know keeps its
Connect type's value (an int stays an int); a value that does not fit its schema is a DecodeError.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping, Optional

from .changes import DecodeError

__all__ = [
    "convert_struct",
    "convert_value",
    "decimal_from_unscaled",
    "parse_zoned_timestamp",
    "parse_zoned_time",
    "parse_json_text",
    "DECIMAL",
    "VARIABLE_SCALE_DECIMAL",
]

DECIMAL = "org.apache.kafka.connect.data.Decimal"
VARIABLE_SCALE_DECIMAL = "io.debezium.data.VariableScaleDecimal"

_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)
_MIDNIGHT = datetime(1970, 1, 1)
_DAY_MICROS = 86_400_000_000
#: Jackson writes non-finite doubles as these strings (JsonConverter keeps its default).
_FLOAT_WORDS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def convert_struct(values: Mapping[str, Any], schema: Mapping[str, Any], where: str = "") -> Dict[str, Any]:
    """Each field of a struct by its own schema; a field the schema does not name is an error."""
    if not isinstance(values, dict):
        raise DecodeError(f"`{where or 'struct'}` is a JSON {type(values).__name__}, not an object")
    by_name = {f.get("field"): f for f in schema.get("fields") or ()}
    converted = {}
    for name, value in values.items():
        field = by_name.get(name)
        if field is None:
            raise DecodeError(f"field `{name}` is not in the record's schema")
        converted[name] = convert_value(value, field, name)
    return converted


def convert_value(value: Any, schema: Optional[Mapping[str, Any]], field: str = "?") -> Any:
    """The Python value of one field; None stays None, and no schema leaves the value as it is."""
    if value is None or schema is None:
        return value
    logical = schema.get("name")
    kind = schema.get("type")
    try:
        converter = _LOGICAL.get(logical) if logical else None
        if converter is not None:
            return converter(value, schema)
        return _by_connect_type(value, schema, kind, field)
    except DecodeError as exc:
        if f"`{field}`" in str(exc):
            raise
        raise DecodeError(f"field `{field}` ({logical or kind}): {exc}") from None
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise DecodeError(f"field `{field}` ({logical or kind}) cannot be decoded: {exc}") from None


def _by_connect_type(value: Any, schema: Mapping[str, Any], kind: Any, field: str) -> Any:
    if kind in ("int8", "int16", "int32", "int64"):
        return _integer(value)
    if kind in ("float32", "float64", "double", "float"):
        return _float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {value!r}")
        return value
    if kind == "bytes":
        return b64(value)
    if kind == "struct":
        return convert_struct(value, schema, field)
    if kind == "array":
        if not isinstance(value, list):
            raise TypeError(f"expected an array, got {type(value).__name__}")
        return [convert_value(v, schema.get("items"), field) for v in value]
    if kind == "map":
        keys, values = schema.get("keys"), schema.get("values")
        if isinstance(value, dict):  # string keys: a JSON object
            return {convert_value(k, keys, field): convert_value(v, values, field) for k, v in value.items()}
        if isinstance(value, list):  # other keys: a list of [key, value] pairs
            return {convert_value(k, keys, field): convert_value(v, values, field) for k, v in value}
        raise TypeError(f"expected a map, got {type(value).__name__}")
    raise DecodeError(f"field `{field}` has the unknown Connect type {kind!r}")


def decimal_from_unscaled(raw: bytes, scale: int) -> Decimal:
    """Kafka Connect's Decimal: a big-endian two's-complement unscaled integer, and a scale."""
    unscaled = int.from_bytes(raw, "big", signed=True)
    # Built from its digits, not by arithmetic: no context precision can round it.
    digits = tuple(int(d) for d in str(abs(unscaled)))
    return Decimal((1 if unscaled < 0 else 0, digits, -scale))


def b64(value: Any, *, altchars: Optional[bytes] = None) -> bytes:
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


def _scale(schema: Mapping[str, Any]) -> int:
    scale = (schema.get("parameters") or {}).get("scale")
    if scale is None:
        raise DecodeError("a Decimal without a scale in its schema cannot be decoded exactly")
    try:
        return int(scale)
    except (TypeError, ValueError):
        raise DecodeError(f"the Decimal scale {scale!r} in the schema is not an integer") from None


def _fixed_decimal(value: Any, schema: Mapping[str, Any]) -> Decimal:
    return decimal_from_unscaled(b64(value), _scale(schema))


def _variable_decimal(value: Any, schema: Mapping[str, Any]) -> Decimal:
    if not isinstance(value, dict) or "scale" not in value or "value" not in value:
        raise TypeError("expected {scale, value}")
    return decimal_from_unscaled(b64(value["value"]), _integer(value["scale"]))


def _days(value: Any, schema: Mapping[str, Any]) -> date:
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


def _micros(fraction: Optional[str]) -> int:
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


def _uuid(value: Any, schema: Mapping[str, Any]) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError(f"expected UUID text, got {value!r}")
    return uuid.UUID(value)


_LOGICAL: Dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    DECIMAL: _fixed_decimal,
    VARIABLE_SCALE_DECIMAL: _variable_decimal,
    "io.debezium.time.Date": lambda v, s: _days(v, s),
    "org.apache.kafka.connect.data.Date": lambda v, s: _days(v, s),
    "io.debezium.time.Timestamp": lambda v, s: _since_epoch(_integer(v) * 1000, v, "milliseconds"),
    "org.apache.kafka.connect.data.Timestamp": lambda v, s: _since_epoch(_integer(v) * 1000, v, "milliseconds"),
    "io.debezium.time.MicroTimestamp": lambda v, s: _since_epoch(_integer(v), v, "microseconds"),
    "io.debezium.time.NanoTimestamp": lambda v, s: _since_epoch(_nanos_to_micros(_integer(v)), v, "nanoseconds"),
    "io.debezium.time.ZonedTimestamp": lambda v, s: parse_zoned_timestamp(v),
    "io.debezium.time.Time": lambda v, s: _time_of_day(_integer(v) * 1000, v, "milliseconds"),
    "org.apache.kafka.connect.data.Time": lambda v, s: _time_of_day(_integer(v) * 1000, v, "milliseconds"),
    "io.debezium.time.MicroTime": lambda v, s: _time_of_day(_integer(v), v, "microseconds"),
    "io.debezium.time.NanoTime": lambda v, s: _time_of_day(_nanos_to_micros(_integer(v)), v, "nanoseconds"),
    "io.debezium.time.ZonedTime": lambda v, s: parse_zoned_time(v),
    "io.debezium.data.Json": lambda v, s: parse_json_text(v),
    "io.debezium.data.Uuid": _uuid,
}
