"""The balance-by-account read model: one row per account, from the accounts change stream."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, cast

from cdc.changes import Change, DecodeError, Op

from .fields import exact_decimal, integer, text, timestamp_text
from .keys import check_key_is_row_id

__all__ = ["account_key", "account_key_and_view", "account_view", "already_applied", "AccountView",
           "REDELIVERY_WINDOW_LSN"]

#: How far (in WAL bytes) behind a stored change a redelivered one can be. Debezium re-sends from its
#: last flushed offset, one offset-flush interval (seconds to a minute) behind the newest change: far
#: less WAL than this at any rate a ledger writes. A change further behind is no redelivery, so the
#: stored position must be wrong (a record whose position lies in the future): apply the change.
REDELIVERY_WINDOW_LSN = 64 << 30

AccountView = Dict[str, Any]


def account_key(account_id: Any) -> int:
    """Table key of an account: its id (Debezium keys the accounts topic by the id alone)."""
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        raise DecodeError(f"account id {account_id!r} is not an integer")
    return account_id


def account_key_and_view(change: Change) -> Tuple[int, Optional[AccountView]]:
    """(table key, row to store) of an accounts change, its key checked against the row's id (after the
    row's own checks: an id of the wrong type is named as such)."""
    key = account_key(change.key)
    view = account_view(change)
    check_key_is_row_id(change, key, "accounts")
    return key, view


def account_view(change: Change) -> Optional[AccountView]:
    """The row to store for an accounts change, or None when the account is gone.

    Money stays an exact decimal, carried as text ("1234.50") so no float ever touches it.
    """
    if change.op is Op.DELETE:
        return None
    row = change.after
    if row is None:
        raise DecodeError(f"accounts change {change.op.value!r} without an `after` row")
    return {
        "account_id": integer(row, "accounts", "id"),
        "customer_id": integer(row, "accounts", "customer_id"),
        "balance": str(exact_decimal(row, "accounts", "balance")),
        # char(3) arrives blank-padded from some paths; the code is the letters.
        "currency": text(row, "accounts", "currency").strip(),
        "status": text(row, "accounts", "status"),
        "updated_at": timestamp_text(row, "accounts", "updated_at"),
        "source_lsn": change.source.lsn,
        # Where in the database's history this row comes from, to recognise redeliveries.
        # (order() is pure: the second call returns the position the first one found.)
        "source_position": list(cast(Tuple[int, int], change.source.order())) if change.source.order() else None,
    }


def already_applied(change: Change, stored: Optional[AccountView]) -> bool:
    """True for a streamed change at or before the position `stored` was built from.

    Debezium re-sends changes after a connector restart (from its last flushed offset), behind
    newer ones already applied; applying them again would turn a balance back for a while.
    Snapshot reads carry no commit position and are always applied: they are the row as it is.
    A change more than REDELIVERY_WINDOW_LSN behind is applied too: no redelivery lags that far,
    so the stored position is not the database's (a forged or corrupt record must not pin the row
    and make every later real change look old).
    """
    order = change.source.order()
    position: Optional[List[int]] = (stored or {}).get("source_position")  # [commit LSN, LSN]
    if order is None or position is None or order > tuple(position):
        return False
    return max(position[0] - order[0], position[1] - order[1]) <= REDELIVERY_WINDOW_LSN
