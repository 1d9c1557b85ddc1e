"""One account's rules as one step over a state value: the window rules, the sequence rules and output rate
limiting, in the transactions agent's order, for whoever keeps rule state apart from the live tables (a
backtest in memory, the shadow rules in a table of their own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Mapping, Tuple

from .rulebook import RuleBook, limited
from .sequences import FollowedByState, Txn, fresh_state, step
from .withdrawals import Alert, History, Withdrawal, evaluate_withdrawal

__all__ = ["AccountRules", "run_rules"]


@dataclass(frozen=True)
class AccountRules:
    """One account's state under one rule book."""

    history: History = History()
    #: Rule id -> the sequence rule's state; a rule missing here starts fresh.
    sequences: Mapping[str, Any] = field(default_factory=dict)
    #: Rule id -> the last alert output rate limiting let through (detection/rate_limit.py).
    limits: Mapping[str, Any] = field(default_factory=dict)


def run_rules(book: RuleBook, state: AccountRules, t: Txn, detected_at: datetime
              ) -> Tuple[AccountRules, List[Alert], Dict[int, Any]]:
    """The state after `t` (any transaction of the account), its alerts stamped with their rule's severity and
    version, and the source positions known of the transactions an alert can list (t's and those held)."""
    positions: Dict[int, Any] = {t.txn_id: t.source}
    alerts: List[Alert] = []
    history = state.history
    windows = book.windows
    if windows is not None and t.kind == "withdrawal" and t.amount >= windows.large:
        positions.update({w.txn_id: w.source for w in history if w.source is not None})
        history, found = evaluate_withdrawal(
            history, Withdrawal(t.txn_id, t.account_id, t.amount, t.created_at, source=t.source), windows, detected_at)
        alerts.extend(found)
    sequences = state.sequences
    if book.sequences:
        current = {rule.rule: sequences.get(rule.rule) or fresh_state(rule) for rule in book.sequences}
        positions.update({m.a.txn_id: m.a.source for s in current.values() if isinstance(s, FollowedByState)
                          for m in s.open if m.a.source is not None})
        sequences, found, _ = step(current, t, book.sequences, detected_at)
        alerts.extend(found)
    limits: Mapping[str, Any] = state.limits
    if alerts:
        limits, alerts = limited(limits, alerts, book)
    return AccountRules(history, sequences, limits), [book.stamped(a) for a in alerts], positions
