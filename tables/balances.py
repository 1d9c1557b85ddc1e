"""balance_by_account: account id -> the account's balance, currency, status (a CQRS read model)."""

from __future__ import annotations

from app import app
from topics import PARTITIONS

__all__ = ["balance_by_account"]

# Keys are the account id, an int, serialised as JSON: b"42", the same bytes Debezium keys
# the accounts topic by, so a key's partition here equals its partition there.
balance_by_account = app.Table(
    "balance_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> balance (exact decimal text), currency, status, updated_at.",
)
