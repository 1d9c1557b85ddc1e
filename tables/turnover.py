"""turnover_by_account: account id -> turnover per UTC day (see projections/turnover.py)."""

from __future__ import annotations

from app import app
from topics import PARTITIONS

__all__ = ["turnover_by_account"]

turnover_by_account = app.Table(
    "turnover_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> {day: {deposits, withdrawals, count, txn_ids}} for the retained days.",
)
