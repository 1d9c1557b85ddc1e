"""The withdrawal rules: a time-based sliding window and a count window over large withdrawals, in id order.

The order is the transaction id, not arrival. A posting locks the account row before its transaction row
gets an id, so per account the id order is the commit order: the order the change stream delivers, and
the order a snapshot delivers when it reads `ORDER BY id` (ops/connectors/ledger-postgres.yaml). The
predecessors of a withdrawal w are the account's large withdrawals with a lower transaction id.

`rapid-large-withdrawals` (Esper's win:time): on each withdrawal w with amount >= LARGE, S is w and its
predecessors with created_at in (w.created_at - WINDOW, w.created_at]; alert when |S| >= COUNT.
`large-withdrawal-burst` (Esper's win:length): on each large withdrawal w, L is w and its last LENGTH-1
predecessors by transaction id; alert when sum(L) >= BURST_TOTAL.
Ids are unique, so there are no ties in the order; equal created_at values do not make a withdrawal with
a higher id a predecessor.

State: the account's large withdrawals held, sorted by id, and the highest id pruned. Pruning drops the
lowest ids first, and only while more than LENGTH are held and the lowest is at or before the horizon (the
newest created_at - WINDOW - LATENESS). So whatever was pruned has an id up to the highest pruned, below
every held one, and a created_at at or before the horizon.

A withdrawal is judged once, when it first arrives, against the predecessors held then, and only when the
state vouches that they are all that have arrived: nothing was pruned, or at least LENGTH-1 predecessors
are held and its window starts at or after the horizon. Otherwise it gets no verdict (and is held, as a
predecessor of others). One with an id at or below the highest pruned is taken for a pruned one coming
back: no verdict, not held. Arrivals in id order per account are therefore judged exactly as the
definitions say.

A withdrawal arriving after one of its account with a higher id (a writer that assigns ids out of lock
order, or a snapshot in heap order) is judged exactly against the predecessors that have arrived, and
counts for every withdrawal judged after it; the ones with higher ids judged before it are not judged
again: their alerts stand (alerts are never retracted), and an alert the definitions give them only with
it included is not raised.

Redelivery: evaluating a withdrawal again neither adds it twice nor changes the history, and alert ids are
deterministic. A redelivered withdrawal is judged against what it was first judged against, which is
still held unless pruning took part of it since; then, or when a lower id arrived after it, or when it
may itself have been pruned, it says nothing. A replay sends the first verdict again or nothing, never
another one.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

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
    #: How far behind the newest created_at a withdrawal may be and still be judged: history older
    #: than newest - WINDOW - LATENESS is pruned. Commit order differs from created_at order by the
    #: length of the ledger's transactions, far less than this.
    lateness: timedelta = timedelta(minutes=5)
    #: The catalogue's ids of the time window and count window rules (detection/catalog.yaml); None: not declared.
    rapid_rule: Optional[str] = RAPID
    burst_rule: Optional[str] = BURST


@dataclass(frozen=True)
class Withdrawal:
    txn_id: int
    account_id: int
    amount: Decimal
    created_at: datetime
    #: Set on a held withdrawal when one with a lower id arrived after it was judged: its first verdict
    #: did not count that one, so a redelivery of it says nothing rather than something else.
    overtaken: bool = False
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
    #: Stamped from the catalogue by the agent: the rule's severity and version.
    severity: str = ""
    rule_version: int = 0


@dataclass(frozen=True)
class History:
    """One account's large withdrawals held by the rules, in transaction id order; iterating yields them."""

    held: Tuple[Withdrawal, ...] = ()
    #: The highest transaction id pruning has dropped; None while nothing was.
    pruned_through: Optional[int] = None

    def __iter__(self) -> Iterator[Withdrawal]:
        return iter(self.held)

    def __len__(self) -> int:
        return len(self.held)


