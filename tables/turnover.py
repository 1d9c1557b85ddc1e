"""turnover_days and turnover_by_account_day: an account's turnover, one row per UTC day (projections/turnover.py).

Size bound of every row: 64 KB (engine/limits.py, enforced at the flush); in practice a day row is
about 120 bytes and an index row at most TURNOVER_RETENTION_DAYS x 14 bytes, whatever the volume.
"""

from __future__ import annotations

from app import app
from topics import PARTITIONS

__all__ = ["turnover_days", "turnover_by_account_day"]

turnover_days = app.Table(
    "turnover_days",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> {days: [retained days, oldest first]}.",
)

#: Keyed "account:day" (projections.turnover.day_key). Rows are written under the account's record,
#: so they live in the account's partition (the changelog record goes to the writing event's
#: partition), not where Kafka's partitioner would put this key: reads go to the account's owner.
turnover_by_account_day = app.Table(
    "turnover_by_account_day",
    default=None,
    partitions=PARTITIONS,
    key_type=str,
    help="'account:day' -> {deposits, withdrawals, count, last_txn_id}.",
)
