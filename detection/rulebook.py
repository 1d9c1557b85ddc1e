"""The catalogue made runnable: each rule's kind function with its parameters, severity and version stamping,
output rate limiting, and the start check of a changed catalogue against the state it will read."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from .catalog import RUNNABLE_KINDS, Catalog, CatalogError, RuleSpec, format_duration
from .rate_limit import first_every
from .sequences import Absence, FollowedBy
from .withdrawals import Alert, RuleSettings

__all__ = ["RuleBook", "rule_book", "check_change", "manifest_of", "fingerprint", "limited", "windows_tag"]

Sequence_ = Union[FollowedBy, Absence]


@dataclass(frozen=True)
class RuleBook:
    """What the transactions agent runs: the withdrawal history's two rules and the sequence rules."""

    specs: Mapping[str, RuleSpec]
    #: The time window and count window rules (detection/withdrawals.py); None when neither is declared.
    windows: Optional[RuleSettings]
    sequences: Tuple[Sequence_, ...]

    def stamped(self, alert: Alert) -> Alert:
        """The alert with its rule's severity and version."""
        spec = self.specs[alert.rule]
        return replace(alert, severity=spec.severity, rule_version=spec.version)

    def version(self, rule_id: str) -> int:
        return self.specs[rule_id].version


def rule_book(catalog: Catalog, lateness: timedelta) -> RuleBook:
    """The catalogue's rules, ready to run; CatalogError for a kind this worker does not run yet."""
    for spec in catalog.rules:
        if spec.kind not in RUNNABLE_KINDS:
            raise CatalogError(f"{catalog.source}: rule {spec.id} is of kind {spec.kind}, which this worker does not "
                               f"evaluate yet; remove the rule or run a worker that does.")
    windows = None
    if catalog.of_kind("time-window") or catalog.of_kind("count-window"):
        windows = catalog.withdrawal_settings(lateness)
    sequences: List[Sequence_] = []
    for spec in catalog.rules:
        p = spec.parameters
        if spec.kind == "followed-by":
            sequences.append(FollowedBy(spec.id, spec.filter.kind, spec.filter.min_amount, p["then"], p["within"],
                                        p["share"], lateness))
        elif spec.kind == "absence":
            sequences.append(Absence(spec.id, spec.filter.kind, spec.filter.min_amount, p["silence"]))
    return RuleBook({spec.id: spec for spec in catalog.rules}, windows, tuple(sequences))


def windows_tag(book: RuleBook, *, first: bool = False) -> str:
    """Names the versions the withdrawal history is built by (`first`: by their version 1, as a history
    without a tag was); a history with another tag starts fresh."""
    if book.windows is None:
        return ""
    return ",".join(f"{rule}@{1 if first else book.version(rule)}"
                    for rule in (book.windows.rapid_rule, book.windows.burst_rule) if rule is not None)


def limited(limits: Optional[Mapping[str, Any]], alerts: List[Alert], book: RuleBook
            ) -> Tuple[Dict[str, Any], List[Alert]]:
    """Output rate limiting (`output first every`) per rule of one account: the limits after, the alerts that go."""
    state = dict(limits or {})
    passed = []
    for alert in alerts:
        every = book.specs[alert.rule].first_every
        goes, last = first_every(state.get(alert.rule), alert.alert_id, alert.window_end, every)
        if every is not None:
            state[alert.rule] = last
        if goes:
            passed.append(alert)
    return state, passed


#: Per kind, the parameters that say how much history its state keeps; the window kinds' history holds
#: only what their filter admitted, so a changed min_amount needs a fresh start too.
_HISTORY = {"time-window": ("window",), "count-window": ("length",), "followed-by": ("within",)}
_FILTERED_HISTORY = ("time-window", "count-window")


def manifest_of(catalog: Catalog) -> Dict[str, Any]:
    """What the state of each rule depends on, as recorded next to the worker's state (JSON)."""
    return {spec.id: {"version": spec.version, "kind": spec.kind, "min_amount": str(spec.filter.min_amount),
                      **{name: _plain(spec.parameters[name]) for name in _HISTORY.get(spec.kind, ())}}
            for spec in catalog.rules}


def fingerprint(catalog: Catalog) -> str:
    """A short name for what the rules' state depends on (manifest_of): state built under another starts fresh."""
    text = json.dumps(manifest_of(catalog), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_change(before: Mapping[str, Any], catalog: Catalog) -> None:
    """Refuse a catalogue whose rule needs more history than the state built under `before` holds.

    A rule whose version was raised (or that is new) starts fresh: nothing to check.
    """
    for spec in catalog.rules:
        old = before.get(spec.id)
        if not old or old.get("version") != spec.version or old.get("kind") != spec.kind:
            continue
        fresh = f"raise its version to {spec.version + 1} to start it fresh"
        for name in _HISTORY.get(spec.kind, ()):
            had, wants = old.get(name), _plain(spec.parameters[name])
            if had is not None and wants > had:
                raise CatalogError(
                    f"{catalog.source}: rule {spec.id}: parameters.{name} grew from {_shown(name, had)} to "
                    f"{_shown(name, wants)}, more history than its state holds; keep it at {_shown(name, had)} "
                    f"or less, or {fresh}.")
        had_amount = old.get("min_amount")
        if spec.kind in _FILTERED_HISTORY and had_amount is not None and spec.filter.min_amount != Decimal(had_amount):
            raise CatalogError(
                f"{catalog.source}: rule {spec.id}: filter.min_amount changed from {had_amount} to "
                f"{spec.filter.min_amount}, and its state holds the withdrawals the old filter admitted; keep "
                f"{had_amount}, or {fresh}.")


def _plain(value: Any) -> Any:
    return int(value.total_seconds()) if isinstance(value, timedelta) else value


def _shown(name: str, value: Any) -> str:
    return str(value) if name == "length" else format_duration(timedelta(seconds=value))
