"""Pure comparison of the ledger's rows with the views' answers: each field that differs, with both values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

__all__ = ["Difference", "account_differences", "customer_differences", "turnover_differences", "ABSENT"]

#: What a side holds for a key it does not have (a 404 from a view, no row in the ledger).
ABSENT = None


@dataclass(frozen=True)
class Difference:
    """One field of one key that the ledger and the view disagree on."""

    model: str  # "account", "customer" or "turnover"
    key: str  # "17", or "17:2026-11-30" for a turnover day
    field: str
    ledger: Any
    view: Any

    def __str__(self) -> str:
        return f"{self.model} {self.key} {self.field}: ledger {_shown(self.ledger)}, view {_shown(self.view)}"

    def as_dict(self) -> Dict[str, Any]:
        return {"model": self.model, "key": self.key, "field": self.field, "ledger": self.ledger, "view": self.view}


def account_differences(account_id: int, ledger: Optional[Mapping[str, Any]],
                        view: Optional[Mapping[str, Any]]) -> Iterator[Difference]:
    """An account's balance, status, currency and customer: the ledger's row against /accounts/{id}."""
    yield from _rows("account", str(account_id), ledger, view,
                     {"balance": _money, "status": str, "currency": _currency, "customer_id": int})


def customer_differences(customer_id: int, ledger: Optional[Mapping[str, Any]],
                         view: Optional[Mapping[str, Any]]) -> Iterator[Difference]:
    """A customer's name, email, account count and balance per currency against /customers/{id}."""
    yield from _rows("customer", str(customer_id), ledger, view,
                     {"name": str, "email": _optional_text, "account_count": int, "total_balance": _totals})


def turnover_differences(account_id: int, day: str, ledger: Optional[Mapping[str, Any]],
                         view: Optional[Mapping[str, Any]]) -> Iterator[Difference]:
    """A day's deposits, withdrawals and count: the SQL aggregate against /accounts/{id}/turnover?day=.

    A day without transactions is the same as a day the view answers with zeros.
    """
    zero = {"deposits": "0", "withdrawals": "0", "count": 0}
    yield from _rows("turnover", f"{account_id}:{day}", ledger or zero, view or zero,
                     {"deposits": _money, "withdrawals": _money, "count": int})


def _rows(model: str, key: str, ledger: Optional[Mapping[str, Any]], view: Optional[Mapping[str, Any]],
          fields: Mapping[str, Any]) -> Iterator[Difference]:
    if ledger is None and view is None:
        return
    if ledger is None or view is None:
        yield Difference(model, key, "exists", ledger is not None, view is not None)
        return
    for name, normal in fields.items():
        theirs, ours = _normal(normal, ledger.get(name)), _normal(normal, view.get(name))
        if theirs != ours:
            yield Difference(model, key, name, ledger.get(name), view.get(name))


def _normal(normal: Any, value: Any) -> Tuple[bool, Any]:
    """A value in a form both sides can be compared in; one that cannot be read stays itself."""
    try:
        return True, normal(value)
    except (TypeError, ValueError, InvalidOperation):
        return False, value


def _money(value: Any) -> Decimal:
    if isinstance(value, float):  # money is never a float on either side; one is a difference
        raise TypeError(value)
    return Decimal(str(value))


def _currency(value: Any) -> str:
    return str(value).strip()  # char(3) may come blank-padded


def _optional_text(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _totals(value: Any) -> Dict[str, Decimal]:
    return {str(currency): _money(total) for currency, total in dict(value).items()}


def _shown(value: Any) -> str:
    if isinstance(value, bool):  # the "exists" field
        return "present" if value else "absent"
    return repr(value) if isinstance(value, str) else str(value)
