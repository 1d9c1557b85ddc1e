"""withdrawal_history_by_account: account id -> its recent large withdrawals (the rules' state)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import List, Optional, Sequence

from app import app
from detection.withdrawals import History, Withdrawal
from topics import PARTITIONS

__all__ = ["withdrawal_history_by_account", "history_to_rows", "history_from_rows"]

withdrawal_history_by_account = app.Table(
    "withdrawal_history_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> large withdrawals in arrival order: [[txn_id, amount, created_at], ...].",
)


def history_to_rows(history: History) -> List[list]:
    return [[w.txn_id, str(w.amount), w.created_at.isoformat()] for w in history]


def history_from_rows(account_id: int, rows: Optional[Sequence[Sequence]]) -> History:
    return tuple(Withdrawal(int(txn_id), account_id, Decimal(amount), datetime.fromisoformat(created_at))
                 for txn_id, amount, created_at in rows or ())
