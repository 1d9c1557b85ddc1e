"""The customer overview read model: a customer, their accounts, total balance per currency.

Fed from two streams keyed by customer id: customer changes, and account updates re-keyed by
customer (`account_update` below, sent by the accounts agent). A customer with 20,000 accounts is
not one row: it is
- the customer row (customer_summary): name, email, last activity, total balance and number of
  accounts per currency, number of accounts, and where the next account goes; its size depends
  on the number of currencies (a few dozen bytes each), never on the number of accounts;
- pages of at most PAGE_SIZE accounts (customer_account_pages, key "customer:page"), each
  {"accounts": {account id: {balance, currency, status}}}, filled in the order accounts arrive;
- the page of each account (customer_account_page_of, key "customer:account" -> page number).
An account update reads and writes one page, one page-of row and the customer row: constant work,
however many accounts the customer has. Totals are kept incrementally from the page's old entry.
Pure functions over rows (`fold_*` take the tables' rows as a batch agent sees them).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, cast

from cdc.changes import Change, DecodeError, Op

from .fields import integer, text, timestamp_text

__all__ = [
    "customer_key", "apply_customer_change", "account_update", "activity_update", "fold_account_update",
    "page_key", "page_of_key", "served_overview", "parse_cursor", "PAGE_SIZE", "MAX_PAGES_PER_ANSWER",
    "CustomerOverview", "position_marker", "marker_position",
]

CustomerOverview = Dict[str, Any]

#: Accounts per page row: at most about 100 bytes each, so a page stays under 20 KB.
PAGE_SIZE = 200
#: Pages read to answer one request, at most (a page may have been emptied by closed accounts).
MAX_PAGES_PER_ANSWER = 20


def customer_key(customer_id: Any) -> int:
    if isinstance(customer_id, bool) or not isinstance(customer_id, int):
        raise DecodeError(f"customer id {customer_id!r} is not an integer")
    return customer_id


def page_key(customer_id: int, page: int) -> str:
    """Key of a customer's page row; like page_of_key, it lives in the customer's partition (written
    under the customer's record), not where Kafka's partitioner would put this text."""
    return f"{customer_id}:{page}"


def page_of_key(customer_id: int, account_id: int) -> str:
    return f"{customer_id}:{account_id}"


def _empty(customer_id: int) -> CustomerOverview:
    return {"customer_id": customer_id, "name": None, "email": None, "total_balance": {}, "last_activity": None,
            "account_count": 0, "accounts_per_currency": {}, "pages": 0, "open_page_size": 0}


def apply_customer_change(overview: Optional[Mapping[str, Any]], change: Change) -> Optional[CustomerOverview]:
    """The customer row after a customers change; None once the customer is deleted."""
    if change.op is Op.DELETE:
        return None
    row = change.after
    if row is None:
        raise DecodeError(f"customers change {change.op.value!r} without an `after` row")
    customer_id = integer(row, "customers", "id")
    email = row.get("email")
    if email is not None and not isinstance(email, str):
        raise DecodeError(f"customers.email is {email!r}, not text")
    current = dict(overview) if overview else _empty(customer_id)
    current.update(name=text(row, "customers", "name"), email=email,
                   last_activity=_later(current["last_activity"], timestamp_text(row, "customers", "created_at")))
    return current


def account_update(account: Optional[Mapping[str, Any]], *, account_id: int, customer_id: int) -> Dict[str, Any]:
    """What the accounts agent sends to the customer's partition: the account as it is now, or gone."""
    if account is None:
        return {"kind": "account", "customer_id": customer_id, "account_id": account_id, "deleted": True}
    return {"kind": "account", "customer_id": customer_id, "account_id": account_id, "deleted": False,
            "balance": account["balance"], "currency": account["currency"], "status": account["status"],
            "updated_at": account["updated_at"]}


def position_marker(*, source_partition: int, lsn: int, ts_ms: Optional[int]) -> Dict[str, Any]:
    """What the accounts side sends to every partition of the re-keyed topic once accounts partition
    `source_partition` reached `lsn`: every update derived from its changes before `lsn` was sent first."""
    return {"kind": "position", "source_partition": source_partition, "lsn": lsn, "ts_ms": ts_ms}


def marker_position(update: Mapping[str, Any]) -> Tuple[int, int, Optional[int]]:
    """(source partition, LSN, ts_ms) of a position marker; ValueError when it is not one."""
    source, lsn, ts_ms = update.get("source_partition"), update.get("lsn"), update.get("ts_ms")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (source, lsn)):
        raise ValueError(f"position marker with source partition {source!r} and LSN {lsn!r}")
    if ts_ms is not None and (not isinstance(ts_ms, int) or isinstance(ts_ms, bool)):
        raise ValueError(f"position marker with ts_ms {ts_ms!r}")
    return cast(int, source), cast(int, lsn), ts_ms


def activity_update(*, customer_id: int, at: str) -> Dict[str, Any]:
    """A domain event of one of the customer's accounts happened at `at`."""
    return {"kind": "activity", "customer_id": customer_id, "at": at}


