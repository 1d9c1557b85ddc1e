"""A replay of withdrawals the rule state has already pruned changes nothing (found by the crash test)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from detection.withdrawals import BURST, RuleSettings, Withdrawal, evaluate_withdrawal

T0 = datetime(2026, 3, 2, 7, 40, tzinfo=timezone.utc)
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
RULES = RuleSettings()


def w(txn_id: int, amount: str, minutes: float) -> Withdrawal:
    return Withdrawal(txn_id, 382, Decimal(amount), T0 + timedelta(minutes=minutes))


def feed(history, *withdrawals):
    alerts = {}
    for x in withdrawals:
        history, new = evaluate_withdrawal(history, x, RULES, NOW)
        alerts.update({a.alert_id: a for a in new})
    return history, alerts


# Six large withdrawals over more than window + lateness (15 minutes): the first is pruned.
BURST_OF_SIX = (w(1, "1995.01", 0), w(2, "1032.76", 6), w(3, "1669.63", 7.5), w(4, "1676.03", 10),
                w(5, "1689.24", 12.5), w(6, "1026.33", 15.2))


def test_the_first_of_a_long_burst_is_pruned():
    history, _ = feed((), *BURST_OF_SIX)
    assert [x.txn_id for x in history] == [2, 3, 4, 5, 6]


def test_replaying_a_pruned_withdrawal_neither_alerts_nor_changes_the_history():
    history, first = feed((), *BURST_OF_SIX)
    replayed, again = feed(history, *BURST_OF_SIX)  # a crash replays the whole burst
    assert replayed == history
    assert set(again) <= set(first)
    assert all(again[i] == first[i] for i in again)


def test_later_verdicts_are_as_if_nothing_was_replayed():
    later = (w(7, "424.39", 60 * 41), w(8, "1507.57", 60 * 41 + 4))
    history, _ = feed((), *BURST_OF_SIX)
    _, without_replay = feed(history, *later)
    replayed, _ = feed(history, *BURST_OF_SIX)
    _, with_replay = feed(replayed, *later)
    assert with_replay == without_replay
    assert with_replay[f"{BURST}:7"].txn_ids == (3, 4, 5, 6, 7)


@hypothesis_settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 8), st.sampled_from(["200.00", "950.00", "2000.00"])), min_size=1,
                max_size=40),
       st.integers(0, 39), st.lists(st.tuples(st.integers(0, 8), st.sampled_from(["200.00", "2000.00"])),
                                    max_size=8))
def test_a_replay_from_any_point_resends_first_verdicts_or_nothing_and_changes_nothing(events, replay_from,
                                                                                         after):
    # Withdrawals in commit order, created_at never going back; a crash replays a tail of them
    # against the state that already holds them all.
    minutes, arrivals = 0, []
    for i, (gap, amount) in enumerate(events + after):
        minutes += gap
        arrivals.append(w(i, amount, minutes))
    done, later = arrivals[:len(events)], arrivals[len(events):]
    history, first = feed((), *done)
    replayed, again = feed(history, *done[min(replay_from, len(done) - 1):])
    assert replayed == history
    assert all(again[i] == first[i] for i in again)
    # What comes after is judged as if there had been no replay.
    assert feed(replayed, *later) == feed(history, *later)
