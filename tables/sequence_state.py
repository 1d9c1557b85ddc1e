"""sequence_state_by_account: account id -> the followed-by and absence rules' state and the output rate limits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, Mapping, MutableMapping, Optional, Sequence, Union

from app import app
from detection.sequences import Absence, AbsenceState, FollowedBy, FollowedByState, OpenMatch, Txn, step
from topics import PARTITIONS

__all__ = ["sequence_state_by_account", "followed_by_from_row", "followed_by_to_row", "absence_from_row",
           "absence_to_row", "advance", "SequenceRows"]

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


class SequenceRows:
    """One batch's view of sequence_state_by_account: each account's row parsed at its first transaction in
    the batch and written back once, at the end (a flush never runs in the middle of a batch)."""

    def __init__(self, rows: MutableMapping[int, Any], sequences: Sequence[Union[FollowedBy, Absence]],
                 versions: Mapping[str, int]) -> None:
        self.rows = rows
        self.sequences = sequences
        self.versions = versions
        #: account -> [its row as read, {rule: state}, its rate limits, changed?]
        self._accounts: Dict[int, list] = {}

    def _entry(self, account_id: int) -> list:
        entry = self._accounts.get(account_id)
        if entry is None:
            row = self.rows.get(account_id)
            stored = (row or {}).get("rules", {})
            states: Dict[str, Any] = {}
            for rule in self.sequences:
                version = self.versions[rule.rule]
                if isinstance(rule, FollowedBy):
                    states[rule.rule] = followed_by_from_row(account_id, stored.get(rule.rule), rule.kind, rule.then,
                                                             version)
                else:
                    states[rule.rule] = absence_from_row(stored.get(rule.rule), version)
            # Rules no longer in the catalogue leave their state behind: dropped at the next write.
            changed = row is not None and set(stored) - set(states)
            entry = self._accounts[account_id] = [row, states, dict((row or {}).get("limit") or {}), bool(changed)]
        return entry

    def step(self, t: Txn, detected_at: datetime) -> list:
        """Every followed-by and absence rule's alerts for `t` (any transaction of its account)."""
        entry = self._entry(t.account_id)
        entry[1], alerts, changed = step(entry[1], t, self.sequences, detected_at)
        entry[3] = entry[3] or changed
        return alerts

    def open_sources(self, account_id: int) -> Dict[int, Any]:
        """The source positions of the followed-by rules' open a's (one of them may complete now)."""
        return {m.a.txn_id: m.a.source for state in self._entry(account_id)[1].values()
                if isinstance(state, FollowedByState) for m in state.open if m.a.source is not None}

    def limits(self, account_id: int) -> Dict[str, Any]:
        return self._entry(account_id)[2]

    def set_limits(self, account_id: int, limits: Dict[str, Any]) -> None:
        entry = self._entry(account_id)
        if limits != entry[2]:
            entry[2], entry[3] = limits, True

    def write_back(self) -> None:
        """Write every changed account's row (its other fields kept)."""
        for account_id, (row, states, limits, changed) in self._accounts.items():
            if not changed:
                continue
            rules = {}
            for rule in self.sequences:
                version = self.versions[rule.rule]
                state = states[rule.rule]
                rules[rule.rule] = (followed_by_to_row(state, version) if isinstance(state, FollowedByState)
                                    else absence_to_row(state, version))
            new_row = {**(row or {}), "rules": rules}
            if limits:
                new_row["limit"] = limits
            self.rows[account_id] = new_row
        self._accounts.clear()


def advance(row: Optional[Mapping[str, Any]], t: Txn, sequences: Sequence[Union[FollowedBy, Absence]],
            versions: Mapping[str, int], detected_at: datetime) -> tuple:
    """The account's row after `t` went through every followed-by and absence rule (`row` itself when
    nothing changed), and their alerts: one transaction's SequenceRows."""
    rows: Dict[int, Any] = {} if row is None else {t.account_id: row}
    batch = SequenceRows(rows, sequences, versions)
    alerts = batch.step(t, detected_at)
    batch.write_back()
    return rows.get(t.account_id, row), alerts
