"""Runs the traffic plan against the database one step at a time, keeping the counts."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from psycopg import Connection

from dev.demo_ledger.money import ZERO
from dev.demo_ledger.postings import (
    AccountNotOpen,
    deposit,
    freeze_account,
    open_account,
    open_customer,
    read_account,
    withdraw,
)
from dev.demo_ledger.traffic import (
    Burst,
    Deposit,
    Freeze,
    Posting,
    Profile,
    Reactivation,
    Withdraw,
    next_action,
    plan_customer,
)

__all__ = ["Stats", "Generator"]

# Profile is frozen, so one shared default is safe.
_DEFAULT_PROFILE = Profile()


@dataclass
class Stats:
    customers: int = 0
    accounts: int = 0
    postings: int = 0
    deposits: int = 0
    withdrawals: int = 0
    refused: int = 0
    bursts: int = 0
    frozen: int = 0
    reactivations: int = 0

    def line(self) -> str:
        return (
            f"{self.postings} postings ({self.deposits} deposits, {self.withdrawals} withdrawals),"
            f" {self.refused} refused, {self.bursts} bursts, {self.frozen} frozen, {self.reactivations} reactivated"
        )


class Generator:
    """The demo bank: opens customers, then each step() makes one posting attempt (or a freeze)."""

    def __init__(self, conn: Connection, rng: random.Random, profile: Profile = _DEFAULT_PROFILE):
        self.conn = conn
        self.rng = rng
        self.profile = profile
        self.stats = Stats()
        # Open accounts this generator opened, with the balance the database last reported.
        self.balances: dict[int, Decimal] = {}
        # The rest of a burst under way; it is posted before anything new is chosen.
        self.pending: deque[Posting] = deque()

    @property
    def in_burst(self) -> bool:
        """True while a burst's withdrawals are queued (they go out back to back)."""
        return any(isinstance(p, Withdraw) and p.burst for p in self.pending)

    def open_customer(self) -> int:
        plan = plan_customer(self.rng, self.stats.customers + 1, self.profile)
        customer_id = open_customer(self.conn, plan.name, plan.email)
        self.stats.customers += 1
        for currency in plan.currencies:
            self.balances[open_account(self.conn, customer_id, currency)] = ZERO
            self.stats.accounts += 1
        return customer_id

    def step(self) -> bool:
        """Do one thing; True if it committed a posting."""
        if not self.pending:
            if not self.balances:
                # Every account we had was frozen (by us or someone else): bring in a new customer.
                self.open_customer()
            action = next_action(self.rng, self.balances, self.profile)
            if isinstance(action, Freeze):
                self._freeze(action.account_id)
                return False
            if isinstance(action, Burst):
                self.stats.bursts += 1
                self.pending.extend(action.postings())
            elif isinstance(action, Reactivation):
                self.stats.reactivations += 1
                self.pending.extend(action.postings(self._new_account()))
            else:
                self.pending.append(action)
        return self._post(self.pending.popleft())

    def _post(self, posting: Posting) -> bool:
        if isinstance(posting, Deposit):
            try:
                balance = deposit(self.conn, posting.account_id, posting.amount, days_back=posting.days_back)
            except AccountNotOpen:
                self.stats.refused += 1
                self._forget(posting.account_id)
                return False
            self.stats.deposits += 1
        else:
            balance = withdraw(self.conn, posting.account_id, posting.amount)
            if balance is None:
                self.stats.refused += 1
                self._resync(posting.account_id)
                return False
            self.stats.withdrawals += 1
        self.balances[posting.account_id] = balance
        self.stats.postings += 1
        return True

    def _new_account(self) -> int:
        """The first account of a new customer."""
        before = set(self.balances)
        self.open_customer()
        return min(set(self.balances) - before)

    def _freeze(self, account_id: int) -> None:
        if freeze_account(self.conn, account_id):
            self.stats.frozen += 1
        self._forget(account_id)

    def _resync(self, account_id: int) -> None:
        # A refusal means our view was stale or the customer overreached: ask the database.
        account = read_account(self.conn, account_id)
        if account is None or account.status != "open":
            self._forget(account_id)
        else:
            self.balances[account_id] = account.balance

    def _forget(self, account_id: int) -> None:
        self.balances.pop(account_id, None)
        self.pending = deque(p for p in self.pending if p.account_id != account_id)
