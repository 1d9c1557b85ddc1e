"""Derived events out: alerts and BalanceLow, wrapped in the envelope and Avro-encoded."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from app import app
from cdc.changes import Change
from schemas.codec.envelope import encode_envelope, wrap
from detection.withdrawals import Alert
from schemas.records import BalanceLowV1, WithdrawalAlertV1
from topics import BALANCE_LOW, WITHDRAWAL_ALERTS, faust_topic

__all__ = ["publish_alert", "publish_balance_low", "event_id_for", "SOURCE"]

SOURCE = "ledgerstream"
#: Event ids are derived from what the event is about, so a replay re-sends the same id.
_EVENT_IDS = uuid.UUID("6f1d3c1e-2f7a-4a8e-9a55-1d2b3c4d5e6f")

withdrawal_alerts = faust_topic(app, WITHDRAWAL_ALERTS)
balance_low = faust_topic(app, BALANCE_LOW)


def event_id_for(name: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_IDS, name)


def _correlation(change: Change) -> str:
    # Everything derived from one database transaction shares its correlation id.
    return f"ledger-tx-{change.source.tx_id}" if change.source.tx_id is not None else None


async def publish_alert(alert: Alert, cause: Change) -> None:
    payload = WithdrawalAlertV1(
        alert_id=alert.alert_id, rule=alert.rule, account_id=alert.account_id, trigger_txn_id=alert.trigger_txn_id,
        count=alert.count, total=str(alert.total), window_start=alert.window_start, window_end=alert.window_end,
        txn_ids=list(alert.txn_ids), detected_at=alert.detected_at,
    )
    envelope = wrap(payload, "WithdrawalAlert", 1, source=SOURCE, partition_key=str(alert.account_id),
                    event_id=event_id_for(alert.alert_id), correlation_id=_correlation(cause),
                    occurred_at=alert.window_end)
    await withdrawal_alerts.send(key=str(alert.account_id).encode(), value=encode_envelope(envelope))


async def publish_balance_low(account: Mapping[str, Any], threshold: Decimal, cause: Change) -> None:
    crossed_at = datetime.fromisoformat(account["updated_at"])
    payload = BalanceLowV1(
        account_id=account["account_id"], customer_id=account["customer_id"], balance=account["balance"],
        threshold=str(threshold), currency=account["currency"], crossed_at=crossed_at,
    )
    name = f"balance-low:{account['account_id']}:{cause.source.lsn}"
    envelope = wrap(payload, "BalanceLow", 1, source=SOURCE, partition_key=str(account["account_id"]),
                    event_id=event_id_for(name), correlation_id=_correlation(cause), occurred_at=crossed_at)
    await balance_low.send(key=str(account["account_id"]).encode(), value=encode_envelope(envelope))
