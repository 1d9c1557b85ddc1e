"""Alerts as stored and served: JSON rows, unique by alert_id, oldest first, newest N kept."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from detection.withdrawals import Alert

__all__ = ["alert_row", "add_alert"]


def alert_row(alert: Alert, *, sources: Sequence[Dict[str, Any]] = ()) -> Dict[str, Any]:
    """`sources`: where each withdrawal behind the alert came from (topic, partition, offset, LSN, txid)."""
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "account_id": alert.account_id,
        "trigger_txn_id": alert.trigger_txn_id,
        "count": alert.count,
        "total": str(alert.total),
        "window_start": alert.window_start.isoformat(),
        "window_end": alert.window_end.isoformat(),
        "txn_ids": list(alert.txn_ids),
        "detected_at": alert.detected_at.isoformat(),
        "sources": [dict(source) for source in sources],
        "severity": alert.severity,
        "rule_version": alert.rule_version,
    }


def add_alert(rows: Optional[Sequence[Dict[str, Any]]], row: Dict[str, Any], *, keep: int) -> List[Dict[str, Any]]:
    """`rows` with `row` added unless an alert with its id is there (a replay), oldest first."""
    rows = list(rows or [])
    if any(existing["alert_id"] == row["alert_id"] for existing in rows):
        return rows
    rows.append(row)
    rows.sort(key=lambda r: (r["window_end"], r["trigger_txn_id"], r["alert_id"]))
    return rows[-keep:]
