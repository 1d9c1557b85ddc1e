"""alerts_by_account: account id -> its alerts, unique by alert_id, oldest first."""

from __future__ import annotations

from app import app
from topics import PARTITIONS

__all__ = ["alerts_by_account"]

alerts_by_account = app.Table(
    "alerts_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> alert rows (projections/alerts.py), newest ALERTS_KEPT_PER_ACCOUNT kept.",
)
