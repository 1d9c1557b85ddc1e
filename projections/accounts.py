"""The balance-by-account read model: one row per account, from the accounts change stream."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Mapping, Optional

from cdc.changes import Change, DecodeError, Op

__all__ = ["account_key", "account_view", "AccountView"]

AccountView = Dict[str, Any]


def account_key(account_id: Any) -> int:
    """Table key of an account: its id (Debezium keys the accounts topic by the id alone)."""
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        raise DecodeError(f"account id {account_id!r} is not an integer")
    return account_id


def account_view(change: Change) -> Optional[AccountView]:
    """The row to store for an accounts change, or None when the account is gone.

    Money stays an exact decimal, carried as text ("1234.50") so no float ever touches it.
    """
    if change.op is Op.DELETE:
        return None
    row = change.after
    if row is None:
        raise DecodeError(f"accounts change {change.op.value!r} without an `after` row")
    return {
        "account_id": _required_int(row, "id"),
        "customer_id": _required_int(row, "customer_id"),
        "balance": str(_decimal(row, "balance")),
        "currency": _required_text(row, "currency").strip(),
        "status": _required_text(row, "status"),
        "updated_at": _timestamp_text(row, "updated_at"),
        "source_lsn": change.source.lsn,
    }


def _required_int(row: Mapping[str, Any], name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"accounts.{name} is {value!r}, not an integer")
    return value


def _required_text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise DecodeError(f"accounts.{name} is {value!r}, not text")
    return value


def _timestamp_text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if isinstance(value, datetime):  # decoded from a schema-enabled record
        return value.isoformat()
    return _required_text(row, name)


def _decimal(row: Mapping[str, Any], name: str) -> Decimal:
    value = row.get(name)
    if isinstance(value, Decimal):
        return value
    # decimal.handling.mode=string: the exact decimal as text. A float would be inexact.
    if not isinstance(value, str):
        raise DecodeError(f"accounts.{name} is {value!r}, not an exact decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise DecodeError(f"accounts.{name} is {value!r}, not a decimal number") from None
    if not number.is_finite():
        raise DecodeError(f"accounts.{name} is {value!r}, not a finite amount")
    return number
