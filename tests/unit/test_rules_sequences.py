"""deposit-then-drain (followed-by) and dormant-reactivation (absence): every boundary by hand, then an
independent oracle (tests/support/oracle.py) on random scenarios, through the stored rows as the agent runs them."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Dict, List, Sequence

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from detection.catalog import read_catalog
from detection.rulebook import rule_book
from detection.sequences import MAX_MEMBERS, MAX_OPEN, MAX_RECENT, FollowedBy, FollowedByState, OpenMatch, Txn, follow
from engine.limits import ROW_LIMIT_BYTES
from tables.sequence_state import advance, followed_by_from_row, followed_by_to_row
from tests.support import oracle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
BOOK = rule_book(read_catalog(), timedelta(minutes=5))
VERSIONS = {rule.rule: BOOK.version(rule.rule) for rule in BOOK.sequences}
DRAIN, DORMANT = oracle.DRAIN, oracle.DORMANT


def t(txn_id: int, kind: str, amount: str, at: timedelta, account_id: int = 7) -> Txn:
    return Txn(txn_id, account_id, kind, Decimal(amount), T0 + at)


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def feed(arrivals: Sequence[Txn], rows=None):
    """Every alert sent, in order, and the rows by account; each row goes through JSON as the table stores it."""
    rows = dict(rows or {})
    sent = []
    for x in arrivals:
        row, alerts = advance(rows.get(x.account_id), x, BOOK.sequences, VERSIONS, NOW)
        rows[x.account_id] = json.loads(json.dumps(row))
        sent.extend(alerts)
    return sent, rows


def by_id(sent) -> Dict[str, oracle.ExpectedAlert]:
    found: Dict[str, oracle.ExpectedAlert] = {}
    for a in sent:
        mine = oracle.ExpectedAlert(a.alert_id, a.rule, a.account_id, a.trigger_txn_id, a.count, a.total,
                                    a.window_start, a.window_end, a.txn_ids)
        assert found.setdefault(a.alert_id, mine) == mine, "one id, two contents"
    return found


def expected(txns: Sequence[Txn], *rules: str) -> Dict[str, oracle.ExpectedAlert]:
    every = oracle.expected_alerts([oracle.Txn(x.txn_id, x.account_id, x.kind, x.amount, x.created_at)
                                    for x in txns])
    return {i: a for i, a in every.items() if a.rule in rules}


# --- deposit-then-drain ------------------------------------------------------------------------

def test_withdrawals_reaching_exactly_ninety_percent_within_thirty_minutes_alert_once_for_the_deposit():
    d = t(1, "deposit", "1000.00", minutes(0))
    sent, _ = feed([d, t(2, "withdrawal", "400.00", minutes(5)), t(3, "withdrawal", "500.00", minutes(30)),
                    t(4, "withdrawal", "100.00", minutes(31))])
    (alert,) = sent
    assert (alert.alert_id, alert.trigger_txn_id, alert.txn_ids) == (f"{DRAIN}:1", 3, (1, 2, 3))
    assert (alert.count, alert.total) == (2, Decimal("900.00"))
    assert (alert.window_start, alert.window_end) == (T0, T0 + minutes(30))


def test_eighty_nine_point_nine_nine_percent_does_not_alert():
    sent, _ = feed([t(1, "deposit", "1000.00", minutes(0)), t(2, "withdrawal", "899.99", minutes(1))])
    assert sent == []


def test_a_withdrawal_one_microsecond_after_the_window_does_not_count():
    late = T0 + minutes(30) + timedelta(microseconds=1) - T0
    sent, _ = feed([t(1, "deposit", "1000.00", minutes(0)), t(2, "withdrawal", "500.00", minutes(1)),
                    t(3, "withdrawal", "400.00", late)])
    assert sent == []


def test_a_withdrawal_at_the_deposits_own_instant_counts_and_one_before_it_does_not():
    sent, _ = feed([t(1, "withdrawal", "900.00", -timedelta(microseconds=1)), t(2, "deposit", "1000.00", minutes(0)),
                    t(3, "withdrawal", "899.99", minutes(0))])
    assert sent == []
    sent, _ = feed([t(1, "deposit", "1000.00", minutes(0)), t(2, "withdrawal", "900.00", minutes(0))])
    assert [a.alert_id for a in sent] == [f"{DRAIN}:1"]


def test_a_deposit_below_the_minimum_is_no_start_and_the_minimum_is():
    assert feed([t(1, "deposit", "999.99", minutes(0)), t(2, "withdrawal", "999.99", minutes(1))])[0] == []
    assert len(feed([t(1, "deposit", "1000.00", minutes(0)), t(2, "withdrawal", "900.00", minutes(1))])[0]) == 1


def test_a_withdrawal_committed_before_the_deposit_but_created_in_its_window_counts_at_once():
    # Commit order (ids) and created_at differ by a transaction's length: the deposit completes the match.
    sent, _ = feed([t(1, "withdrawal", "950.00", minutes(1)), t(2, "deposit", "1000.00", minutes(0))])
    (alert,) = sent
    assert (alert.trigger_txn_id, alert.txn_ids) == (2, (1, 2))


def test_never_a_second_alert_for_the_same_deposit_and_a_replay_changes_nothing():
    txns = [t(1, "deposit", "2000.00", minutes(0)), t(2, "withdrawal", "1800.00", minutes(1)),
            t(3, "withdrawal", "1800.00", minutes(2))]
    sent, rows = feed(txns)
    assert [a.alert_id for a in sent] == [f"{DRAIN}:1"]
    again, after = feed(txns, rows)
    assert again == [] and after == rows


def test_two_deposits_each_get_their_own_verdict():
    sent, _ = feed([t(1, "deposit", "1000.00", minutes(0)), t(2, "deposit", "5000.00", minutes(1)),
                    t(3, "withdrawal", "950.00", minutes(2))])
    assert [a.alert_id for a in sent] == [f"{DRAIN}:1"]


def test_open_deposits_are_dropped_once_their_window_ends_beyond_the_lateness():
    _, rows = feed([t(1, "deposit", "1000.00", minutes(0)), t(2, "withdrawal", "10.00", minutes(36))])
    assert rows[7]["rules"][DRAIN]["open"] == []


# --- dormant-reactivation ----------------------------------------------------------------------

def test_thirty_days_of_silence_then_a_large_withdrawal_alerts():
    sent, _ = feed([t(1, "deposit", "50.00", timedelta(0)), t(2, "withdrawal", "200.00", timedelta(days=30))])
    (alert,) = sent
    assert (alert.alert_id, alert.txn_ids, alert.total) == (f"{DORMANT}:2", (2,), Decimal("200.00"))
    assert (alert.window_start, alert.window_end) == (T0, T0 + timedelta(days=30))


def test_twenty_nine_days_23_59_59_of_silence_does_not():
    almost = timedelta(days=29, hours=23, minutes=59, seconds=59)
    assert feed([t(1, "deposit", "50.00", timedelta(0)), t(2, "withdrawal", "200.00", almost)])[0] == []


def test_a_withdrawal_below_the_minimum_does_not_and_still_ends_the_silence():
    sent, _ = feed([t(1, "deposit", "500.00", timedelta(0)), t(2, "withdrawal", "199.99", timedelta(days=40)),
                    t(3, "withdrawal", "200.00", timedelta(days=41))])
    assert sent == []


def test_the_first_transaction_never_alerts_and_any_kind_ends_the_silence():
    assert feed([t(1, "withdrawal", "5000.00", timedelta(days=400))])[0] == []
    sent, _ = feed([t(1, "deposit", "500.00", timedelta(0)), t(2, "deposit", "1.00", timedelta(days=31)),
                    t(3, "withdrawal", "200.00", timedelta(days=31, seconds=1))])
    assert sent == []


def test_the_previous_is_the_latest_created_at_among_lower_ids():
    # Id 2 was created before id 1 (a long transaction): the silence is measured from id 1's created_at.
    sent, _ = feed([t(1, "deposit", "500.00", timedelta(days=1)), t(2, "deposit", "5.00", timedelta(0)),
                    t(3, "withdrawal", "200.00", timedelta(days=31))])
    assert [a.alert_id for a in sent] == [f"{DORMANT}:3"] and sent[0].window_start == T0 + timedelta(days=1)


# --- Both, against the oracle ------------------------------------------------------------------

# Mostly minutes apart (drains happen), now and then about a month (dormancy at its edge happens).
GAPS = [timedelta(0), timedelta(seconds=1), minutes(1), minutes(2), minutes(4), minutes(7), minutes(12), minutes(30),
        timedelta(days=29, hours=23, minutes=59, seconds=59), timedelta(days=30), timedelta(days=45)]
DEPOSITS = ["5.00", "999.99", "1000.00", "1000.00", "1500.00"]
WITHDRAWALS = ["5.00", "199.99", "200.00", "450.00", "600.00", "899.99", "900.00"]


def scenarios():
    step = st.tuples(st.integers(0, 1), st.sampled_from(["deposit", "withdrawal", "withdrawal"]), st.integers(0, 6),
                     st.sampled_from(GAPS), st.integers(-120, 0))
    return st.lists(step, min_size=5, max_size=60).map(_build)


def _build(steps) -> List[Txn]:
    clocks = {0: T0, 1: T0}
    made = []
    for txn_id, (account, kind, pick, gap, jitter) in enumerate(steps, start=1):
        clocks[account] += gap
        amounts = DEPOSITS if kind == "deposit" else WITHDRAWALS
        # Now and then created a little before the previous one (commit order is not created_at order).
        made.append(Txn(txn_id, 100 + account, kind, Decimal(amounts[pick % len(amounts)]),
                        clocks[account] + timedelta(seconds=jitter)))
    return made


def interleaved(rng: random.Random, made: Sequence[Txn]) -> List[Txn]:
    queues: Dict[int, List[Txn]] = {}
    for x in made:
        queues.setdefault(x.account_id, []).append(x)
    order = [a for a, q in queues.items() for _ in q]
    rng.shuffle(order)
    return [queues[a].pop(0) for a in order]


@hypothesis_settings(max_examples=300, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_any_interleaving_of_accounts_gives_the_oracles_alerts(made, rng):
    sent, _ = feed(interleaved(rng, made))
    assert by_id(sent) == expected(made, DRAIN, DORMANT)


def test_seeded_scenarios_fire_both_rules_often_and_as_the_oracle_says():
    fired = {DRAIN: 0, DORMANT: 0}
    for seed in range(200):
        rng = random.Random(seed)
        steps = [(rng.randint(0, 1), rng.choice(["deposit", "withdrawal", "withdrawal"]), rng.randint(0, 6),
                  rng.choice(GAPS), rng.randint(-120, 0)) for _ in range(80)]
        made = _build(steps)
        want = expected(made, DRAIN, DORMANT)
        assert by_id(feed(interleaved(rng, made))[0]) == want, f"seed {seed}"
        for alert in want.values():
            fired[alert.rule] += 1
    assert min(fired.values()) >= 100, fired


@hypothesis_settings(max_examples=200, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False), st.integers(0, 59), st.integers(1, 20))
def test_replays_change_no_alert(made, rng, replay_from, replay_length):
    arrivals = interleaved(rng, made)
    cut = min(replay_from, len(arrivals))
    sent, _ = feed(arrivals[:cut] + arrivals[max(0, cut - replay_length):cut] + arrivals[cut:])
    assert by_id(sent) == expected(made, DRAIN, DORMANT)


@hypothesis_settings(max_examples=200, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_out_of_id_order_nothing_is_judged_twice_and_no_id_gets_two_contents(made, rng):
    # A transaction below the highest id judged is taken for a redelivery: no verdict, and every alert
    # raised is the oracle's over what had arrived by then, in id order.
    arrivals = list(made)
    rng.shuffle(arrivals)
    got = by_id(feed(arrivals + arrivals)[0])
    for alert_id, alert in got.items():
        trigger = next(x for x in arrivals if x.txn_id == alert.trigger_txn_id)
        arrived = arrivals[: arrivals.index(trigger) + 1]
        judged = [x for x in arrived if x.account_id == alert.account_id]
        highest = {x.txn_id for x in judged if all(y.txn_id < x.txn_id for y in judged[: judged.index(x)])}
        assert alert == expected([x for x in judged if x.txn_id in highest], alert.rule)[alert_id]


# --- Bounded state -----------------------------------------------------------------------------

def test_a_full_row_stays_far_below_the_row_limit():
    rule = next(r for r in BOOK.sequences if isinstance(r, FollowedBy))
    source = ["ledger.public.transactions", 3, 12345678901, 987654321098, 1234567890, 12345678901]
    member = Txn(12345678901, 7, "withdrawal", Decimal("123456789.12"), T0)
    a = Txn(12345678900, 7, "deposit", Decimal("123456789.12"), T0, source=source)
    state = FollowedByState(12345678999, T0, (member,) * MAX_RECENT, T0,
                            (OpenMatch(a, (member,) * MAX_MEMBERS, Decimal("99999999999.99"), 10**6),) * MAX_OPEN)
    row = {"rules": {rule.rule: followed_by_to_row(state, 1), DORMANT: {"v": 1, "seen": 1, "latest": T0.isoformat()}},
           "limit": {r: [T0.isoformat(), f"{r}:12345678901"] for r in BOOK.specs}}
    size = len(json.dumps(row).encode())
    assert size < ROW_LIMIT_BYTES // 2, size


def test_the_state_keeps_at_most_its_bounds_however_many_transactions_arrive():
    rule = next(r for r in BOOK.sequences if isinstance(r, FollowedBy))
    state = FollowedByState()
    for i in range(1, 2001):
        kind = "deposit" if i % 3 == 0 else "withdrawal"
        state, _ = follow(state, t(i, kind, "1000.00" if kind == "deposit" else "1.00", timedelta(seconds=i)), rule,
                          NOW)
        assert len(state.open) <= MAX_OPEN and len(state.recent) <= MAX_RECENT
        assert all(len(m.members) <= MAX_MEMBERS for m in state.open)
    assert followed_by_from_row(7, json.loads(json.dumps(followed_by_to_row(state, 1))), "deposit", "withdrawal",
                                1) == state


def test_a_row_of_another_rule_version_starts_fresh():
    _, rows = feed([t(1, "deposit", "1000.00", minutes(0))])
    assert followed_by_from_row(7, rows[7]["rules"][DRAIN], "deposit", "withdrawal", 2) == FollowedByState()