def fold_account_update(overviews: Any, pages: Any, page_of: Any, update: Mapping[str, Any], *,
                        page_size: int = PAGE_SIZE) -> None:
    """Fold one update into the customer row, the account's page and its page-of row.

    `overviews` (customer id -> customer row), `pages` (page key -> page row) and `page_of` (page-of
    key -> page number) are the tables' rows as a batch agent sees them (get, set, delete). An
    update states the account as it now is, so folding it again changes nothing: the page already
    holds that entry and the totals move by its difference from the entry, zero.
    """
    customer_id = update["customer_id"]
    current = dict(overviews.get(customer_id) or _empty(customer_id))
    if update.get("kind") == "activity":
        current["last_activity"] = _later(current["last_activity"], update["at"])
        overviews[customer_id] = current
        return
    account_id = update["account_id"]
    if not update["deleted"]:  # everything read and checked before any row is written
        _decimal(update["balance"])
        new = {"balance": update["balance"], "currency": update["currency"], "status": update["status"]}
        last_activity = _later(current["last_activity"], update["updated_at"])
    where = page_of_key(customer_id, account_id)
    page_no = page_of.get(where)
    page = (pages.get(page_key(customer_id, page_no)) or {"accounts": {}}) if page_no is not None else None
    old = page["accounts"].get(str(account_id)) if page is not None else None
    if update["deleted"]:
        if page_no is None:
            return  # never listed, or already gone
        # A listed account (page_no is not None) always has its page.
        entries = {k: v for k, v in cast(Dict[str, Any], page)["accounts"].items() if k != str(account_id)}
        if entries:
            pages[page_key(customer_id, page_no)] = {"accounts": entries}
        else:
            del pages[page_key(customer_id, page_no)]
        del page_of[where]
        _move_totals(current, old, None)
        overviews[customer_id] = current
        return
    if page_no is None:  # a new account: the open page, or a new one once it is full
        if current["pages"] == 0 or current["open_page_size"] >= page_size:
            current["pages"], current["open_page_size"] = current["pages"] + 1, 0
            page = {"accounts": {}}
        else:
            page = pages.get(page_key(customer_id, current["pages"] - 1)) or {"accounts": {}}
        page_no = current["pages"] - 1
        current["open_page_size"] += 1
        page_of[where] = page_no
    # Every path here has a page: the listed account's, or the one picked for it above.
    listed = cast(Dict[str, Any], page)["accounts"]
    pages[page_key(customer_id, page_no)] = {"accounts": {**listed, str(account_id): new}}
    _move_totals(current, old, new)
    current["last_activity"] = last_activity
    overviews[customer_id] = current


def _decimal(text: Any) -> Decimal:
    try:
        return Decimal(text)
    except (ArithmeticError, TypeError):
        raise ValueError(f"balance {text!r} is not a decimal") from None


def _move_totals(current: Dict[str, Any], old: Optional[Mapping[str, str]], new: Optional[Mapping[str, str]]) -> None:
    """Take `old` out of the customer's totals and put `new` in (either may be None)."""
    totals = dict(current["total_balance"])
    counts = dict(current["accounts_per_currency"])
    for entry, sign in ((old, -1), (new, 1)):
        if entry is None:
            continue
        currency = entry["currency"]
        counts[currency] = counts.get(currency, 0) + sign
        total = Decimal(totals.get(currency, "0")) + sign * Decimal(entry["balance"])
        if counts[currency]:
            totals[currency] = str(total)
        else:  # no account left in that currency: it leaves the totals, as it left the list
            totals.pop(currency, None)
            counts.pop(currency)
    current["total_balance"] = dict(sorted(totals.items()))
    current["accounts_per_currency"] = dict(sorted(counts.items()))
    current["account_count"] = sum(counts.values())


def served_overview(overview: Mapping[str, Any], read_page: Callable[[int], Optional[Mapping[str, Any]]], *,
                    limit: int, after: Optional[Tuple[int, int]] = None,
                    max_pages: int = MAX_PAGES_PER_ANSWER) -> Dict[str, Any]:
    """The customer as served: its row without internals, and up to `limit` of its accounts.

    Accounts are listed page by page (the order they joined the overview), by account id within a
    page. `after` is the cursor of the previous answer: (page, last account id served from it).
    At most `max_pages` pages are read per answer (pages emptied by closed accounts are skipped
    over several answers, not all at once). `next_cursor` is None once the last page is served.
    """
    accounts: List[Dict[str, Any]] = []
    page_no, after_id = after if after is not None else (0, 0)
    cursor: Optional[Tuple[int, int]] = None
    for _ in range(max_pages):
        if page_no >= overview["pages"] or len(accounts) == limit:
            break
        entries = sorted((int(k), v) for k, v in ((read_page(page_no) or {}).get("accounts") or {}).items())
        entries = [(k, v) for k, v in entries if k > after_id]
        taken = entries[:limit - len(accounts)]
        accounts.extend({"account_id": account_id, **entry} for account_id, entry in taken)
        if len(taken) < len(entries):  # the page has more: go on from the last one served
            cursor = (page_no, taken[-1][0])
            break
        page_no, after_id = page_no + 1, 0
    else:
        cursor = None
    if cursor is None and page_no < overview["pages"]:
        cursor = (page_no, after_id)
    return {"customer_id": overview["customer_id"], "name": overview["name"], "email": overview["email"],
            "accounts": accounts, "total_balance": overview["total_balance"],
            "last_activity": overview["last_activity"], "account_count": overview["account_count"],
            "next_cursor": None if cursor is None else f"{cursor[0]}.{cursor[1]}"}


def parse_cursor(text: str) -> Tuple[int, int]:
    """A cursor as served ("page.account"); ValueError if it is not one."""
    page, _, account = text.partition(".")
    if not (page.isascii() and page.isdigit() and account.isascii() and account.isdigit()) or len(text) > 40:
        raise ValueError(text)
    return int(page), int(account)


def _later(a: Optional[str], b: Optional[str]) -> Optional[str]:
    present = [x for x in (a, b) if x]
    # Compared as instants: texts with different fractions of a second do not sort in time order.
    return max(present, key=datetime.fromisoformat) if present else None
