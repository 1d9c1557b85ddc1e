"""The customer overview read model: a customer, their accounts, total balance per currency.

Fed from two streams keyed by customer id: customer changes, and account updates re-keyed by
customer (`account_update` below, sent by the accounts agent). Pure functions: row in, row out.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, Mapping, Optional

from cdc.changes import Change, DecodeError, Op

from .fields import integer, text, timestamp_text

__all__ = [
    "customer_key", "apply_customer_change", "account_update", "activity_update", "apply_account_update",
    "note_activity", "CustomerOverview",
]

CustomerOverview = Dict[str, Any]


def customer_key(customer_id: Any) -> int:
    if isinstance(customer_id, bool) or not isinstance(customer_id, int):
        raise DecodeError(f"customer id {customer_id!r} is not an integer")
    return customer_id


def _empty(customer_id: int) -> CustomerOverview:
    return {"customer_id": customer_id, "name": None, "email": None, "accounts": {}, "total_balance": {},
            "last_activity": None}


def apply_customer_change(overview: Optional[Mapping[str, Any]], change: Change) -> Optional[CustomerOverview]:
    """The overview after a customers change; None once the customer is deleted."""
    if change.op is Op.DELETE:
        return None
    row = change.after
    if row is None:
        raise DecodeError(f"customers change {change.op.value!r} without an `after` row")
    customer_id = integer(row, "customers", "id")
    email = row.get("email")
    if email is not None and not isinstance(email, str):
        raise DecodeError(f"customers.email is {email!r}, not text")
    current = dict(overview) if overview else _empty(customer_id)
    current.update(name=text(row, "customers", "name"), email=email,
                   last_activity=_later(current["last_activity"], timestamp_text(row, "customers", "created_at")))
    return current


def account_update(account: Optional[Mapping[str, Any]], *, account_id: int, customer_id: int) -> Dict[str, Any]:
    """What the accounts agent sends to the customer's partition: the account as it is now, or gone."""
    if account is None:
        return {"kind": "account", "customer_id": customer_id, "account_id": account_id, "deleted": True}
    return {"kind": "account", "customer_id": customer_id, "account_id": account_id, "deleted": False,
            "balance": account["balance"], "currency": account["currency"], "status": account["status"],
            "updated_at": account["updated_at"]}


def activity_update(*, customer_id: int, at: str) -> Dict[str, Any]:
    """A domain event of one of the customer's accounts happened at `at`."""
    return {"kind": "activity", "customer_id": customer_id, "at": at}


def apply_account_update(overview: Optional[Mapping[str, Any]], update: Mapping[str, Any]) -> CustomerOverview:
    current = dict(overview) if overview else _empty(update["customer_id"])
    if update.get("kind") == "activity":
        current["last_activity"] = _later(current["last_activity"], update["at"])
        return current
    accounts = dict(current["accounts"])
    key = str(update["account_id"])  # JSON object keys are text
    if update["deleted"]:
        accounts.pop(key, None)
    else:
        accounts[key] = {"balance": update["balance"], "currency": update["currency"], "status": update["status"]}
        current["last_activity"] = _later(current["last_activity"], update["updated_at"])
    current["accounts"] = accounts
    current["total_balance"] = _totals(accounts)
    return current


def _totals(accounts: Mapping[str, Mapping[str, str]]) -> Dict[str, str]:
    totals: Dict[str, Decimal] = {}
    for account in accounts.values():
        totals[account["currency"]] = totals.get(account["currency"], Decimal("0")) + Decimal(account["balance"])
    return {currency: str(total) for currency, total in sorted(totals.items())}


def _later(a: Optional[str], b: Optional[str]) -> Optional[str]:
    present = [x for x in (a, b) if x]
    # Compared as instants: texts with different fractions of a second do not sort in time order.
    return max(present, key=datetime.fromisoformat) if present else None


def note_activity(overview: Optional[Mapping[str, Any]], customer_id: int, at: str) -> CustomerOverview:
    return apply_account_update(overview, activity_update(customer_id=customer_id, at=at))
