"""relay_account_positions: tell the customer overview how far each accounts partition has been applied."""

from __future__ import annotations

from typing import Dict

from app import app
from projections.customers import position_marker
from topics import ACCOUNT_CHANGES, CUSTOMER_ACCOUNT_UPDATES

from .customers import customer_account_updates

__all__ = ["relay_account_positions"]


@app.task
async def relay_account_positions() -> None:
    """Each time an accounts partition held here reaches a newer position (engine/positions.py), sends a
    position marker to every partition of <app>-customer-account-updates. The updates its changes caused
    were sent before it through the same producer, so each partition has them before the marker; the
    customer partition has reached a position once markers from every accounts partition say so."""
    positions = app.source_positions
    sent: Dict[int, int] = {}
    while True:
        await positions.next_change(timeout_s=1.0)
        for partition, position in sorted(positions.reached_in(ACCOUNT_CHANGES.name).items()):
            if sent.get(partition, -1) >= position.lsn:
                continue
            marker = position_marker(source_partition=partition, lsn=position.lsn, ts_ms=position.ts_ms)
            for target in range(CUSTOMER_ACCOUNT_UPDATES.partitions):
                await customer_account_updates.send(key=None, value=marker, partition=target)
            sent[partition] = position.lsn
