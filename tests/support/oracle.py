"""The expected read models, computed independently from the ledger's `transactions` rows.

A test oracle in plain Python: it shares no code with detection/ or projections/, keeps each
account's whole history (no pruning, no state), and applies the rule definitions literally, in
transaction id order whatever order the rows come in (the predecessors of w: the account's large
withdrawals with a lower id):

- rapid-large-withdrawals: on a withdrawal w >= LARGE, w and its predecessors with created_at in
  (w.created_at - WINDOW, w.created_at]; COUNT or more alert, window (w.created_at - WINDOW, w.created_at].
- large-withdrawal-burst: on a large withdrawal w, w and its last LENGTH-1 predecessors by id; a sum
  of BURST_TOTAL or more alerts, window from the earliest to the latest created_at among them.
- deposit-then-drain: for a deposit d >= DRAIN_DEPOSIT, the first transaction id k >= d's (in id order)
  at which the account's withdrawals with id <= k and created_at in [d.created_at, d.created_at + DRAIN_WITHIN]
  sum to DRAIN_SHARE * d.amount or more; one alert for d, trigger k, listing d and those withdrawals.
- dormant-reactivation: a withdrawal w >= LARGE whose account's latest created_at among its lower ids
  is DORMANT_SILENCE or more before w.created_at; an account's first transaction never alerts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Mapping, Tuple

__all__ = ["RAPID", "BURST", "DRAIN", "DORMANT", "Txn", "ExpectedAlert", "RuleDefinitions", "expected_alerts",
           "expected_turnover", "expected_balances", "expected_balance_low_crossings", "alert_from_view",
           "alert_from_event"]

RAPID = "rapid-large-withdrawals"
BURST = "large-withdrawal-burst"
DRAIN = "deposit-then-drain"
DORMANT = "dormant-reactivation"


@dataclass(frozen=True)
class Txn:
    txn_id: int
    account_id: int
    kind: str
    amount: Decimal
    created_at: datetime


@dataclass(frozen=True)
class RuleDefinitions:
    """The documented defaults (docs/operations.md, Settings)."""

    large: Decimal = Decimal("200.00")
    window: timedelta = timedelta(minutes=10)
    count: int = 3
    length: int = 5
    burst_total: Decimal = Decimal("5000.00")
    drain_deposit: Decimal = Decimal("1000.00")
    drain_within: timedelta = timedelta(minutes=30)
    drain_share: Decimal = Decimal("0.90")
    dormant_silence: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert's identity and every field that follows from the ledger (not detected_at)."""

    alert_id: str
    rule: str
    account_id: int
    trigger_txn_id: int
    count: int
    total: Decimal
    window_start: datetime
    window_end: datetime
    txn_ids: Tuple[int, ...]


def _alert(rule: str, w: Txn, members: List[Txn], start: datetime, end: datetime) -> ExpectedAlert:
    return ExpectedAlert(
        alert_id=f"{rule}:{w.txn_id}", rule=rule, account_id=w.account_id, trigger_txn_id=w.txn_id,
        count=len(members), total=sum((m.amount for m in members), Decimal(0)),
        window_start=start, window_end=end, txn_ids=tuple(sorted(m.txn_id for m in members)),
    )


def expected_alerts(txns: Iterable[Txn], rules: RuleDefinitions = RuleDefinitions()) -> Dict[str, ExpectedAlert]:
    """Every alert the rules must raise over `txns` (any order: they are judged in id order), by alert id."""
    txns = list(txns)
    large_so_far: Dict[int, List[Txn]] = defaultdict(list)
    alerts: Dict[str, ExpectedAlert] = {}
    for t in sorted(txns, key=lambda t: t.txn_id):
        if t.kind != "withdrawal" or t.amount < rules.large:
            continue
        seen = large_so_far[t.account_id]
        seen.append(t)
        start = t.created_at - rules.window
        in_window = [x for x in seen if start < x.created_at <= t.created_at]
        if len(in_window) >= rules.count:
            a = _alert(RAPID, t, in_window, start, t.created_at)
            alerts[a.alert_id] = a
        last = seen[-rules.length:]
        if sum((x.amount for x in last), Decimal(0)) >= rules.burst_total:
            a = _alert(BURST, t, last, min(x.created_at for x in last), max(x.created_at for x in last))
            alerts[a.alert_id] = a
    alerts.update(_drains(txns, rules))
    alerts.update(_dormant(txns, rules))
    return alerts


def _by_account_in_id_order(txns: Iterable[Txn]) -> Dict[int, List[Txn]]:
    accounts: Dict[int, List[Txn]] = defaultdict(list)
    for t in sorted(txns, key=lambda t: t.txn_id):
        accounts[t.account_id].append(t)
    return accounts


