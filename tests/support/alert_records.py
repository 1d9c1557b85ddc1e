"""A WithdrawalAlert record as the worker writes it to alerts.withdrawals, for feeding the live feed directly."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Tuple

from agents.publishing import SOURCE, event_id_for
from schemas.codec.envelope import encode_envelope, wrap
from schemas.records import WithdrawalAlertV1

__all__ = ["alert_record"]


def alert_record(account_id: int) -> Tuple[str, bytes]:
    """(alert id, encoded envelope) of a new rapid-large-withdrawals alert of `account_id`."""
    now = datetime.now(timezone.utc)
    alert_id = f"rapid-large-withdrawals:{uuid.uuid4().int % 10**12}"
    payload = WithdrawalAlertV1(alert_id=alert_id, rule="rapid-large-withdrawals", account_id=account_id,
                                trigger_txn_id=1, count=3, total="900.00", window_start=now - timedelta(minutes=5),
                                window_end=now, txn_ids=[1, 2, 3], detected_at=now)
    envelope = wrap(payload, "WithdrawalAlert", 1, source=SOURCE, partition_key=str(account_id),
                    event_id=event_id_for(alert_id), occurred_at=now)
    return alert_id, encode_envelope(envelope)
