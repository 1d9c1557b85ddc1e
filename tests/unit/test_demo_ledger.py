"""Unit tests of the demo ledger's traffic choices and CLI errors (no database)."""

import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dev.demo_ledger.money import ZERO, cents, money_text, to_money
from dev.demo_ledger.traffic import (
    Burst,
    Deposit,
    Freeze,
    Profile,
    Reactivation,
    Withdraw,
    next_action,
    plan_burst,
    plan_customer,
    small_amount,
)

REPO = Path(__file__).resolve().parents[2]
LARGE = Decimal("200.00")  # the pipeline's "large withdrawal" threshold
seeds = st.integers(min_value=0, max_value=2**32 - 1)
DEFAULT_PROFILE = Profile()  # frozen, so one shared default is safe


def two_decimals(amount: Decimal) -> bool:
    return isinstance(amount, Decimal) and amount.as_tuple().exponent == -2


def simulate(seed: int, steps: int, profile: Profile = DEFAULT_PROFILE, accounts: int = 5):
    """Drive next_action against an in-memory ledger that refuses overdrafts like the SQL does."""
    rng = random.Random(seed)
    balances = {account_id: ZERO for account_id in range(1, accounts + 1)}
    trace = []
    for _ in range(steps):
        action = next_action(rng, balances, profile)
        trace.append(action)
        postings = action.postings() if isinstance(action, Burst) else ()
        if isinstance(action, Freeze):
            del balances[action.account_id]
        elif isinstance(action, (Deposit, Withdraw)):
            postings = (action,)
        for p in postings:
            if isinstance(p, Deposit):
                balances[p.account_id] += p.amount
            elif balances[p.account_id] >= p.amount:
                balances[p.account_id] -= p.amount
            else:
                trace.append(("refused", p))
        assert all(b >= ZERO for b in balances.values())
    return trace, balances


@given(seeds)
def test_small_amounts_are_exact_cents_within_range(seed):
    rng = random.Random(seed)
    for _ in range(50):
        amount = small_amount(rng)
        assert two_decimals(amount)
        assert Decimal("5.00") <= amount <= Decimal("180.00")


@given(seeds, st.integers(min_value=0, max_value=500_000).map(cents))
def test_bursts_are_large_withdrawals_funded_up_front(seed, balance):
    burst = plan_burst(random.Random(seed), 7, balance)
    assert 3 <= len(burst.withdrawals) <= 6
    assert all(LARGE <= a <= Decimal("2000.00") and two_decimals(a) for a in burst.withdrawals)
    assert two_decimals(burst.funding)
    # Funded so that none of the withdrawals is refused; no deposit when none is needed.
    assert balance + burst.funding >= sum(burst.withdrawals)
    if balance >= sum(burst.withdrawals):
        assert burst.funding == ZERO and all(isinstance(p, Withdraw) for p in burst.postings())
    else:
        assert burst.funding > ZERO and burst.postings()[0] == Deposit(7, burst.funding, burst=True)
    assert [p.amount for p in burst.postings() if isinstance(p, Withdraw)] == list(burst.withdrawals)


@given(seeds)
@settings(max_examples=30)
def test_only_bursts_withdraw_large_amounts(seed):
    trace, _ = simulate(seed, 300, Profile(burst_probability=0.05))
    for action in trace:
        if isinstance(action, (Deposit, Withdraw)):
            assert two_decimals(action.amount) and action.amount < LARGE and not action.burst


def test_bursts_happen_at_the_configured_probability():
    trace, _ = simulate(1, 2000, Profile(burst_probability=0.05))
    bursts = sum(isinstance(a, Burst) for a in trace)
    assert 50 <= bursts <= 150
    never, _ = simulate(1, 2000, Profile(burst_probability=0.0))
    assert not any(isinstance(a, Burst) for a in never)


