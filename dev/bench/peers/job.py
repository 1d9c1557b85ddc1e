"""The transactions job of agents/transactions.py, engine-free: the same pure functions, state behind two callables.

Per record: decode the Debezium change (cdc.decode), the transaction (projections/transactions.py),
turnover per day (projections/turnover.py), and for a large withdrawal the rules
(detection/withdrawals.py) on the account's history; each alert is stored with the account's alerts
(projections/alerts.py) and encoded as ledgerstream publishes it (WithdrawalAlert v1, Avro in the
event envelope). State is JSON-able values per account, "turnover_days", "turnover:<day>" (one
per retained day), "history" and "alerts", as ledgerstream's tables hold them. A peer supplies
get/set over its own state store.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, List, Optional, Sequence

from cdc.changes import Change, DecodeError, Tombstone
from cdc.decode import decode_change
from detection.withdrawals import Alert, History, Withdrawal, evaluate_withdrawal
from projections.alerts import add_alert, alert_row
from projections.transactions import WITHDRAWAL, transaction_from_change
from projections.turnover import count_in_day, day_of, retain_day
from schemas.codec.envelope import encode_envelope, wrap
from schemas.records import WithdrawalAlertV1
from settings import load_settings

__all__ = ["TransactionsJob"]

# As agents/publishing.py (which builds the Faust app on import, so it is not imported here).
_SOURCE = "ledgerstream"
_EVENT_IDS = uuid.UUID("6f1d3c1e-2f7a-4a8e-9a55-1d2b3c4d5e6f")


def _history_to_rows(history: History) -> List[list]:  # as tables/rule_state.py
    return [[w.txn_id, str(w.amount), w.created_at.isoformat()] for w in history]


def _history_from_rows(account_id: int, rows: Optional[Sequence[Sequence]]) -> History:  # as tables/rule_state.py
    return tuple(Withdrawal(int(txn_id), account_id, Decimal(amount), datetime.fromisoformat(created_at))
                 for txn_id, amount, created_at in rows or ())


def encode_alert(alert: Alert, cause: Change) -> bytes:
    payload = WithdrawalAlertV1(
        alert_id=alert.alert_id, rule=alert.rule, account_id=alert.account_id, trigger_txn_id=alert.trigger_txn_id,
        count=alert.count, total=str(alert.total), window_start=alert.window_start, window_end=alert.window_end,
        txn_ids=list(alert.txn_ids), detected_at=alert.detected_at,
    )
    correlation = f"ledger-tx-{cause.source.tx_id}" if cause.source.tx_id is not None else None
    envelope = wrap(payload, "WithdrawalAlert", 1, source=_SOURCE, partition_key=str(alert.account_id),
                    event_id=uuid.uuid5(_EVENT_IDS, alert.alert_id), correlation_id=correlation,
                    occurred_at=alert.window_end)
    return encode_envelope(envelope)


class TransactionsJob:
    def __init__(self) -> None:
        settings = load_settings()
        self.rules = settings.rule_settings()
        self.retention_days = settings.turnover_retention_days
        self.alerts_kept = settings.alerts_kept_per_account
        self.undecodable = 0

    def process(self, key: Optional[bytes], value: Optional[bytes], get: Callable[[str], Any],
                set_: Callable[[str, Any], None]) -> List[bytes]:
        """The encoded alerts this record raises; state updated through get/set_."""
        try:
            change = decode_change(key, value)
            if isinstance(change, Tombstone):
                return []
            txn = transaction_from_change(change)
            if change.key != txn.account_id:
                raise DecodeError(f"record key {change.key!r} is not the transaction's account {txn.account_id}")
        except DecodeError:
            self.undecodable += 1  # ledgerstream dead-letters these; the benchmark has none
            return []
        account = txn.account_id
        day = day_of(txn.created_at).isoformat()
        index, dropped, counted = retain_day(get("turnover_days"), day, retention_days=self.retention_days)
        if index is not None:
            set_("turnover_days", index)
        for old_day in dropped:
            set_(f"turnover:{old_day}", None)
        if counted:
            totals = count_in_day(get(f"turnover:{day}"), txn)
            if totals is not None:
                set_(f"turnover:{day}", totals)
        if txn.kind != WITHDRAWAL or txn.amount < self.rules.large:
            return []
        history = _history_from_rows(account, get("history"))
        new_history, alerts = evaluate_withdrawal(history, txn.as_withdrawal(), self.rules, datetime.now(timezone.utc))
        if new_history != history:
            set_("history", _history_to_rows(new_history))
        out: List[bytes] = []
        if alerts:
            rows = get("alerts")
            for alert in alerts:
                rows = add_alert(rows, alert_row(alert), keep=self.alerts_kept)
                out.append(encode_alert(alert, change))
            set_("alerts", rows)
        return out
