"""sequence_state_by_account: account id -> the followed-by and absence rules' state and the output rate limits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, Mapping, Optional, Sequence

from app import app
from detection.sequences import AbsenceState, FollowedBy, FollowedByState, OpenMatch, Txn, absence, follow
from topics import PARTITIONS

__all__ = ["sequence_state_by_account", "followed_by_from_row", "followed_by_to_row", "absence_from_row",
           "absence_to_row", "advance"]

sequence_state_by_account = app.Table(
    "sequence_state_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> {rules: {rule id: its state, with `v` the rule version it was built by}, "
         "limit: {rule id: [window_end, alert id] of the last alert output rate limiting let through}} "
         "(detection/sequences.py, detection/rate_limit.py).",
)


def followed_by_to_row(state: FollowedByState, version: int) -> Dict[str, Any]:
    return {
        "v": version, "seen": state.seen, "newest": _iso(state.newest), "dropped_at": _iso(state.dropped_at),
        "recent": [_txn_row(t) for t in state.recent],
        "open": [[_txn_row(m.a, source=True), str(m.total), m.count, [_txn_row(t) for t in m.members]]
                 for m in state.open],
    }


def followed_by_from_row(account_id: int, row: Optional[Mapping[str, Any]], kind: str, then: str,
                         version: int) -> FollowedByState:
    """The state in `row`; a fresh one when there is none or it was built by another version of the rule."""
    if not row or row.get("v") != version:
        return FollowedByState()
    return FollowedByState(
        seen=row["seen"], newest=_time(row["newest"]), dropped_at=_time(row["dropped_at"]),
        recent=tuple(_txn(account_id, then, r) for r in row["recent"]),
        open=tuple(OpenMatch(_txn(account_id, kind, a), tuple(_txn(account_id, then, r) for r in members),
                             Decimal(total), count)
                   for a, total, count, members in row["open"]),
    )


def absence_to_row(state: AbsenceState, version: int) -> Dict[str, Any]:
    return {"v": version, "seen": state.seen, "latest": _iso(state.latest)}


def absence_from_row(row: Optional[Mapping[str, Any]], version: int) -> AbsenceState:
    if not row or row.get("v") != version:
        return AbsenceState()
    return AbsenceState(row["seen"], _time(row["latest"]))


def _txn_row(t: Txn, *, source: bool = False) -> list:
    # The kind is the rule's (a's or THEN's), not stored; a's source position names it in the alert.
    row = [t.txn_id, str(t.amount), t.created_at.isoformat()]
    return row + [t.source] if source and t.source is not None else row


def _txn(account_id: int, kind: str, row: Sequence) -> Txn:
    return Txn(int(row[0]), account_id, kind, Decimal(row[1]), datetime.fromisoformat(row[2]),
               source=row[3] if len(row) > 3 else None)


def _iso(value: Optional[datetime]) -> Optional[str]:
    return None if value is None else value.isoformat()


def _time(value: Optional[str]) -> Optional[datetime]:
    return None if value is None else datetime.fromisoformat(value)


def advance(row: Optional[Mapping[str, Any]], t: Txn, sequences: Sequence[Any], versions: Mapping[str, int],
            detected_at: datetime) -> tuple:
    """The account's row after `t` went through every followed-by and absence rule, and their alerts."""
    states = dict((row or {}).get("rules", {}))
    alerts: list = []
    for rule in sequences:
        version = versions[rule.rule]
        if isinstance(rule, FollowedBy):
            state = followed_by_from_row(t.account_id, states.get(rule.rule), rule.kind, rule.then, version)
            after, found = follow(state, t, rule, detected_at)
            if after != state or rule.rule not in states:
                states[rule.rule] = followed_by_to_row(after, version)
        else:
            absent = absence_from_row(states.get(rule.rule), version)
            after_absence, found = absence(absent, t, rule, detected_at)
            if after_absence != absent or rule.rule not in states:
                states[rule.rule] = absence_to_row(after_absence, version)
        alerts.extend(found)
    # Rules no longer in the catalogue leave their state behind: dropped, so the row holds only what runs.
    states = {name: value for name, value in states.items() if name in versions}
    return {**(row or {}), "rules": states}, alerts
