"""agents/transactions.py (fold_transactions) in process: postings in; turnover, rule state, alert rows
and alerts out; bad records dead-lettered.

The turnover rows' shape is asserted in one test only, through projections/turnover.py, so a
change of the shape changes one place.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from cdc.decode import decode_change
from detection.withdrawals import RAPID
from projections.transactions import transaction_from_change
from projections.turnover import count_turnover
from settings import load_settings
from tables.alerts import alerts_by_account
from tables.rule_state import withdrawal_history_by_account
from tables.turnover import turnover_by_account_day, turnover_days
from topics import TRANSACTION_CHANGES, WITHDRAWAL_ALERTS

TRANSACTIONS = TRANSACTION_CHANGES.name


def _large() -> Decimal:
    return load_settings().rule_settings().large


def _post(driver, changes, txn_id, account_id, kind, amount, at=None):
    record = changes.insert("transactions", changes.transaction(txn_id, account_id=account_id, kind=kind,
                                                                amount=str(amount), created_at=at))
    driver.pipe(TRANSACTIONS, *record)
    return record


def test_the_turnover_row_is_each_posting_added_by_the_projection(driver, changes):
    at = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
    records = [_post(driver, changes, 20, 4, "deposit", "4500.00", at),
               _post(driver, changes, 21, 4, "withdrawal", "12.34", at + timedelta(days=1))]
    driver.run()

    retained: dict = {}
    day_rows: dict = {}
    for key, value, _ in records:
        count_turnover(retained, day_rows, transaction_from_change(decode_change(key, value)),
                       retention_days=load_settings().turnover_retention_days)
    assert driver.rows(turnover_days) == retained
    assert driver.rows(turnover_by_account_day) == day_rows


def test_rapid_large_withdrawals_raise_one_alert_sent_and_kept(driver, changes):
    rules = load_settings().rule_settings()
    now = datetime.now(timezone.utc)
    ids = list(range(100, 100 + rules.count))
    for i, txn_id in enumerate(ids):
        _post(driver, changes, txn_id, 4, "withdrawal", rules.large, now - timedelta(seconds=len(ids) - i))
    driver.run()

    alerts = [record.envelope() for record in driver.sent(WITHDRAWAL_ALERTS.name)]
    assert [(envelope.event_type, payload.rule, payload.account_id, list(payload.txn_ids))
            for envelope, payload in alerts] == [("WithdrawalAlert", RAPID, 4, ids)]
    assert driver.sent(WITHDRAWAL_ALERTS.name)[0].key == b"4"
    rows = driver.rows(alerts_by_account)[4]
    assert [row["alert_id"] for row in rows] == [alerts[0][1].alert_id]
    assert [int(txn_id) for txn_id, *_ in driver.rows(withdrawal_history_by_account)[4]["held"]] == ids


def test_a_replayed_withdrawal_keeps_one_alert_row(driver, changes):
    rules = load_settings().rule_settings()
    now = datetime.now(timezone.utc)
    records = [_post(driver, changes, 200 + i, 5, "withdrawal", rules.large, now - timedelta(seconds=rules.count - i))
               for i in range(rules.count)]
    driver.run()
    driver.pipe(TRANSACTIONS, *records[-1])                          # redelivered after a restart
    driver.run()
    assert len(driver.rows(alerts_by_account)[5]) == 1
    # Events may go out again (at least once); they carry the same event id.
    assert len({envelope.event_id for envelope, _ in map(lambda r: r.envelope(),
                                                           driver.sent(WITHDRAWAL_ALERTS.name))}) == 1


def test_small_withdrawals_and_deposits_touch_no_rule_state(driver, changes):
    _post(driver, changes, 300, 6, "withdrawal", _large() - Decimal("0.01"))
    _post(driver, changes, 301, 6, "deposit", _large() * 10)
    driver.run()
    assert 6 in driver.rows(turnover_days)
    assert driver.rows(withdrawal_history_by_account) == {} and driver.rows(alerts_by_account) == {}
    assert driver.sent(WITHDRAWAL_ALERTS.name) == []


def test_a_posting_keyed_by_another_account_is_dead_lettered(driver, changes):
    key, value, headers = changes.insert("transactions", changes.transaction(400, account_id=7, kind="deposit",
                                                                             amount="1.00"))
    driver.pipe(TRANSACTIONS, b"8", value, headers)
    _post(driver, changes, 401, 7, "deposit", "2.00")
    driver.run()
    (letter,) = driver.dead_letters(TRANSACTIONS)
    assert letter.agent == "fold_transactions"
    assert "record key 8 is not the transaction's account 7" in letter.reason
    assert set(driver.rows(turnover_days)) == {7}


def test_money_as_a_float_is_dead_lettered(driver, changes):
    key, value, _ = changes.insert("transactions", changes.transaction(500, account_id=9, kind="deposit",
                                                                       amount="10.00"))
    driver.pipe(TRANSACTIONS, key, value.replace(b'"amount":"10.00"', b'"amount":10.0'))
    driver.run()
    (letter,) = driver.dead_letters(TRANSACTIONS)
    assert "transactions.amount is 10.0, not an exact decimal string" in letter.reason
    assert driver.rows(turnover_days) == {}
