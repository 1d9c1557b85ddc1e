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
    help="Account id -> large withdrawals in transaction id order: [[txn_id, amount, created_at], ...], "
         "a fourth element true on one a lower id overtook.",
)


def history_to_rows(history: History) -> List[list]:
    # The overtaken mark only where set: rows stay as they were for histories that arrived in id order.
    return [[w.txn_id, str(w.amount), w.created_at.isoformat()] + ([True] if w.overtaken else []) for w in history]


def history_from_rows(account_id: int, rows: Optional[Sequence[Sequence]]) -> History:
    # Rows written before histories were kept in id order are in arrival order: sort them.
    return tuple(sorted((Withdrawal(int(row[0]), account_id, Decimal(row[1]), datetime.fromisoformat(row[2]),
                                    overtaken=len(row) > 3 and bool(row[3])) for row in rows or ()),
                        key=lambda w: w.txn_id))
