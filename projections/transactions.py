"""Ledger transactions from the transactions change stream: the input of turnover and the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, cast

from cdc.changes import Change, DecodeError, Op
from detection.withdrawals import Withdrawal

from .fields import exact_decimal, integer, text, timestamp

__all__ = ["LedgerTransaction", "transaction_from_change", "keyed_transaction", "DEPOSIT", "WITHDRAWAL"]

DEPOSIT = "deposit"
WITHDRAWAL = "withdrawal"


@dataclass(frozen=True)
class LedgerTransaction:
    txn_id: int
    account_id: int
    kind: str
    amount: Decimal
    created_at: datetime

    def as_withdrawal(self) -> Withdrawal:
        return Withdrawal(self.txn_id, self.account_id, self.amount, self.created_at)


def transaction_from_change(change: Change) -> LedgerTransaction:
    """A new ledger transaction (insert or snapshot read).

    The ledger is append-only: an update or delete of a posted transaction cannot be folded
    into totals, so it is refused with a reason (and dead-lettered by the caller).
    """
    if change.op not in (Op.CREATE, Op.READ):
        raise DecodeError(f"transactions are append-only; a {change.op.name.lower()} cannot be applied")
    # The decoder refuses a create or read without an `after` row (cdc.decode._images).
    row = cast(Mapping[str, Any], change.after)
    kind = text(row, "transactions", "kind")
    if kind not in (DEPOSIT, WITHDRAWAL):
        raise DecodeError(f"transactions.kind is {kind!r}, not deposit or withdrawal")
    amount = exact_decimal(row, "transactions", "amount")
    if amount <= 0:
        raise DecodeError(f"transactions.amount is {amount}, not positive")
    return LedgerTransaction(
        txn_id=integer(row, "transactions", "id"),
        account_id=integer(row, "transactions", "account_id"),
        kind=kind,
        amount=amount,
        created_at=timestamp(row, "transactions", "created_at"),
    )


def keyed_transaction(change: Change) -> LedgerTransaction:
    """transaction_from_change of a record that must be keyed by the transaction's account."""
    txn = transaction_from_change(change)
    if change.key != txn.account_id:
        # State lives in the key's partition; a record keyed otherwise would split it.
        raise DecodeError(f"record key {change.key!r} is not the transaction's account {txn.account_id}")
    return txn
