"""Values against their writer schema before encoding: types, ranges, uuid text, aware timestamps."""

# fastavro's writer truncates 1.5 into a long, writes True as 1, writes any string into a uuid
# field (a record every consumer then fails to decode) and reads a naive datetime as UTC
# (silently shifting local times). Its own validator catches the types but is slow on unions,
# so each schema is compiled once into a check run per record.

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional

__all__ = ["Check", "compile_check"]

#: check(value, path) -> None when the value fits, else the first problem, naming the field.
Check = Callable[[Any, str], Optional[str]]

_INT = (-(2**31), 2**31 - 1)
_LONG = (-(2**63), 2**63 - 1)
_TIMESTAMPS = ("timestamp-millis", "timestamp-micros", "timestamp-nanos")


def compile_check(schema: Any, named: Optional[Dict[str, Any]] = None) -> Check:
    """The check of values of `schema` (as written in its file)."""
    named = {} if named is None else named
    if isinstance(schema, list):
        return _union([compile_check(branch, named) for branch in schema], schema)
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        # A reference to a named type: looked up when used, so that recursive types work.
        return lambda value, path: named[schema](value, path)
    logical, kind = schema.get("logicalType"), schema.get("type")
    if logical == "uuid" and kind == "string":
        return _uuid
    if logical in _TIMESTAMPS and kind == "long":
        return _aware_timestamp
    if logical is not None:
        # Other logical types take several Python types; fastavro's writer refuses wrong ones.
        return _anything
    if kind == "record":
        check = _record(schema, named)
    elif kind == "enum":
        check = _enum(schema["symbols"])
    elif kind == "fixed":
        check = _fixed(schema["size"])
    elif kind == "array":
        check = _array(compile_check(schema["items"], named))
    elif kind == "map":
        check = _map(compile_check(schema["values"], named))
    else:
        return compile_check(kind, named)
    if kind in ("record", "enum", "fixed"):
        for name in (schema["name"], f"{schema.get('namespace')}.{schema['name']}"):
            named[name] = check
    return check


def _got(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _at(path: str) -> str:
    return f"{path}: " if path else ""


def _primitive(name: str, accepts: Callable[[Any], bool]) -> Check:
    def check(value: Any, path: str) -> Optional[str]:
        return None if accepts(value) else f"{_at(path)}expected {name}, got {_got(value)}"

    return check


def _integer(bounds: tuple[int, int]) -> Callable[[Any], bool]:
    low, high = bounds
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


_PRIMITIVES: Dict[str, Check] = {
    "null": _primitive("null", lambda v: v is None),
    "boolean": _primitive("boolean", lambda v: isinstance(v, bool)),
    "int": _primitive("int (32-bit)", _integer(_INT)),
    "long": _primitive("long (64-bit)", _integer(_LONG)),
    "float": _primitive("float", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "double": _primitive("double", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "string": _primitive("string", lambda v: isinstance(v, str)),
    "bytes": _primitive("bytes", lambda v: isinstance(v, (bytes, bytearray))),
}


def _anything(value: Any, path: str) -> Optional[str]:
    return None


def _uuid(value: Any, path: str) -> Optional[str]:
    if isinstance(value, uuid.UUID):
        return None
    if isinstance(value, str):
        try:
            uuid.UUID(value)
            return None
        except ValueError:
            return f"{_at(path)}{value!r} is not a UUID"
    return f"{_at(path)}expected a UUID, got {_got(value)}"


def _aware_timestamp(value: Any, path: str) -> Optional[str]:
    if not isinstance(value, datetime):
        return f"{_at(path)}expected a timezone-aware datetime, got {_got(value)}"
    if value.utcoffset() is None:
        return f"{_at(path)}{value.isoformat()} has no timezone; timestamps must be timezone-aware"
    if value.year in (1, 9999):
        # Near the ends of datetime's range the UTC instant may not exist, so no reader could decode it.
        try:
            value.astimezone(timezone.utc)
        except OverflowError:
            return f"{_at(path)}{value.isoformat()} is outside the range of UTC datetimes"
    return None


def _union(branches: list[Check], schema: list[Any]) -> Check:
    # One check per branch, compiled from the same list: the lengths agree.
    others = [check for check, branch in zip(branches, schema, strict=True) if branch != "null"]
    if "null" in schema and len(others) == 1:
        (inner,) = others

        def nullable(value: Any, path: str) -> Optional[str]:
            return None if value is None else inner(value, path)

        return nullable

    def any_branch(value: Any, path: str) -> Optional[str]:
        if any(check(value, path) is None for check in branches):
            return None
        return f"{_at(path)}{_got(value)} fits none of the union's branches"

    return any_branch


def _record(schema: Mapping[str, Any], named: Dict[str, Any]) -> Check:
    fields = None
    names = frozenset(field["name"] for field in schema.get("fields", []))

    def check(value: Any, path: str) -> Optional[str]:
        nonlocal fields
        if not isinstance(value, (dict, Mapping)):
            return f"{_at(path)}expected a {schema['name']} record, got {_got(value)}"
        if fields is None:
            # Compiled on first use, not at once: a record may refer to itself.
            fields = [(f["name"], "default" in f, compile_check(f["type"], named)) for f in schema.get("fields", [])]
        present = 0
        for name, has_default, field_check in fields:
            where = f"{path}.{name}" if path else name
            if name in value:
                present += 1
                problem = field_check(value[name], where)
                if problem:
                    return problem
            elif not has_default:
                return f"{where}: missing, and the schema has no default for it"
        if present != len(value):
            extra = sorted(str(key) for key in value if key not in names)
            return f"{_at(path)}fields not in the schema: {', '.join(extra)}"
        return None

    return check


def _enum(symbols: list[str]) -> Check:
    allowed = frozenset(symbols)

    def check(value: Any, path: str) -> Optional[str]:
        if isinstance(value, str) and value in allowed:
            return None
        return f"{_at(path)}{_got(value)} is not one of {sorted(allowed)}"

    return check


def _fixed(size: int) -> Check:
    def check(value: Any, path: str) -> Optional[str]:
        if isinstance(value, (bytes, bytearray)) and len(value) == size:
            return None
        return f"{_at(path)}expected {size} bytes, got {_got(value)}"

    return check


def _array(items: Check) -> Check:
    def check(value: Any, path: str) -> Optional[str]:
        if not isinstance(value, (list, tuple)):
            return f"{_at(path)}expected a list, got {_got(value)}"
        for index, item in enumerate(value):
            problem = items(item, f"{path}[{index}]")
            if problem:
                return problem
        return None

    return check


def _map(values: Check) -> Check:
    def check(value: Any, path: str) -> Optional[str]:
        if not isinstance(value, (dict, Mapping)):
            return f"{_at(path)}expected a mapping, got {_got(value)}"
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{_at(path)}map keys are strings, got {_got(key)}"
            problem = values(item, f"{path}[{key!r}]")
            if problem:
                return problem
        return None

    return check
