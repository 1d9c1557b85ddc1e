"""One reconciliation: compare, then re-read what differs until it is settled one way or the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from .compare import Difference, account_differences, customer_differences, turnover_differences
from .ledger import LedgerSnapshot, read_snapshot
from .views import ViewAnswer, ViewsClient

__all__ = ["Report", "reconcile", "lsn_number"]


@dataclass
class Report:
    """What a reconciliation found: the differences that held in every round, and what it checked."""

    lsn: str
    checked: Dict[str, int]
    differences: List[Difference] = field(default_factory=list)
    #: (model, key) that changed, or whose view had not caught up, in every round: neither right nor wrong.
    unsettled: List[Tuple[str, str]] = field(default_factory=list)
    rounds: int = 1


def reconcile(database_url: str, views: ViewsClient, *, retention_days: int, rounds: int = 3,
              accounts: Optional[Sequence[int]] = None, customers: Optional[Sequence[int]] = None) -> Report:
    """Compare every account, customer and turnover day (or those of the keys named) with the ledger.

    Each round reads the ledger in one snapshot and asks the views for answers that include every
    change up to the snapshot's position (`min_lsn`). A key can still differ without being wrong: a
    change committed while the snapshot was taken, or one the view applied after the position. So
    the keys that differ are read again, in a fresh snapshot, up to `rounds` times; only a
    difference seen in every round is reported. An account whose view row comes from a change after
    the snapshot's position is not compared in that round (the row says which change it reflects).
    """
    report: Optional[Report] = None
    extra_days: Set[Tuple[int, str]] = set()
    for number in range(1, rounds + 1):
        snapshot = read_snapshot(database_url, accounts=accounts, customers=customers, retention_days=retention_days)
        # Keys named but absent from the ledger are checked too: the view must not have them either.
        account_ids = sorted(set(snapshot.accounts) | set(accounts or ()))
        customer_ids = sorted(set(snapshot.customers) | set(customers or ()))
        turnover_keys = sorted(set(snapshot.turnover) | extra_days)
        if report is None:
            report = Report(lsn=snapshot.lsn, checked={"accounts": len(account_ids), "customers": len(customer_ids),
                                                       "turnover_days": len(turnover_keys)})
        report.differences, report.unsettled = _one_round(snapshot, views, account_ids, customer_ids, turnover_keys)
        report.rounds = number
        open_keys = [(d.model, d.key) for d in report.differences] + report.unsettled
        if not open_keys:
            break
        # The next round reads only the keys still open (an account's turnover days with it).
        accounts = sorted({_account_of(key) for model, key in open_keys if model != "customer"})
        customers = sorted({int(key) for model, key in open_keys if model == "customer"})
        extra_days = {_turnover_key(key) for model, key in open_keys if model == "turnover"}
    assert report is not None  # rounds >= 1
    return report


def _one_round(snapshot: LedgerSnapshot, views: ViewsClient, account_ids: Sequence[int],
               customer_ids: Sequence[int], turnover_keys: Sequence[Tuple[int, str]]
               ) -> Tuple[List[Difference], List[Tuple[str, str]]]:
    found: List[Difference] = []
    unsettled: List[Tuple[str, str]] = []
    position = lsn_number(snapshot.lsn)
    for account_id, answer in views.accounts(account_ids, min_lsn=snapshot.lsn).items():
        if not answer.settled or _after(answer, position):
            unsettled.append(("account", str(account_id)))
            continue
        found.extend(account_differences(account_id, snapshot.accounts.get(account_id), answer.row))
    for customer_id, answer in views.customers(customer_ids, min_lsn=snapshot.lsn).items():
        if not answer.settled:
            unsettled.append(("customer", str(customer_id)))
            continue
        found.extend(customer_differences(customer_id, snapshot.customers.get(customer_id), answer.row))
    for (account_id, day), answer in views.turnover(turnover_keys, min_lsn=snapshot.lsn).items():
        if not answer.settled:
            unsettled.append(("turnover", f"{account_id}:{day}"))
            continue
        found.extend(turnover_differences(account_id, day, snapshot.turnover.get((account_id, day)), answer.row))
    return found, unsettled


def _after(answer: ViewAnswer, position: int) -> bool:
    """True when the view's row reflects a change committed after `position`."""
    source: Any = (answer.row or {}).get("source_position")
    return bool(source) and int(source[0]) > position


def _account_of(key: str) -> int:
    return int(key.partition(":")[0])


def _turnover_key(key: str) -> Tuple[int, str]:
    account, _, day = key.partition(":")
    return int(account), day


def lsn_number(text: str) -> int:
    """PostgreSQL's text form of a WAL position ("16/B374D848") as the number Debezium reports."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)
