"""The withdrawal rules: a time-based sliding window and a count window over large withdrawals.

`rapid-large-withdrawals` (Esper's win:time): on each withdrawal w with amount >= LARGE, S is the
account's large withdrawals seen so far with created_at in (w.created_at - WINDOW, w.created_at];
alert when |S| >= COUNT.
`large-withdrawal-burst` (Esper's win:length): on each large withdrawal w, L is the account's last
LENGTH large withdrawals in arrival order, w included; alert when sum(L) >= BURST_TOTAL.

Both read one per-account history of large withdrawals in arrival order. Evaluating the same
withdrawal again (a redelivery) neither adds it twice nor changes the verdict, and alert ids are
deterministic, so replays are harmless. A redelivered withdrawal that the history has pruned, or
whose judging context it has pruned, is known by its age and position and changes nothing: a
replay sends the first verdict again or nothing, never another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, List, Optional, Sequence, Tuple

__all__ = ["RuleSettings", "Withdrawal", "Alert", "History", "evaluate_withdrawal", "RAPID", "BURST"]

RAPID = "rapid-large-withdrawals"
BURST = "large-withdrawal-burst"


@dataclass(frozen=True)
class RuleSettings:
    large: Decimal = Decimal("200.00")
    window: timedelta = timedelta(minutes=10)
    count: int = 3
    length: int = 5
    burst_total: Decimal = Decimal("5000.00")
    #: How far behind the newest created_at a withdrawal may arrive and still be judged exactly:
    #: history older than newest - WINDOW - LATENESS is pruned. Commit order differs from
    #: created_at order by the length of the ledger's transactions, far less than this.
    lateness: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class Withdrawal:
    txn_id: int
    account_id: int
    amount: Decimal
    created_at: datetime
    #: Where the withdrawal's change came from (opaque to the rules, kept in the history so an
    #: alert can name the source of each member); not part of its identity.
    source: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule: str
    account_id: int
    trigger_txn_id: int
    count: int
    total: Decimal
    window_start: datetime
    window_end: datetime
    txn_ids: Tuple[int, ...]
    detected_at: datetime


#: Large withdrawals of one account in arrival order, oldest first.
History = Tuple[Withdrawal, ...]


def evaluate_withdrawal(history: History, w: Withdrawal, settings: RuleSettings,
                        detected_at: datetime) -> Tuple[History, List[Alert]]:
    """The account's history after `w`, and the alerts `w` triggers."""
    if w.amount < settings.large:
        return history, []
    position = _position_of(history, w.txn_id)
    if position is None:
        if _beyond_horizon(history, w, settings):
            # Not held, yet as old as what pruning drops: most likely a redelivery (a replay after a
            # crash, or Debezium re-sending after a restart) of a withdrawal judged and pruned long
            # ago. Appending it would place it behind newer withdrawals, judge it against them
            # (alerts that never were) and skew the next LENGTH burst verdicts. A genuinely new one
            # this late is past the lateness allowance, which the rules cannot judge exactly anyway.
            return history, []
        history = history + (w,)
        position = len(history) - 1
    elif not _context_intact(history, position, w, settings):
        # A redelivery of a withdrawal judged when it first arrived, but part of what it was judged
        # against has been pruned since: judging it again would send a different verdict under the
        # same alert id. Its alerts went out the first time; say nothing now.
        return history, []
    seen = history[: position + 1]  # "seen so far": a redelivered w is judged as it was first
    alerts = [a for a in (_rapid(seen, w, settings, detected_at), _burst(seen, w, settings, detected_at)) if a]
    return _pruned(history, settings), alerts


def _rapid(seen: Sequence[Withdrawal], w: Withdrawal, settings: RuleSettings, detected_at: datetime) -> Optional[Alert]:
    start = w.created_at - settings.window
    in_window = [x for x in seen if start < x.created_at <= w.created_at]
    if len(in_window) < settings.count:
        return None
    return _alert(RAPID, w, in_window, start, w.created_at, detected_at)


def _burst(seen: Sequence[Withdrawal], w: Withdrawal, settings: RuleSettings, detected_at: datetime) -> Optional[Alert]:
    last = list(seen[-settings.length:])
    if sum((x.amount for x in last), Decimal(0)) < settings.burst_total:
        return None
    return _alert(BURST, w, last, min(x.created_at for x in last), max(x.created_at for x in last), detected_at)


def _alert(rule: str, w: Withdrawal, members: Sequence[Withdrawal], start: datetime, end: datetime,
           detected_at: datetime) -> Alert:
    return Alert(
        alert_id=f"{rule}:{w.txn_id}",
        rule=rule,
        account_id=w.account_id,
        trigger_txn_id=w.txn_id,
        count=len(members),
        total=sum((x.amount for x in members), Decimal(0)),
        window_start=start,
        window_end=end,
        txn_ids=tuple(sorted(x.txn_id for x in members)),
        detected_at=detected_at,
    )


def _position_of(history: History, txn_id: int) -> Optional[int]:
    for index in range(len(history) - 1, -1, -1):
        if history[index].txn_id == txn_id:
            return index
    return None


def _horizon(history: History, settings: RuleSettings) -> datetime:
    return max(x.created_at for x in history) - settings.window - settings.lateness


def _beyond_horizon(history: History, w: Withdrawal, settings: RuleSettings) -> bool:
    """True when `w` may have been pruned from `history`: only a history pruned down to at least
    LENGTH entries has dropped anything, and only withdrawals at or before the horizon."""
    return len(history) >= settings.length and w.created_at <= _horizon(history, settings)


def _context_intact(history: History, position: int, w: Withdrawal, settings: RuleSettings) -> bool:
    """True when everything `w` (held at `position`) was first judged against is still held.

    A history shorter than LENGTH was never pruned. Otherwise pruning took only withdrawals at or
    before the horizon, oldest first (arrival order follows created_at up to the lateness): w's
    LENGTH-1 predecessors are held when it has that many before it, and its time window is
    whole when the window starts at or after the horizon.
    """
    if len(history) < settings.length:
        return True
    return position >= settings.length - 1 and w.created_at - settings.window >= _horizon(history, settings)


def _pruned(history: History, settings: RuleSettings) -> History:
    """Keep what a future withdrawal can still need: the last LENGTH, and the recent ones."""
    if len(history) <= settings.length:
        return history
    horizon = _horizon(history, settings)
    keep_from = len(history) - settings.length
    return tuple(x for i, x in enumerate(history) if i >= keep_from or x.created_at > horizon)
