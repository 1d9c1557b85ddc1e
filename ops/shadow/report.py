"""The shadow report: per shadow rule, its alerts on alerts.shadow against the live rule's on alerts.withdrawals
over one period of detection time (the alerts' detected_at)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional, Sequence

from detection.catalog import RuleSpec
from ops.alert_diff import AlertDiff, diffs_json, read_alerts
from topics import SHADOW_ALERTS, WITHDRAWAL_ALERTS

__all__ = ["ShadowReport", "shadow_report", "compare", "report_json"]


@dataclass
class ShadowReport:
    rules: Dict[str, AlertDiff]
    #: Per rule, where its period began: --since, else its shadow version's first alert (None: no alert yet).
    starts: Dict[str, Optional[datetime]] = field(default_factory=dict)
    until: Optional[datetime] = None
    skipped: int = 0  # records on the two topics that are no alert (read_alerts)


async def shadow_report(bootstrap: str, rules: Sequence[RuleSpec], *, since: Optional[datetime] = None,
                        until: Optional[datetime] = None, timeout: float = 30.0) -> ShadowReport:
    """Compare each shadow rule (a version marked `mode: shadow`) with the live alerts of the same rule id.

    The period runs from `since`, or else from the shadow version's first alert (live alerts from before
    the shadow ran would all look like differences), to `until` (the end of the topics when None).
    """
    shadow, bad_shadow = await read_alerts(bootstrap, SHADOW_ALERTS.name, timeout=timeout)
    live, bad_live = await read_alerts(bootstrap, WITHDRAWAL_ALERTS.name, timeout=timeout)
    report = compare(shadow, live, rules, since=since, until=until)
    report.skipped = bad_shadow + bad_live
    return report


def compare(shadow: Sequence[Any], live: Sequence[Any], rules: Sequence[RuleSpec], *,
            since: Optional[datetime] = None, until: Optional[datetime] = None) -> ShadowReport:
    """The report over alert payloads (WithdrawalAlert: rule, rule_version, alert_id, detected_at) of each side."""
    report = ShadowReport({}, until=until)
    for spec in rules:
        mine = [a for a in shadow if a.rule == spec.id and a.rule_version == spec.version]
        start = since if since is not None else min((a.detected_at for a in mine), default=None)
        diff = report.rules[spec.id] = AlertDiff(spec.id, spec.version)
        report.starts[spec.id] = start
        if start is None:
            continue  # no shadow alert yet and no --since: no period to compare over

        def in_period(alert: Any, start: datetime = start) -> bool:
            return alert.detected_at >= start and (until is None or alert.detected_at < until)

        diff.tried = {a.alert_id for a in mine if in_period(a)}
        diff.live = {a.alert_id for a in live if a.rule == spec.id and in_period(a)}
    return report


def report_json(report: ShadowReport) -> Dict[str, Any]:
    """The report as `--json` prints it and GET /rules/shadow answers it."""
    return {"rules": diffs_json(report.rules.values(), "shadow"),
            "since": {rule: None if start is None else start.isoformat() for rule, start in report.starts.items()},
            "until": None if report.until is None else report.until.isoformat(),
            "skipped": report.skipped}
