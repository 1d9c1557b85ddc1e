"""Debezium / Kafka Connect logical types to exact Python values, driven by the record's schema."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping

import orjson

from .changes import DecodeError

__all__ = ["convert_struct", "convert_value", "decimal_from_unscaled"]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)


def convert_struct(values: Mapping[str, Any], schema: Mapping[str, Any]) -> Dict[str, Any]:
    fields = schema.get("fields") or []
    by_name = {f.get("field"): f for f in fields}
    return {name: convert_value(value, by_name.get(name), name) for name, value in values.items()}


def convert_value(value: Any, schema: Any, field: str = "?") -> Any:
    if value is None or schema is None:
        return value
    logical = schema.get("name")
    converter = _LOGICAL.get(logical) if logical else None
    try:
        if converter is not None:
            return converter(value, schema)
        kind = schema.get("type")
        if kind == "struct" and isinstance(value, dict):
            return convert_struct(value, schema)
        if kind == "bytes":
            return _b64(value)
        if kind == "array" and isinstance(value, list):
            return [convert_value(v, schema.get("items"), field) for v in value]
        return value
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise DecodeError(f"field `{field}` ({logical or schema.get('type')}) cannot be decoded: {exc}") from None


def decimal_from_unscaled(raw: bytes, scale: int) -> Decimal:
    """Kafka Connect's Decimal: a big-endian two's-complement unscaled integer, and a scale."""
    unscaled = int.from_bytes(raw, "big", signed=True)
    # Built from its digits, not by arithmetic: no context precision can round it.
    digits = tuple(int(d) for d in str(abs(unscaled)))
    return Decimal((1 if unscaled < 0 else 0, digits, -scale))


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected base64 text, got {type(value).__name__}")
    return base64.b64decode(value, validate=True)


def _fixed_decimal(value: Any, schema: Mapping[str, Any]) -> Decimal:
    scale = (schema.get("parameters") or {}).get("scale")
    if scale is None:
        raise DecodeError("a Decimal without a scale in its schema cannot be decoded exactly")
    return decimal_from_unscaled(_b64(value), int(scale))


def _variable_decimal(value: Any, schema: Mapping[str, Any]) -> Decimal:
    if not isinstance(value, dict) or "scale" not in value or "value" not in value:
        raise TypeError("expected {scale, value}")
    return decimal_from_unscaled(_b64(value["value"]), int(value["scale"]))


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _nanos_to_micros(nanos: int) -> int:
    micros, rest = divmod(nanos, 1000)
    if rest:
        raise DecodeError("a nanosecond value that a Python datetime cannot hold exactly")
    return micros


_LOGICAL: Dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "org.apache.kafka.connect.data.Decimal": _fixed_decimal,
    "io.debezium.data.VariableScaleDecimal": _variable_decimal,
    "io.debezium.time.Date": lambda v, s: _EPOCH_DATE + timedelta(days=_integer(v)),
    "org.apache.kafka.connect.data.Date": lambda v, s: _EPOCH_DATE + timedelta(days=_integer(v)),
    "io.debezium.time.Timestamp": lambda v, s: _EPOCH + timedelta(milliseconds=_integer(v)),
    "org.apache.kafka.connect.data.Timestamp": lambda v, s: _EPOCH + timedelta(milliseconds=_integer(v)),
    "io.debezium.time.MicroTimestamp": lambda v, s: _EPOCH + timedelta(microseconds=_integer(v)),
    "io.debezium.time.NanoTimestamp": lambda v, s: _EPOCH + timedelta(microseconds=_nanos_to_micros(_integer(v))),
    "io.debezium.time.ZonedTimestamp": lambda v, s: datetime.fromisoformat(v),
    "io.debezium.time.Time": lambda v, s: (_EPOCH + timedelta(milliseconds=_integer(v))).time(),
    "io.debezium.time.MicroTime": lambda v, s: (_EPOCH + timedelta(microseconds=_integer(v))).time(),
    "io.debezium.time.NanoTime": lambda v, s: (_EPOCH + timedelta(microseconds=_nanos_to_micros(_integer(v)))).time(),
    "io.debezium.time.ZonedTime": lambda v, s: time.fromisoformat(v.replace("Z", "+00:00")),
    "io.debezium.data.Json": lambda v, s: orjson.loads(v),
    "io.debezium.data.Uuid": lambda v, s: uuid.UUID(v),
}
