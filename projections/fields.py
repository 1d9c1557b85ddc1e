"""Reading typed columns out of a decoded row: exact or a DecodeError that names the column."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from cdc.changes import DecodeError

__all__ = ["integer", "text", "exact_decimal", "timestamp", "timestamp_text"]


def integer(row: Mapping[str, Any], table: str, name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"{table}.{name} is {value!r}, not an integer")
    return value


def text(row: Mapping[str, Any], table: str, name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise DecodeError(f"{table}.{name} is {value!r}, not text")
    return value


def exact_decimal(row: Mapping[str, Any], table: str, name: str) -> Decimal:
    value = row.get(name)
    if isinstance(value, Decimal):  # decoded from a schema-enabled record
        number = value
    elif isinstance(value, str):  # decimal.handling.mode=string: the exact decimal as text
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise DecodeError(f"{table}.{name} is {value!r}, not a decimal number") from None
    else:  # a float (decimal.handling.mode=double) would be inexact money
        raise DecodeError(f"{table}.{name} is {value!r}, not an exact decimal string")
    if not number.is_finite():
        raise DecodeError(f"{table}.{name} is {value!r}, not a finite amount")
    return number


def timestamp(row: Mapping[str, Any], table: str, name: str) -> datetime:
    """A timestamptz column: Debezium's ZonedTimestamp text, or an aware datetime already decoded."""
    value = row.get(name)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise DecodeError(f"{table}.{name} is {value!r}, not an ISO-8601 timestamp") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DecodeError(f"{table}.{name} is {value!r}, not a timestamp with a time zone")
    return value


def timestamp_text(row: Mapping[str, Any], table: str, name: str) -> str:
    """A timestamptz column as text: Debezium's own text when it is one, checked like `timestamp`
    (a text that is no timestamp would fail later, where times are compared)."""
    value = row.get(name)
    if isinstance(value, datetime):
        return value.isoformat()
    timestamp(row, table, name)
    return text(row, table, name)
