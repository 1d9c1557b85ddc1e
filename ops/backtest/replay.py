"""A catalogue's rules run over one stream of transactions in memory, as the transactions agent runs them.

The same pure functions decide (detection/account_rules.py: the window rules, the sequence rules, output
rate limiting), in the same order, on each account's transactions in the order they come; only the state
is a dict in this process instead of the worker's tables, so nothing of the live pipeline is read or written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Dict, List

from detection.account_rules import AccountRules, run_rules
from detection.rulebook import RuleBook
from detection.sequences import Txn
from detection.withdrawals import Alert
from projections.transactions import LedgerTransaction

__all__ = ["Replay"]


class Replay:
    """Feed it transactions (any accounts, each account's in stream order); it returns their alerts."""

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self._accounts: Dict[int, AccountRules] = {}
        self.transactions = 0

    def feed(self, txn: LedgerTransaction, detected_at: datetime) -> List[Alert]:
        """The alerts `txn` raises, stamped with their rule's severity and version, after rate limiting."""
        self.transactions += 1
        account = txn.account_id
        event = Txn(txn.txn_id, account, txn.kind, txn.amount, txn.created_at)
        self._accounts[account], alerts, _ = run_rules(self.book, self._accounts.get(account, AccountRules()), event,
                                                       detected_at)
        return alerts