def _drains(txns: Iterable[Txn], rules: RuleDefinitions) -> Dict[str, ExpectedAlert]:
    alerts: Dict[str, ExpectedAlert] = {}
    for history in _by_account_in_id_order(txns).values():
        for d in history:
            if d.kind != "deposit" or d.amount < rules.drain_deposit:
                continue
            end = d.created_at + rules.drain_within
            for k in (t.txn_id for t in history if t.txn_id >= d.txn_id):
                members = [w for w in history if w.kind == "withdrawal" and w.txn_id <= k
                           and d.created_at <= w.created_at <= end]
                total = sum((w.amount for w in members), Decimal(0))
                if total >= rules.drain_share * d.amount:
                    alerts[f"{DRAIN}:{d.txn_id}"] = ExpectedAlert(
                        alert_id=f"{DRAIN}:{d.txn_id}", rule=DRAIN, account_id=d.account_id, trigger_txn_id=k,
                        count=len(members), total=total, window_start=d.created_at, window_end=end,
                        txn_ids=tuple(sorted([d.txn_id, *(w.txn_id for w in members)])))
                    break
    return alerts


def _dormant(txns: Iterable[Txn], rules: RuleDefinitions) -> Dict[str, ExpectedAlert]:
    alerts: Dict[str, ExpectedAlert] = {}
    for history in _by_account_in_id_order(txns).values():
        for index, w in enumerate(history):
            if index == 0 or w.kind != "withdrawal" or w.amount < rules.large:
                continue
            previous = max(t.created_at for t in history[:index])
            if w.created_at - previous >= rules.dormant_silence:
                alerts[f"{DORMANT}:{w.txn_id}"] = ExpectedAlert(
                    alert_id=f"{DORMANT}:{w.txn_id}", rule=DORMANT, account_id=w.account_id, trigger_txn_id=w.txn_id,
                    count=1, total=w.amount, window_start=previous, window_end=w.created_at, txn_ids=(w.txn_id,))
    return alerts


def expected_turnover(txns: Iterable[Txn]) -> Dict[Tuple[int, date], Dict[str, Any]]:
    """(account, UTC day) -> {"deposits": Decimal, "withdrawals": Decimal, "count": int}."""
    days: Dict[Tuple[int, date], Dict[str, Any]] = {}
    for t in txns:
        key = (t.account_id, t.created_at.astimezone(timezone.utc).date())
        totals = days.setdefault(key, {"deposits": Decimal(0), "withdrawals": Decimal(0), "count": 0})
        totals["deposits" if t.kind == "deposit" else "withdrawals"] += t.amount
        totals["count"] += 1
    return days


def expected_balances(txns: Iterable[Txn], opening: Mapping[int, Decimal]) -> Dict[int, Decimal]:
    balances = dict(opening)
    for t in txns:
        balances[t.account_id] = balances.get(t.account_id, Decimal(0)) + (
            t.amount if t.kind == "deposit" else -t.amount)
    return balances


def expected_balance_low_crossings(txns: Iterable[Txn], opening: Mapping[int, Decimal], *,
                                   threshold: Decimal = Decimal("100.00")) -> Dict[int, int]:
    """account -> how many postings took its balance from at least `threshold` to below it."""
    balances = dict(opening)
    crossings: Dict[int, int] = defaultdict(int)
    for t in txns:
        before = balances.get(t.account_id, Decimal(0))
        after = before + (t.amount if t.kind == "deposit" else -t.amount)
        balances[t.account_id] = after
        if before >= threshold > after:
            crossings[t.account_id] += 1
    return dict(crossings)


def alert_from_view(row: Mapping[str, Any]) -> ExpectedAlert:
    """An alert as /alerts/{id} serves it, in the oracle's terms (exact values, not text)."""
    return ExpectedAlert(
        alert_id=row["alert_id"], rule=row["rule"], account_id=row["account_id"],
        trigger_txn_id=row["trigger_txn_id"], count=row["count"], total=Decimal(row["total"]),
        window_start=datetime.fromisoformat(row["window_start"]),
        window_end=datetime.fromisoformat(row["window_end"]), txn_ids=tuple(sorted(row["txn_ids"])),
    )


def alert_from_event(payload: Any) -> ExpectedAlert:
    """An alert as the WithdrawalAlert event on the topic carries it."""
    return ExpectedAlert(
        alert_id=payload.alert_id, rule=payload.rule, account_id=payload.account_id,
        trigger_txn_id=payload.trigger_txn_id, count=payload.count, total=Decimal(payload.total),
        window_start=payload.window_start, window_end=payload.window_end,
        txn_ids=tuple(sorted(payload.txn_ids)),
    )
