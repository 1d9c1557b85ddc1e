"""A catalogue's rules run over one stream of transactions in memory, as the transactions agent runs them.

The same pure functions decide (detection/withdrawals.py, detection/sequences.py, output rate limiting),
in the same order, on each account's transactions in the order they come; only the state is a dict in
this process instead of the worker's tables, so nothing of the live pipeline is read or written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List

from detection.rulebook import RuleBook, limited
from detection.sequences import Txn, fresh_state, step
from detection.withdrawals import Alert, History, evaluate_withdrawal
from projections.transactions import WITHDRAWAL, LedgerTransaction

__all__ = ["Replay"]


class Replay:
    """Feed it transactions (any accounts, each account's in stream order); it returns their alerts."""

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self._histories: Dict[int, History] = {}
        self._sequences: Dict[int, Dict[str, Any]] = {}
        self._limits: Dict[int, Dict[str, Any]] = {}
        self.transactions = 0

    def feed(self, txn: LedgerTransaction, detected_at: datetime) -> List[Alert]:
        """The alerts `txn` raises, stamped with their rule's severity and version, after rate limiting."""
        self.transactions += 1
        account = txn.account_id
        alerts: List[Alert] = []
        windows = self.book.windows
        if windows is not None and txn.kind == WITHDRAWAL and txn.amount >= windows.large:
            history, found = evaluate_withdrawal(self._histories.get(account, History()), txn.as_withdrawal(),
                                                 windows, detected_at)
            self._histories[account] = history
            alerts.extend(found)
        if self.book.sequences:
            states = self._sequences.get(account)
            if states is None:
                states = {rule.rule: fresh_state(rule) for rule in self.book.sequences}
            event = Txn(txn.txn_id, account, txn.kind, txn.amount, txn.created_at)
            self._sequences[account], found, _ = step(states, event, self.book.sequences, detected_at)
            alerts.extend(found)
        if alerts:
            self._limits[account], alerts = limited(self._limits.get(account), alerts, self.book)
        return [self.book.stamped(alert) for alert in alerts]
