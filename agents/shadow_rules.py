"""The shadow rules beside the live ones: the same transactions, state of their own, alerts to alerts.shadow.

A shadow rule (detection/catalog.yaml, `mode: shadow`) is a trial: it never writes the live rules' tables,
the alerts view or alerts.withdrawals. `python -m ops.shadow` compares its alerts with the live ones.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cdc.changes import Change
from detection.account_rules import run_rules
from detection.sequences import Txn
from projections.transactions import LedgerTransaction
from tables.shadow_state import shadow_state_from_row, shadow_state_to_row

from .provenance import as_source_position
from .publishing import publish_alert
from .rule_book import ShadowRules

__all__ = ["run_shadow_rules"]


async def run_shadow_rules(shadow: ShadowRules, rows: Any, txn: LedgerTransaction, change: Change, record: Any,
                           source: Any) -> None:
    """Run the shadow rules on `txn` (`rows`: the batch's shadow_rule_state_by_account) and send their alerts."""
    account = txn.account_id
    state = shadow_state_from_row(account, rows.get(account), shadow.book, shadow.fingerprint)
    event = Txn(txn.txn_id, account, txn.kind, txn.amount, txn.created_at, source=source)
    after, alerts, positions = run_rules(shadow.book, state, event, datetime.now(timezone.utc))
    if after != state:
        rows[account] = shadow_state_to_row(after, shadow.book, shadow.fingerprint)
    for alert in alerts:
        sources = [as_source_position(positions[t]) for t in alert.txn_ids if positions.get(t) is not None]
        await publish_alert(alert, change, sources=sources, cause_record=record, shadow=True)
