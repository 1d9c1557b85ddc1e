"""A backtest: the transactions topic's history through a rule book (replay.py), its alerts set against
the live ones on alerts.withdrawals for the same transactions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, Optional, Set

from cdc.changes import DecodeError, Tombstone
from cdc.decode import decode_change
from detection.rulebook import RuleBook
from ops.alert_diff import AlertDiff, read_alerts
from ops.topic_reader import TopicReader
from projections.transactions import keyed_transaction
from topics import TRANSACTION_CHANGES, WITHDRAWAL_ALERTS

from .replay import Replay

__all__ = ["Result", "backtest", "Progress"]

#: Told after each batch: (records read, records in all, seconds since the start).
Progress = Callable[[int, int, float], None]


@dataclass
class Result:
    rules: Dict[str, AlertDiff]
    records: int = 0          # records read off the transactions topic
    transactions: int = 0     # of them, transactions replayed (at or after `since`)
    undecodable: int = 0      # records skipped: no transaction could be read (the worker dead-letters them)
    live_skipped: int = 0      # records on alerts.withdrawals that are no alert (read_alerts)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Records read and replayed per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


async def backtest(bootstrap: str, book: RuleBook, *, since: Optional[datetime] = None,
                   progress: Optional[Progress] = None, timeout: float = 30.0) -> Result:
    """Replay the transactions topic, from its start to where it ended when the backtest began, through `book`.

    `since`: only transactions created at or after it are replayed (their rules start with empty state
    there, so an alert whose window reaches back past `since` can be missing). Live alerts count when
    their rule is in `book` and their trigger transaction was replayed.
    """
    result = Result({rule_id: AlertDiff(rule_id, spec.version) for rule_id, spec in book.specs.items()})
    replay = Replay(book)
    replayed: Set[int] = set()
    # detected_at is when an alert was raised; a backtest's alerts are compared by id, never by it.
    now = datetime.now(timezone.utc)
    started = time.monotonic()
    reader = TopicReader(bootstrap, TRANSACTION_CHANGES.name, timeout=timeout)
    async for batch in reader.batches():
        for record in batch:
            result.records += 1
            try:
                change = decode_change(record.key, record.value)
                if isinstance(change, Tombstone):
                    continue
                txn = keyed_transaction(change)
            except DecodeError:
                result.undecodable += 1
                continue
            if since is not None and txn.created_at < since:
                continue
            replayed.add(txn.txn_id)
            for alert in replay.feed(txn, now):
                result.rules[alert.rule].tried.add(alert.alert_id)
        if progress is not None:
            progress(reader.done, reader.total, time.monotonic() - started)
    result.transactions = replay.transactions
    result.seconds = time.monotonic() - started
    await _live_alerts(bootstrap, result, replayed, timeout)
    return result


async def _live_alerts(bootstrap: str, result: Result, replayed: Set[int], timeout: float) -> None:
    payloads, result.live_skipped = await read_alerts(bootstrap, WITHDRAWAL_ALERTS.name, timeout=timeout)
    for payload in payloads:
        rule = result.rules.get(payload.rule)
        if rule is not None and payload.trigger_txn_id in replayed:
            rule.live.add(payload.alert_id)