def evaluate_withdrawal(history: Union[History, Sequence[Withdrawal]], w: Withdrawal, settings: RuleSettings,
                        detected_at: datetime) -> Tuple[History, List[Alert]]:
    """The account's history after `w`, and the alerts `w` triggers.

    A plain sequence of withdrawals (`()` for a new account) is a history nothing was pruned from.
    """
    if not isinstance(history, History):
        history = History(tuple(sorted(history, key=lambda x: x.txn_id)))
    if w.amount < settings.large:
        return history, []
    position = _position_of(history, w.txn_id)
    if position is None:
        if history.pruned_through is not None and w.txn_id <= history.pruned_through:
            # Not held, at or below an id pruning dropped: most likely a redelivery (a replay after a
            # crash, Debezium re-sending after a restart) of a withdrawal judged and pruned long ago.
            # Holding it again would mark the held ones overtaken; judging it would use a context
            # pruning has cut. A genuinely new one arriving after a higher id was pruned is past what
            # the rules can judge exactly: it is left out as well.
            return history, []
        judged = _context_known(history, w, settings)
        history, position = _held_with(history, replace(w, overtaken=False))
        if not judged:
            return _pruned(history, settings), []
    elif history.held[position].overtaken or not _context_known(history, w, settings):
        # A redelivery of a withdrawal whose first verdict is out of reach: a lower id arrived after
        # it, or pruning took part of its context since. Judging it again would send a different
        # verdict under the same alert id; its alerts, if any, went out the first time.
        return history, []
    upto = history.held[: position + 1]  # w and its predecessors, in id order
    w = history.held[position]
    alerts = [a for a in (_rapid(upto, w, settings, detected_at), _burst(upto, w, settings, detected_at)) if a]
    return _pruned(history, settings), alerts


def _rapid(upto: Sequence[Withdrawal], w: Withdrawal, settings: RuleSettings, detected_at: datetime) -> Optional[Alert]:
    if settings.rapid_rule is None:
        return None
    start = w.created_at - settings.window
    in_window = [x for x in upto if start < x.created_at <= w.created_at]
    if len(in_window) < settings.count:
        return None
    return _alert(settings.rapid_rule, w, in_window, start, w.created_at, detected_at)


def _burst(upto: Sequence[Withdrawal], w: Withdrawal, settings: RuleSettings, detected_at: datetime) -> Optional[Alert]:
    if settings.burst_rule is None:
        return None
    last = list(upto[-settings.length:])
    if sum((x.amount for x in last), Decimal(0)) < settings.burst_total:
        return None
    start, end = min(x.created_at for x in last), max(x.created_at for x in last)
    return _alert(settings.burst_rule, w, last, start, end, detected_at)


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


def _index_of_id(held: Tuple[Withdrawal, ...], txn_id: int) -> int:
    """Where `txn_id` is or would be in `held`: also how many held ids are below it."""
    return bisect_left(held, txn_id, key=lambda x: x.txn_id)


def _position_of(history: History, txn_id: int) -> Optional[int]:
    index = _index_of_id(history.held, txn_id)
    return index if index < len(history.held) and history.held[index].txn_id == txn_id else None


def _held_with(history: History, w: Withdrawal) -> Tuple[History, int]:
    """`history` holding `w` in id order, every held one with a higher id marked overtaken; w's position."""
    index = _index_of_id(history.held, w.txn_id)
    later = tuple(x if x.overtaken else replace(x, overtaken=True) for x in history.held[index:])
    return replace(history, held=history.held[:index] + (w,) + later), index


def _horizon(held: Sequence[Withdrawal], settings: RuleSettings) -> datetime:
    return max(x.created_at for x in held) - settings.window - settings.lateness


def _context_known(history: History, w: Withdrawal, settings: RuleSettings) -> bool:
    """True when every predecessor of `w` that reached the rules is held.

    Pruned withdrawals have ids below every held one and created_at at or before the horizon: with
    LENGTH-1 predecessors held, w's last LENGTH-1 are held; with its window starting at or after the
    horizon, every predecessor in its window is held.
    """
    if history.pruned_through is None:
        return True
    predecessors = _index_of_id(history.held, w.txn_id)
    return predecessors >= settings.length - 1 and w.created_at - settings.window >= _horizon(history.held, settings)


def _pruned(history: History, settings: RuleSettings) -> History:
    """Drop the lowest ids while more than LENGTH are held and the lowest is at or before the horizon."""
    held = history.held
    if len(held) <= settings.length:
        return history
    horizon = _horizon(held, settings)
    drop = 0
    while len(held) - drop > settings.length and held[drop].created_at <= horizon:
        drop += 1
    if not drop:
        return history
    return History(held[drop:], held[drop - 1].txn_id)  # ids only grow: the last dropped is the highest
