"""The rules judge in transaction id order: arrival order changes nothing while each account's withdrawals
arrive in id order, and what holds when they do not."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Dict, List, Sequence

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from detection.withdrawals import BURST, RAPID, History, RuleSettings, Withdrawal, evaluate_withdrawal
from tables.rule_state import history_from_rows, history_to_rows
from tests.support import oracle

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 6, 2, 9, 0, tzinfo=timezone.utc)
RULES = RuleSettings()
AMOUNTS = ["150.00", "200.00", "950.00", "1999.99", "2000.00"]


def w(txn_id: int, amount: str, minutes: float, account_id: int = 7) -> Withdrawal:
    return Withdrawal(txn_id, account_id, Decimal(amount), T0 + timedelta(minutes=minutes))


def feed(arrivals: Sequence[Withdrawal], histories=None):
    """Every alert sent, in order, and the final histories by account."""
    histories = dict(histories or {})
    sent = []
    for x in arrivals:
        histories[x.account_id], alerts = evaluate_withdrawal(histories.get(x.account_id, ()), x, RULES, NOW)
        sent.extend(alerts)
    return sent, histories


def as_oracle(alert) -> oracle.ExpectedAlert:
    return oracle.ExpectedAlert(alert.alert_id, alert.rule, alert.account_id, alert.trigger_txn_id, alert.count,
                                alert.total, alert.window_start, alert.window_end, alert.txn_ids)


def oracle_alerts(withdrawals: Sequence[Withdrawal]) -> Dict[str, oracle.ExpectedAlert]:
    return oracle.expected_alerts([oracle.Txn(x.txn_id, x.account_id, "withdrawal", x.amount, x.created_at)
                                   for x in withdrawals])


def by_id(sent) -> Dict[str, oracle.ExpectedAlert]:
    found: Dict[str, oracle.ExpectedAlert] = {}
    for alert in sent:
        assert found.setdefault(alert.alert_id, as_oracle(alert)) == as_oracle(alert), "one id, two contents"
    return found


# Histories of a few accounts: withdrawals with ids increasing per account and created_at moving forward
# by 0 to `max_gap` minutes (sometimes past window + lateness, so pruning happens).
def histories(max_gap: int):
    step = st.tuples(st.integers(0, 2), st.integers(0, max_gap), st.sampled_from(AMOUNTS))
    return st.lists(step, min_size=1, max_size=60).map(_build)


def _build(steps) -> List[Withdrawal]:
    minutes = {0: 0.0, 1: 0.0, 2: 0.0}
    made = []
    for txn_id, (account, gap, amount) in enumerate(steps, start=1):
        minutes[account] += gap
        made.append(w(txn_id, amount, minutes[account], account_id=100 + account))
    return made


def interleaved(rng: random.Random, made: Sequence[Withdrawal]) -> List[Withdrawal]:
    """The accounts' withdrawals merged in a random order, each account's kept in id order."""
    queues: Dict[int, List[Withdrawal]] = {}
    for x in made:
        queues.setdefault(x.account_id, []).append(x)
    order = [a for a, q in queues.items() for _ in q]
    rng.shuffle(order)
    return [queues[a].pop(0) for a in order]


@hypothesis_settings(max_examples=300, deadline=None)
@given(histories(max_gap=12), st.randoms(use_true_random=False))
def test_any_arrival_order_that_keeps_each_accounts_id_order_gives_the_oracles_alerts(made, rng):
    sent, _ = feed(interleaved(rng, made))
    assert by_id(sent) == oracle_alerts(made)


@hypothesis_settings(max_examples=200, deadline=None)
@given(histories(max_gap=12), st.randoms(use_true_random=False), st.integers(0, 59), st.integers(1, 20))
def test_replays_within_an_id_ordered_arrival_change_no_alert(made, rng, replay_from, replay_length):
    # A crash replays a stretch of what arrived, then the stream goes on.
    arrivals = interleaved(rng, made)
    cut = min(replay_from, len(arrivals))
    arrivals = arrivals[:cut] + arrivals[max(0, cut - replay_length):cut] + arrivals[cut:]
    sent, _ = feed(arrivals)
    assert by_id(sent) == oracle_alerts(made)


@hypothesis_settings(max_examples=300, deadline=None)
@given(histories(max_gap=12), st.randoms(use_true_random=False))
def test_out_of_id_order_each_verdict_is_the_definitions_over_what_had_arrived(made, rng):
    # Any order at all (a snapshot in heap order). Each withdrawal is judged once, when it arrives,
    # exactly against the predecessors that had arrived by then, or not at all when pruning left
    # its context unknown; nothing is judged twice, nothing retracted.
    arrivals = list(made)
    rng.shuffle(arrivals)
    sent, _ = feed(arrivals + arrivals)  # and everything redelivered afterwards
    got = by_id(sent)
    for index, x in enumerate(arrivals):
        arrived = [y for y in arrivals[: index + 1] if y.account_id == x.account_id]
        definition = {i: a for i, a in oracle_alerts(arrived).items() if a.trigger_txn_id == x.txn_id}
        judged = {i: a for i, a in got.items() if a.trigger_txn_id == x.txn_id}
        assert judged == definition or judged == {}


def within_the_horizon():
    """Histories created within window + lateness, in any created_at order: nothing is ever pruned."""
    step = st.tuples(st.integers(0, 2), st.integers(0, 14), st.sampled_from(AMOUNTS))
    return st.lists(step, min_size=1, max_size=40).map(
        lambda steps: [w(i, amount, minute, account_id=100 + account)
                       for i, (account, minute, amount) in enumerate(steps, start=1)])


@hypothesis_settings(max_examples=300, deadline=None)
@given(within_the_horizon(), st.randoms(use_true_random=False))
def test_out_of_id_order_without_pruning_every_withdrawal_is_judged(made, rng):
    arrivals = list(made)
    rng.shuffle(arrivals)
    sent, _ = feed(arrivals)
    got = by_id(sent)
    expected = {}
    for index, x in enumerate(arrivals):
        arrived = [y for y in arrivals[: index + 1] if y.account_id == x.account_id]
        expected.update({i: a for i, a in oracle_alerts(arrived).items() if a.trigger_txn_id == x.txn_id})
    assert got == expected


def test_a_snapshot_in_heap_order_misses_what_the_definition_gives_the_earlier_judged_one():
    # The case: the latest of three arrives first. It is judged alone; the two before it
    # count for what comes after, not for it, and nothing is retracted or re-judged.
    first, second, third = w(1, "300.00", 0), w(2, "300.00", 2), w(3, "300.00", 4)
    sent, histories = feed([third, first, second])
    assert sent == []
    assert f"{RAPID}:3" in oracle_alerts([first, second, third])
    history = histories[7]
    assert [x.txn_id for x in history] == [1, 2, 3] and history.pruned_through is None
    assert [x.overtaken for x in history] == [False, False, True]
    # A redelivery of the overtaken one says nothing rather than a verdict it never had.
    again, alerts = evaluate_withdrawal(history, third, RULES, NOW)
    assert (again, alerts) == (history, [])
    # The next one in id order is judged against all three.
    after, alerts = evaluate_withdrawal(history, w(4, "300.00", 5), RULES, NOW)
    assert [a.txn_ids for a in alerts if a.rule == RAPID] == [(1, 2, 3, 4)]


def test_a_late_arrival_is_judged_against_its_predecessors_only():
    sent, _ = feed([w(1, "2000.00", 0), w(3, "2000.00", 2), w(2, "2000.00", 1)])
    got = by_id(sent)
    # 3 saw 1 only (4000: no burst, 2 in window: no rapid); 2 sees 1 and itself, not 3.
    assert set(got) == set()
    sent, _ = feed([w(1, "2000.00", 0), w(2, "2000.00", 1), w(4, "2000.00", 3), w(3, "1000.00", 2)])
    got = by_id(sent)
    assert got[f"{BURST}:3"].txn_ids == (1, 2, 3) and got[f"{RAPID}:3"].txn_ids == (1, 2, 3)
    assert got[f"{BURST}:4"].txn_ids == (1, 2, 4)  # judged before 3 arrived; it stands


def test_equal_created_at_counts_only_lower_ids():
    # Three at the same minute: the third by id sees all three, the first two see fewer, whatever the arrival.
    same = [w(1, "200.00", 0), w(2, "200.00", 0), w(3, "200.00", 0)]
    for arrivals in ([same[0], same[1], same[2]], [same[1], same[0], same[2]]):
        got = by_id(feed(arrivals)[0])
        assert list(got) == [f"{RAPID}:3"] and got[f"{RAPID}:3"].txn_ids == (1, 2, 3)


def test_a_pruned_withdrawal_coming_back_changes_nothing_even_below_every_held_id():
    burst = [w(i, "1000.00", 20 * i) for i in range(1, 9)]
    sent, histories = feed(burst)
    history = histories[7]
    assert [x.txn_id for x in history] == [4, 5, 6, 7, 8] and history.pruned_through == 3
    for pruned in burst[:3]:
        assert evaluate_withdrawal(history, pruned, RULES, NOW) == (history, [])


def test_rule_state_rows_keep_the_overtaken_mark_and_what_was_pruned():
    history = feed([w(3, "300.00", 4), w(1, "300.00", 0)])[1][7]
    rows = history_to_rows(history)
    assert rows == {"held": [[1, "300.00", T0.isoformat()],
                             [3, "300.00", (T0 + timedelta(minutes=4)).isoformat(), True]],
                    "pruned_through": None}
    assert history_from_rows(7, rows) == history
    pruned = feed([w(i, "1000.00", 20 * i) for i in range(1, 9)])[1][7]
    assert history_from_rows(7, history_to_rows(pruned)) == pruned


def test_rule_state_rows_of_the_arrival_order_version_read_in_id_order():
    old = [[3, "300.00", T0.isoformat()], [1, "300.00", T0.isoformat()]]
    assert history_from_rows(7, old) == History((w(1, "300.00", 0), w(3, "300.00", 0)), pruned_through=None)
    # As long as LENGTH: it may have been pruned, below its lowest id.
    old = [[i, "300.00", T0.isoformat()] for i in (9, 5, 6, 7, 8)]
    assert history_from_rows(7, old).pruned_through == 4
