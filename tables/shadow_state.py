"""shadow_rule_state_by_account: account id -> the shadow rules' state, apart from the live rules' tables, so
that a shadow run never changes what the live rules see or send."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from app import app
from detection.account_rules import AccountRules
from detection.rulebook import RuleBook
from detection.sequences import FollowedBy, FollowedByState
from detection.withdrawals import RuleSettings
from topics import PARTITIONS

from .rule_state import history_from_rows, history_to_rows
from .sequence_state import absence_from_row, absence_to_row, followed_by_from_row, followed_by_to_row

__all__ = ["shadow_rule_state_by_account", "shadow_state_from_row", "shadow_state_to_row"]

shadow_rule_state_by_account = app.Table(
    "shadow_rule_state_by_account",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Account id -> {catalog: the shadow rules' fingerprint (another one starts fresh), history: the "
         "withdrawal history rows, sequences: {rule id: its state}, limit: {rule id: the last alert let through}}.",
)


def shadow_state_from_row(account_id: int, row: Optional[Mapping[str, Any]], book: RuleBook,
                          fingerprint: str) -> AccountRules:
    """The state in `row`; a fresh one when there is none or other shadow rules built it."""
    if not row or row.get("catalog") != fingerprint:
        return AccountRules()
    length = book.windows.length if book.windows is not None else RuleSettings.length
    stored = row.get("sequences") or {}
    sequences: Dict[str, Any] = {}
    for rule in book.sequences:
        version = book.version(rule.rule)
        sequences[rule.rule] = (followed_by_from_row(account_id, stored.get(rule.rule), rule.kind, rule.then, version)
                                if isinstance(rule, FollowedBy) else absence_from_row(stored.get(rule.rule), version))
    return AccountRules(history_from_rows(account_id, row.get("history"), length=length), sequences,
                        dict(row.get("limit") or {}))


def shadow_state_to_row(state: AccountRules, book: RuleBook, fingerprint: str) -> Dict[str, Any]:
    sequences = {}
    for rule_id, rule_state in state.sequences.items():
        version = book.version(rule_id)
        sequences[rule_id] = (followed_by_to_row(rule_state, version) if isinstance(rule_state, FollowedByState)
                              else absence_to_row(rule_state, version))
    return {"catalog": fingerprint, "history": history_to_rows(state.history), "sequences": sequences,
            "limit": dict(state.limits)}
