"""balance_history_by_account: account id -> its row after each recent change (projections/history.py).

Size bound of every row: 64 KB (engine/limits.py); BALANCE_HISTORY_MAX_ENTRIES entries of about 250
bytes each keep it under.
"""

from __future__ import annotations

from app import app
from topics import PARTITIONS

__all__ = ["balance_history_by_account"]

balance_history_by_account = app.Table(
    "balance_history_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> {entries: [[commit µs, LSN, account row or null], ...] oldest first, born}.",
)
