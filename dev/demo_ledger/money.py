"""Money as exact two-decimal Decimals: checking amounts and writing them as text."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["CENT", "ZERO", "to_money", "money_text", "cents"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """`value` as a Decimal with exactly two decimal places; refuses floats and fractions of a cent."""
    # A float cannot hold most cent values exactly (0.1 + 0.2 != 0.3), so it never becomes money.
    if isinstance(value, (float, bool)):
        raise TypeError(f"money must be a Decimal, int or str, not {type(value).__name__}: {value!r}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(value)
        if not amount.is_finite():
            raise ValueError(f"money must be a finite amount, not {value!r}")
        exact = amount.quantize(CENT)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount of money") from None
    # Rounding would silently change the amount; the ledger keeps cents, so refuse instead.
    if exact != amount:
        raise ValueError(f"{value!r} has more than two decimal places")
    return exact


def money_text(value: Decimal | int | str) -> str:
    """The exact decimal text of an amount, e.g. "250.00" (how events carry money)."""
    # format "f" never switches to exponent notation, unlike str() on some Decimals.
    return format(to_money(value), "f")


def cents(n: int) -> Decimal:
    """`n` cents as money, e.g. cents(25000) == Decimal("250.00")."""
    return Decimal(int(n)).scaleb(-2)
