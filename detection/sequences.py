"""The followed-by and absence kinds: one account's transactions in id order in, state and alerts out.

Both judge each account's transactions in transaction id order, the order the change stream delivers and
a snapshot reads (`ORDER BY id`); how the accounts interleave changes nothing, since the state is per
account. The state remembers the highest id it judged (`seen`): a transaction at or below it is a
redelivery (a replay after a crash, a snapshot taken again) and changes nothing, so a replay never sends
a second or different verdict. One arriving below `seen` that is not a redelivery (a writer assigning ids
out of lock order) is taken for one too, as turnover does, and gets no verdict.

followed-by (Esper `every a=A -> B where timer:within(W)`, with B summed): for each transaction a the
filter admits, let M_k be the transactions of kind THEN other than a, with id <= k and created_at in
[a.created_at, a.created_at + WITHIN]. The first k (in id order, k >= a's id) where sum(M_k) >= SHARE *
a.amount raises one alert for a, id `<rule>:<a's id>`, listing a and M_k; never a second one for a.
State: the THEN transactions of the last LATENESS (by created_at; for an a that commits after THEN
transactions created after it) and the open a's, each with its members so far, dropped once its window
ends more than LATENESS before the newest created_at. An a created at or before the latest created_at
dropped from the recent THEN transactions gets no verdict (its members may be gone).

absence (Esper `not A -> (timer:interval(SILENCE) and B)` on one account): a transaction w the filter
admits alerts when the account's previous transaction (any kind and amount: the latest created_at among
its transactions with a lower id) is at least SILENCE older than w. An account's first transaction never
alerts. State: the latest created_at and the highest id seen.

Both are bounded whatever the account's volume: see MAX_OPEN, MAX_MEMBERS and MAX_RECENT.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .withdrawals import Alert

__all__ = ["Txn", "FollowedBy", "FollowedByState", "OpenMatch", "Absence", "AbsenceState", "follow", "absence",
           "fresh_state", "step", "MAX_OPEN", "MAX_MEMBERS", "MAX_RECENT"]

#: Open a's held per account (the oldest is dropped without a verdict beyond it), members listed per
#: match (the sum counts every member; the alert lists the first ones), THEN transactions held for a's
#: committed after them. Together they keep an account's state row far below 64 KB.
MAX_OPEN = 8
MAX_MEMBERS = 50
MAX_RECENT = 64


@dataclass(frozen=True)
class Txn:
    txn_id: int
    account_id: int
    kind: str
    amount: Decimal
    created_at: datetime
    #: Its change's position (agents/provenance.py), opaque here; not part of its identity.
    source: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class FollowedBy:
    rule: str
    kind: str  # a's kind, or "any"
    min_amount: Decimal
    then: str
    within: timedelta
    share: Decimal
    lateness: timedelta = timedelta(minutes=5)

    def starts(self, t: Txn) -> bool:
        return (self.kind == "any" or t.kind == self.kind) and t.amount >= self.min_amount

    def in_window(self, a: Txn, t: Txn) -> bool:
        return a.created_at <= t.created_at <= a.created_at + self.within


@dataclass(frozen=True)
class OpenMatch:
    a: Txn
    #: Its members so far in id order (at most MAX_MEMBERS listed) and the sum of all of them.
    members: Tuple[Txn, ...] = ()
    total: Decimal = Decimal(0)
    count: int = 0


@dataclass(frozen=True)
class FollowedByState:
    seen: Optional[int] = None
    newest: Optional[datetime] = None
    recent: Tuple[Txn, ...] = ()
    #: The latest created_at dropped from `recent` (None: nothing was).
    dropped_at: Optional[datetime] = None
    open: Tuple[OpenMatch, ...] = ()


@dataclass(frozen=True)
class Absence:
    rule: str
    kind: str
    min_amount: Decimal
    silence: timedelta

    def admits(self, t: Txn) -> bool:
        return (self.kind == "any" or t.kind == self.kind) and t.amount >= self.min_amount


@dataclass(frozen=True)
class AbsenceState:
    seen: Optional[int] = None
    latest: Optional[datetime] = None


def follow(state: FollowedByState, t: Txn, rule: FollowedBy, detected_at: datetime
           ) -> Tuple[FollowedByState, List[Alert]]:
    """The state after `t` (any transaction of the account) and the alert it completes, if any."""
    if state.seen is not None and t.txn_id <= state.seen:
        return state, []
    starts, then = rule.starts(t), t.kind == rule.then
    if not (starts or then):
        return FollowedByState(t.txn_id, state.newest, state.recent, state.dropped_at, state.open), []
    newest = t.created_at if state.newest is None else max(state.newest, t.created_at)
    alerts: List[Alert] = []
    still_open: List[OpenMatch] = []
    for match in state.open:
        if then and rule.in_window(match.a, t):
            match = _with_member(match, t, rule)
            if match.total >= rule.share * match.a.amount:
                alerts.append(_alert(rule, match, t, detected_at))
                continue
        still_open.append(match)
    recent = state.recent + ((t,) if then else ())
    if starts and (state.dropped_at is None or t.created_at > state.dropped_at):
        # Its members so far: THEN transactions with lower ids created in its window (commit order and
        # created_at order differ by the length of a transaction).
        match = OpenMatch(t)
        for earlier in state.recent:
            if earlier.txn_id != t.txn_id and rule.in_window(t, earlier):
                match = _with_member(match, earlier, rule)
        if match.count and match.total >= rule.share * t.amount:
            alerts.append(_alert(rule, match, t, detected_at))
        else:
            still_open.append(match)
    horizon = newest - rule.lateness
    kept_open = tuple(m for m in still_open if m.a.created_at + rule.within >= horizon)[-MAX_OPEN:]
    kept = [x for x in recent if x.created_at >= horizon]
    dropped = [x.created_at for x in recent if x.created_at < horizon] + [x.created_at for x in kept[:-MAX_RECENT]]
    dropped_at = max([*dropped, *([state.dropped_at] if state.dropped_at else [])], default=None)
    return FollowedByState(t.txn_id, newest, tuple(kept[-MAX_RECENT:]), dropped_at, kept_open), alerts


def _with_member(match: OpenMatch, t: Txn, rule: FollowedBy) -> OpenMatch:
    # Members beyond the window (kept from a longer WITHIN before a restart) drop out of the sum.
    members = tuple(m for m in match.members if rule.in_window(match.a, m))
    if len(members) != len(match.members):
        match = OpenMatch(match.a, members, sum((m.amount for m in members), Decimal(0)), len(members))
    listed = match.members + (t,) if len(match.members) < MAX_MEMBERS else match.members
    return replace(match, members=listed, total=match.total + t.amount, count=match.count + 1)


def _alert(rule: FollowedBy, match: OpenMatch, trigger: Txn, detected_at: datetime) -> Alert:
    a = match.a
    return Alert(
        alert_id=f"{rule.rule}:{a.txn_id}", rule=rule.rule, account_id=a.account_id, trigger_txn_id=trigger.txn_id,
        count=match.count, total=match.total, window_start=a.created_at, window_end=a.created_at + rule.within,
        txn_ids=tuple(sorted([a.txn_id, *(m.txn_id for m in match.members)])), detected_at=detected_at,
    )


def absence(state: AbsenceState, t: Txn, rule: Absence, detected_at: datetime) -> Tuple[AbsenceState, List[Alert]]:
    """The state after `t` (any transaction of the account) and the alert it raises, if any."""
    if state.seen is not None and t.txn_id <= state.seen:
        return state, []
    alerts = []
    if state.latest is not None and rule.admits(t) and t.created_at - state.latest >= rule.silence:
        alerts.append(Alert(
            alert_id=f"{rule.rule}:{t.txn_id}", rule=rule.rule, account_id=t.account_id, trigger_txn_id=t.txn_id,
            count=1, total=t.amount, window_start=state.latest, window_end=t.created_at, txn_ids=(t.txn_id,),
            detected_at=detected_at,
        ))
    latest = t.created_at if state.latest is None else max(state.latest, t.created_at)
    return AbsenceState(t.txn_id, latest), alerts


def fresh_state(rule: Union[FollowedBy, Absence]) -> Union[FollowedByState, AbsenceState]:
    """The state of `rule` for an account it has seen nothing of."""
    return FollowedByState() if isinstance(rule, FollowedBy) else AbsenceState()


def step(states: Mapping[str, Any], t: Txn, rules: Sequence[Union[FollowedBy, Absence]], detected_at: datetime
         ) -> Tuple[Dict[str, Any], List[Alert], bool]:
    """Every rule's state after `t` (any transaction of one account; `states` by rule id, one for each rule),
    their alerts, and whether any state changed."""
    after: Dict[str, Any] = dict(states)
    alerts: List[Alert] = []
    changed = False
    for rule in rules:
        state = states[rule.rule]
        new_state: Any
        if isinstance(rule, FollowedBy):
            new_state, found = follow(state, t, rule, detected_at)
        else:
            new_state, found = absence(state, t, rule, detected_at)
        if new_state is not state:
            after[rule.rule], changed = new_state, True
        alerts.extend(found)
    return after, alerts, changed
