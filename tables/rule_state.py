"""withdrawal_history_by_account: account id -> its recent large withdrawals (the rules' state)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, Mapping, Sequence, Union

from app import app
from detection.withdrawals import History, RuleSettings, Withdrawal
from topics import PARTITIONS

__all__ = ["withdrawal_history_by_account", "history_to_rows", "history_from_rows"]

withdrawal_history_by_account = app.Table(
    "withdrawal_history_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> {held: [[txn_id, amount, created_at, overtaken?, source?], ...] in transaction id "
         "order (overtaken true on one a lower id overtook; source its position, agents/provenance.py), "
         "pruned_through: the highest id pruned, or null}.",
)


def history_to_rows(history: History) -> Dict[str, Any]:
    # The overtaken mark and the source position only where set: rows stay short without them.
    return {"held": [[w.txn_id, str(w.amount), w.created_at.isoformat(), *_marks(w)] for w in history.held],
            "pruned_through": history.pruned_through}


def _marks(w: Withdrawal) -> list:
    if w.source is not None:
        return [w.overtaken, w.source]
    return [True] if w.overtaken else []


def history_from_rows(account_id: int, rows: Union[None, Mapping[str, Any], Sequence[Sequence]], *,
                      length: int = RuleSettings.length) -> History:
    """`length`: the burst rule's LENGTH, which tells whether a row written by an earlier version was pruned."""
    if rows is None:
        return History()
    if isinstance(rows, Mapping):
        pruned_through = rows["pruned_through"]
        return History(tuple(_withdrawal(account_id, row) for row in rows["held"]),
                       None if pruned_through is None else int(pruned_through))
    # Rows written before the history was kept in id order: a list in arrival order. Its pruning kept
    # at least LENGTH, so a shorter one lost nothing; a longer one is taken as pruned below its lowest id.
    held = tuple(sorted((_withdrawal(account_id, row) for row in rows), key=lambda w: w.txn_id))
    return History(held, held[0].txn_id - 1 if len(held) >= length else None)


def _withdrawal(account_id: int, row: Sequence) -> Withdrawal:
    return Withdrawal(int(row[0]), account_id, Decimal(row[1]), datetime.fromisoformat(row[2]),
                      overtaken=len(row) > 3 and bool(row[3]), source=row[4] if len(row) > 4 else None)
