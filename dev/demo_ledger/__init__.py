"""Demo ledger: a traffic generator acting as the bank's core system, writing through the outbox."""

from dev.demo_ledger.postings import (
    Account,
    AccountNotOpen,
    deposit,
    freeze_account,
    open_account,
    open_customer,
    read_account,
    withdraw,
)

__all__ = [
    "Account",
    "AccountNotOpen",
    "open_customer",
    "open_account",
    "deposit",
    "withdraw",
    "freeze_account",
    "read_account",
]
