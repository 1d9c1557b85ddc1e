"""The withdrawal rules, hand-checked at every boundary."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from detection.withdrawals import BURST, RAPID, RuleSettings, Withdrawal, evaluate_withdrawal

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)
RULES = RuleSettings()


def w(txn_id: int, amount: str, minutes: float = 0, account_id: int = 7) -> Withdrawal:
    return Withdrawal(txn_id, account_id, Decimal(amount), T0 + timedelta(minutes=minutes))


def run(*withdrawals: Withdrawal, rules: RuleSettings = RULES):
    """Feed withdrawals in arrival order; return the final history and all alerts by id."""
    history, alerts = (), {}
    for x in withdrawals:
        history, new = evaluate_withdrawal(history, x, rules, NOW)
        alerts.update({a.alert_id: a for a in new})
    return history, alerts


def test_an_accounts_first_withdrawal_triggers_nothing():
    _, alerts = run(w(1, "4999.99"))
    assert alerts == {}


def test_three_large_withdrawals_within_ten_minutes_alert_on_the_third():
    _, alerts = run(w(1, "200.00", 0), w(2, "300.00", 4), w(3, "250.00", 9))
    alert = alerts[f"{RAPID}:3"]
    assert alert.count == 3
    assert alert.total == Decimal("750.00")
    assert alert.txn_ids == (1, 2, 3)
    assert alert.window_start == T0 + timedelta(minutes=-1)
    assert alert.window_end == T0 + timedelta(minutes=9)
    assert alert.account_id == 7 and alert.trigger_txn_id == 3 and alert.detected_at == NOW


def test_two_large_withdrawals_are_one_short_of_count():
    _, alerts = run(w(1, "200.00", 0), w(2, "300.00", 1))
    assert RAPID + ":2" not in alerts


def test_a_withdrawal_exactly_at_the_window_start_is_excluded():
    # The window is (w - 10 min, w]: one exactly 10 minutes earlier is out.
    _, alerts = run(w(1, "200.00", 0), w(2, "200.00", 5), w(3, "200.00", 10))
    assert f"{RAPID}:3" not in alerts
    _, alerts = run(w(1, "200.00", 0.001), w(2, "200.00", 5), w(3, "200.00", 10))
    assert alerts[f"{RAPID}:3"].txn_ids == (1, 2, 3)


def test_199_99_is_not_large_and_200_00_is():
    _, alerts = run(w(1, "200.00", 0), w(2, "199.99", 1), w(3, "200.00", 2))
    assert f"{RAPID}:3" not in alerts
    _, alerts = run(w(1, "200.00", 0), w(2, "200.00", 1), w(3, "200.00", 2))
    assert f"{RAPID}:3" in alerts


def test_a_small_withdrawal_triggers_nothing_and_changes_no_history():
    history, _ = run(w(1, "200.00"), w(2, "300.00"))
    after, alerts = evaluate_withdrawal(history, w(3, "199.99"), RULES, NOW)
    assert after == history and alerts == []


def test_every_withdrawal_from_the_third_on_alerts_with_its_own_id():
    _, alerts = run(*(w(i, "200.00", i) for i in range(1, 6)))
    assert sorted(a for a in alerts if a.startswith(RAPID)) == [f"{RAPID}:{i}" for i in (3, 4, 5)]
    assert alerts[f"{RAPID}:5"].count == 5


def test_burst_exactly_at_the_total_alerts():
    _, alerts = run(w(1, "1000.00", 0), w(2, "1000.00", 20), w(3, "1000.00", 40), w(4, "1000.00", 60),
                    w(5, "1000.00", 80))
    alert = alerts[f"{BURST}:5"]
    assert alert.total == Decimal("5000.00") and alert.count == 5
    assert alert.txn_ids == (1, 2, 3, 4, 5)
    assert alert.window_start == T0 and alert.window_end == T0 + timedelta(minutes=80)
    # Twenty minutes apart: never three within ten minutes.
    assert not any(a.startswith(RAPID) for a in alerts)


def test_burst_one_cent_short_does_not_alert():
    _, alerts = run(w(1, "1000.00", 0), w(2, "1000.00", 20), w(3, "1000.00", 40), w(4, "1000.00", 60),
                    w(5, "999.99", 80))
    assert f"{BURST}:5" not in alerts


def test_burst_counts_only_the_last_five_large_withdrawals():
    # 4000 + four of 250 = 5000 alerts on the fifth; the sixth pushes the 4000 out.
    _, alerts = run(w(1, "4000.00", 0), *(w(i, "250.00", 20 * i) for i in range(2, 7)))
    assert alerts[f"{BURST}:5"].txn_ids == (1, 2, 3, 4, 5)
    assert f"{BURST}:6" not in alerts


def test_burst_with_fewer_than_five_sums_what_has_arrived():
    _, alerts = run(w(1, "2500.00", 0), w(2, "2500.00", 30))
    assert alerts[f"{BURST}:2"].count == 2
    assert alerts[f"{BURST}:2"].total == Decimal("5000.00")


def test_a_redelivered_withdrawal_is_not_counted_twice_and_gets_the_same_verdict():
    history, first = run(w(1, "200.00", 0), w(2, "200.00", 1), w(3, "200.00", 2))
    again, alerts = evaluate_withdrawal(history, w(2, "200.00", 1), RULES, NOW)
    assert again == history
    assert alerts == []  # w2 saw only w1 and itself the first time
    again, alerts = evaluate_withdrawal(history, w(3, "200.00", 2), RULES, NOW)
    assert again == history
    assert [a.alert_id for a in alerts] == [f"{RAPID}:3"]
    assert alerts[0] == first[f"{RAPID}:3"]


@hypothesis_settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 24 * 60), st.sampled_from(["200.00", "950.00", "2000.00"])),
                min_size=1, max_size=300))
def test_history_stays_bounded_by_time_and_length(events):
    minutes = 0
    history = ()
    for i, (gap, amount) in enumerate(events):
        minutes += gap
        history, _ = evaluate_withdrawal(history, w(i, amount, minutes), RULES, NOW)
    newest = max(x.created_at for x in history)
    old = [x for x in history if x.created_at <= newest - RULES.window - RULES.lateness]
    assert len(old) <= RULES.length
