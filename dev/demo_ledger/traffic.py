"""What the bank does next: a pure choice of customers, postings and bursts driven by a random.Random."""

# Nothing here touches the database: the generator feeds in the balances it knows and
# executes what comes out, so the same seed and the same outcomes give the same traffic.

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Union

from dev.demo_ledger.money import ZERO, cents, to_money

__all__ = [
    "Profile",
    "CustomerPlan",
    "Deposit",
    "Withdraw",
    "Freeze",
    "Burst",
    "Reactivation",
    "Action",
    "Posting",
    "plan_customer",
    "small_amount",
    "plan_burst",
    "plan_reactivation",
    "next_action",
]

_FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dara", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jana",
    "Karim", "Lea", "Marek", "Nina", "Omar", "Petra", "Quinn", "Rosa", "Sven", "Tara",
)
_LAST_NAMES = (
    "Almeida", "Berger", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat", "Ivanova", "Jansen",
    "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Peeters", "Rossi", "Silva", "Tanaka", "Weber",
)
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Profile:
    """The shape of the traffic. Probabilities are per step of the generator."""

    max_accounts_per_customer: int = 3
    currencies: tuple[str, ...] = ("EUR",)
    withdrawal_share: float = 0.45
    # Now and then a customer tries to spend more than they have, so refusals really happen.
    overdraft_attempt_probability: float = 0.02
    burst_probability: float = 0.01
    # Off by default: frozen accounts drop out of the traffic for good.
    freeze_probability: float = 0.0
    # A new account whose history comes over from another system: its opening deposit dated weeks
    # back, then a large withdrawal today (the dormant-reactivation rule fires on it).
    reactivation_probability: float = 0.003
    reactivation_days: tuple[int, int] = (25, 60)
    small_min: Decimal = Decimal("5.00")
    small_max: Decimal = Decimal("180.00")
    burst_min: Decimal = Decimal("200.00")
    burst_max: Decimal = Decimal("2000.00")
    burst_withdrawals: tuple[int, int] = (3, 6)

    def __post_init__(self) -> None:
        for name in ("withdrawal_share", "overdraft_attempt_probability", "burst_probability", "freeze_probability",
                     "reactivation_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
        if self.burst_probability + self.freeze_probability + self.reactivation_probability > 1.0:
            raise ValueError("burst_probability + freeze_probability + reactivation_probability must not exceed 1")
        first, last = self.reactivation_days
        if not 1 <= first <= last <= 3650:
            raise ValueError(f"reactivation_days must be (first, last) with 1 <= first <= last <= 3650, "
                             f"not {self.reactivation_days!r}")
        if self.max_accounts_per_customer < 1:
            raise ValueError("max_accounts_per_customer must be at least 1")
        if not self.currencies or not all(isinstance(c, str) and _CURRENCY.fullmatch(c) for c in self.currencies):
            raise ValueError(f"currencies must be three-letter ISO codes such as 'EUR', not {self.currencies!r}")
        amounts = [to_money(getattr(self, n)) for n in ("small_min", "small_max", "burst_min", "burst_max")]
        # Normal traffic must stay below the large-withdrawal threshold, so that only bursts
        # look like fraud to the pipeline.
        if not (ZERO < amounts[0] <= amounts[1] < amounts[2] <= amounts[3]):
            raise ValueError("amounts must satisfy 0 < small_min <= small_max < burst_min <= burst_max")
        low, high = self.burst_withdrawals
        if not 1 <= low <= high:
            raise ValueError(
                f"burst_withdrawals must be (low, high) with 1 <= low <= high, not {self.burst_withdrawals!r}"
            )


@dataclass(frozen=True)
class CustomerPlan:
    name: str
    email: str
    currencies: tuple[str, ...]  # one account per entry


@dataclass(frozen=True)
class Deposit:
    account_id: int
    amount: Decimal
    burst: bool = False  # the funding deposit that precedes a burst
    days_back: int = 0  # dated this many days before now (an opening deposit brought over)


@dataclass(frozen=True)
class Withdraw:
    account_id: int
    amount: Decimal
    burst: bool = False


@dataclass(frozen=True)
class Freeze:
    account_id: int


@dataclass(frozen=True)
class Burst:
    """Large withdrawals on one account in quick succession, funded first so none is refused."""

    account_id: int
    funding: Decimal  # ZERO when the balance already covers the burst
    withdrawals: tuple[Decimal, ...] = field(default=())

    def postings(self) -> tuple[Union[Deposit, Withdraw], ...]:
        funding = (Deposit(self.account_id, self.funding, burst=True),) if self.funding > ZERO else ()
        return funding + tuple(Withdraw(self.account_id, a, burst=True) for a in self.withdrawals)


@dataclass(frozen=True)
class Reactivation:
    """A new account (of a new customer) brought over with its history: an opening deposit dated
    `days_back` days ago, then `withdrawal` (large) today. The generator opens the account."""

    opening: Decimal
    withdrawal: Decimal
    days_back: int

    def postings(self, account_id: int) -> tuple[Deposit, Withdraw]:
        return (Deposit(account_id, self.opening, days_back=self.days_back), Withdraw(account_id, self.withdrawal))


Posting = Union[Deposit, Withdraw]
Action = Union[Deposit, Withdraw, Freeze, Burst, Reactivation]


def plan_customer(rng: random.Random, serial: int, profile: Profile = Profile()) -> CustomerPlan:
    """A new customer with 1..max_accounts_per_customer accounts; `serial` keeps emails distinct."""
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    n_accounts = rng.randint(1, profile.max_accounts_per_customer)
    currencies = tuple(rng.choice(profile.currencies) for _ in range(n_accounts))
    return CustomerPlan(f"{first} {last}", f"{first}.{last}.{serial}@example.com".lower(), currencies)


def _cents(amount: Decimal) -> int:
    return int(to_money(amount) * 100)


def small_amount(rng: random.Random, profile: Profile = Profile()) -> Decimal:
    """An everyday amount in [small_min, small_max], skewed towards the small end."""
    low, high = _cents(profile.small_min), _cents(profile.small_max)
    # Squaring a uniform draw makes coffees commoner than laptops; the float only picks
    # an integer number of cents, the money itself is built exactly from that integer.
    return cents(low + int((high - low + 1) * rng.random() ** 2))


def plan_burst(rng: random.Random, account_id: int, balance: Decimal, profile: Profile = Profile()) -> Burst:
    """A burst on `account_id`, with a funding deposit (rounded up to 100.00) if `balance` falls short."""
    n = rng.randint(*profile.burst_withdrawals)
    low, high = _cents(profile.burst_min), _cents(profile.burst_max)
    withdrawals = tuple(cents(rng.randint(low, high)) for _ in range(n))
    shortfall = _cents(sum(withdrawals, ZERO) - balance)
    funding = cents(-(-shortfall // 10000) * 10000) if shortfall > 0 else ZERO
    return Burst(account_id, funding, withdrawals)


def plan_reactivation(rng: random.Random, profile: Profile = Profile()) -> Reactivation:
    """An account brought over after `reactivation_days` of silence, then a large withdrawal it can afford."""
    withdrawal = cents(rng.randint(_cents(profile.burst_min), _cents(profile.burst_max)))
    opening = withdrawal + cents(rng.randint(0, 100000))
    return Reactivation(opening, withdrawal, rng.randint(*profile.reactivation_days))


def next_action(rng: random.Random, balances: Mapping[int, Decimal], profile: Profile = Profile()) -> Action:
    """The next thing to do, given the open accounts and their last known balances."""
    if not balances:
        raise ValueError("next_action needs at least one open account")
    # Sorted, so the choice depends on the seed and the accounts, not on dict insertion order.
    ids = sorted(balances)
    roll = rng.random()
    if roll < profile.freeze_probability:
        # Never freeze the last open account: the traffic would have nowhere to go.
        if len(ids) > 1:
            return Freeze(rng.choice(ids))
    elif roll < profile.freeze_probability + profile.burst_probability:
        account_id = rng.choice(ids)
        return plan_burst(rng, account_id, balances[account_id], profile)
    elif roll < profile.freeze_probability + profile.burst_probability + profile.reactivation_probability:
        return plan_reactivation(rng, profile)
    account_id = rng.choice(ids)
    amount = small_amount(rng, profile)
    wants_withdrawal = rng.random() < profile.withdrawal_share
    # Drawn every time, so the random stream does not depend on which branch was taken.
    reckless = rng.random() < profile.overdraft_attempt_probability
    if wants_withdrawal and (amount <= balances[account_id] or reckless):
        return Withdraw(account_id, amount)
    # A customer who cannot afford a withdrawal gets paid instead: deposits keep accounts funded.
    return Deposit(account_id, amount)
