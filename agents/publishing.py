"""Derived events out: alerts and BalanceLow, wrapped in the envelope and Avro-encoded.

Each names the source position of the changes behind it (`sources`, WithdrawalAlert v2 and
BalanceLow v2) and carries a W3C `traceparent` header (agents/provenance.py); an alert names its
rule's severity and version (WithdrawalAlert v3).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, Optional, Sequence

from app import app
from cdc.changes import Change
from detection.withdrawals import Alert
from schemas.codec.envelope import encode_envelope, wrap
from schemas.records import BalanceLowV2, SourcePosition, WithdrawalAlertV3
from topics import BALANCE_LOW, SHADOW_ALERTS, WITHDRAWAL_ALERTS, faust_topic

from .provenance import trace_headers

__all__ = ["publish_alert", "publish_balance_low", "event_id_for", "SOURCE"]

SOURCE = "ledgerstream"
#: Event ids are derived from what the event is about, so a replay re-sends the same id.
_EVENT_IDS = uuid.UUID("6f1d3c1e-2f7a-4a8e-9a55-1d2b3c4d5e6f")

withdrawal_alerts = faust_topic(app, WITHDRAWAL_ALERTS)
shadow_alerts = faust_topic(app, SHADOW_ALERTS)
balance_low = faust_topic(app, BALANCE_LOW)


def event_id_for(name: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_IDS, name)


def _correlation(change: Change) -> str:
    # Everything derived from one database transaction shares its correlation id.
    return f"ledger-tx-{change.source.tx_id}" if change.source.tx_id is not None else None


async def publish_alert(alert: Alert, cause: Change, *, sources: Sequence[SourcePosition] = (),
                        cause_record: Optional[Any] = None, shadow: bool = False) -> None:
    """Send the alert; `sources` are the positions of its withdrawals, `cause_record` the trigger's record.

    A shadow rule's alert (`shadow`) goes to alerts.shadow, with an event id of its own.
    """
    payload = WithdrawalAlertV3(
        alert_id=alert.alert_id, rule=alert.rule, account_id=alert.account_id, trigger_txn_id=alert.trigger_txn_id,
        count=alert.count, total=str(alert.total), window_start=alert.window_start, window_end=alert.window_end,
        txn_ids=list(alert.txn_ids), detected_at=alert.detected_at, sources=list(sources),
        severity=alert.severity, rule_version=alert.rule_version,
    )
    event_id = event_id_for(f"shadow:{alert.alert_id}" if shadow else alert.alert_id)
    envelope = wrap(payload, "WithdrawalAlert", 3, source=SOURCE, partition_key=str(alert.account_id),
                    event_id=event_id, correlation_id=_correlation(cause), occurred_at=alert.window_end)
    await _send(shadow_alerts if shadow else withdrawal_alerts, "WithdrawalAlert",
                key=str(alert.account_id).encode(), value=encode_envelope(envelope),
                headers=trace_headers(event_id=str(event_id), cause=cause, cause_record=cause_record))


async def publish_balance_low(account: Mapping[str, Any], threshold: Decimal, cause: Change, *,
                              source: Optional[SourcePosition] = None, cause_record: Optional[Any] = None) -> None:
    """Send BalanceLow; `source` is the position of the account change that crossed the threshold."""
    crossed_at = datetime.fromisoformat(account["updated_at"])
    payload = BalanceLowV2(
        account_id=account["account_id"], customer_id=account["customer_id"], balance=account["balance"],
        threshold=str(threshold), currency=account["currency"], crossed_at=crossed_at,
        sources=[source] if source is not None else [],
    )
    event_id = event_id_for(f"balance-low:{account['account_id']}:{cause.source.lsn}")
    envelope = wrap(payload, "BalanceLow", 2, source=SOURCE, partition_key=str(account["account_id"]),
                    event_id=event_id, correlation_id=_correlation(cause), occurred_at=crossed_at)
    await _send(balance_low, "BalanceLow", key=str(account["account_id"]).encode(), value=encode_envelope(envelope),
                headers=trace_headers(event_id=str(event_id), cause=cause, cause_record=cause_record))


async def _send(topic, event_type: str, *, key: bytes, value: bytes, headers) -> None:
    name = topic.get_topic_name()
    try:
        delivery = await topic.send(key=key, value=value, headers=headers)
    except Exception:
        app.metrics.event_send_failed(name, event_type)
        raise
    app.metrics.event_sent(name, event_type, delivery)