def test_same_seed_same_traffic_and_other_seed_other_traffic():
    profile = Profile(burst_probability=0.05, freeze_probability=0.01)
    assert simulate(42, 500, profile) == simulate(42, 500, profile)
    assert simulate(42, 500, profile)[0] != simulate(43, 500, profile)[0]
    assert [plan_customer(random.Random(9), n) for n in range(20)] == [
        plan_customer(random.Random(9), n) for n in range(20)
    ]


def test_withdrawals_stay_affordable_unless_the_customer_overreaches():
    trace, _ = simulate(5, 3000, Profile(overdraft_attempt_probability=0.0, burst_probability=0.02))
    assert not any(isinstance(t, tuple) and t[0] == "refused" for t in trace)
    assert sum(isinstance(a, Withdraw) for a in trace) > 500  # deposits keep accounts funded
    reckless, _ = simulate(5, 3000, Profile(overdraft_attempt_probability=0.5))
    assert any(isinstance(t, tuple) and t[0] == "refused" for t in reckless)


def test_freezes_are_off_by_default_and_never_take_the_last_account():
    assert not any(isinstance(a, Freeze) for a in simulate(3, 2000)[0])
    trace, balances = simulate(3, 500, Profile(freeze_probability=0.5), accounts=4)
    assert sum(isinstance(a, Freeze) for a in trace) == 3
    assert len(balances) == 1


def test_customers_get_one_to_three_accounts_in_the_given_currencies():
    rng = random.Random(0)
    plans = [plan_customer(rng, n, Profile(currencies=("EUR", "GBP"))) for n in range(200)]
    assert {len(p.currencies) for p in plans} == {1, 2, 3}
    assert {c for p in plans for c in p.currencies} == {"EUR", "GBP"}
    assert len({p.email for p in plans}) == 200 and all(p.name for p in plans)


def test_money_is_exact():
    assert to_money("250") == Decimal("250.00") and money_text(Decimal("250")) == "250.00"
    assert money_text(cents(1)) == "0.01" and money_text(Decimal("1E+3")) == "1000.00"
    with pytest.raises(TypeError):
        to_money(0.1)
    with pytest.raises(ValueError):
        to_money("1.005")
    with pytest.raises(ValueError):
        to_money("NaN")


@pytest.mark.parametrize(
    "changes",
    [
        {"small_max": Decimal("200.00")},  # normal traffic would look like fraud
        {"burst_probability": 1.5},
        {"currencies": ("euro",)},
        {"burst_withdrawals": (0, 2)},
    ],
)
def test_profile_refuses_nonsense(changes):
    with pytest.raises(ValueError):
        Profile(**changes)


def run_cli(*args, database_url="postgresql://postgres@127.0.0.1:1/ledger"):
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "dev.demo_ledger", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("args", [["--rate", "0"], ["--count", "-3"], ["--burst-probability", "2"], ["--bogus"]])
def test_bad_option_is_one_line_and_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--help" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_sentence_and_exit_1():
    # Port 1 on localhost: nothing listens there, so the connection is refused at once.
    result = run_cli("--count", "1")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0] and "DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_the_traffic_fires_deposit_then_drain_and_dormant_reactivation_now_and_then():
    # deposit-then-drain: a burst funded with 1000.00 or more withdraws at least 90% of it within seconds
    # (the funding is the shortfall rounded up to 100.00). dormant-reactivation: an account brought over
    # with an opening deposit 30 or more days back, then a large withdrawal.
    trace, _ = simulate(11, 6000)
    drains = [a for a in trace if isinstance(a, Burst) and a.funding >= Decimal("1000.00")]
    assert drains and all(sum(a.withdrawals) >= Decimal("0.90") * a.funding for a in drains)
    reactivations = [a for a in trace if isinstance(a, Reactivation)]
    assert any(a.days_back >= 30 for a in reactivations) and any(a.days_back < 30 for a in reactivations)
    for a in reactivations:
        opening, withdrawal = a.postings(7)
        assert opening == Deposit(7, a.opening, days_back=a.days_back) and withdrawal == Withdraw(7, a.withdrawal)
        assert LARGE <= a.withdrawal <= a.opening and two_decimals(a.opening)
