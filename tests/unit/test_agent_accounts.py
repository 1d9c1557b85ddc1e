"""agents/accounts.py (project_account_balances) in process: account changes in; balances, customer
updates, BalanceLow and dead letters out."""

from __future__ import annotations

import json
from decimal import Decimal

from agents.accounts import project_account_balances
from settings import load_settings
from tables.balances import balance_by_account
from tests.support.debezium_records import recorded
from topics import ACCOUNT_CHANGES, BALANCE_LOW, CUSTOMER_ACCOUNT_UPDATES

ACCOUNTS = ACCOUNT_CHANGES.name


def _updates(driver):
    return [record.json() for record in driver.sent(f"{driver.app.conf.id}-{CUSTOMER_ACCOUNT_UPDATES.name}")]


def _threshold() -> Decimal:
    return load_settings().balance_low_threshold


def test_an_inserted_account_becomes_its_balance_row_at_the_flush(driver, changes):
    row = changes.account(4, customer_id=2, balance="123.45")
    driver.pipe(ACCOUNTS, *changes.insert("accounts", row))

    driver.run(flush=False)
    assert driver.rows(balance_by_account) == {}                    # cached until the flush
    assert driver.latest(balance_by_account, 4)["balance"] == "123.45"  # ...yet served to the views

    driver.run()
    stored = driver.rows(balance_by_account)[4]
    assert (stored["account_id"], stored["customer_id"], stored["balance"], stored["currency"], stored["status"]) == (
        4, 2, "123.45", "EUR", "open")
    # Re-keyed by customer for the customer overview.
    assert [(u["kind"], u["customer_id"], u["account_id"], u["deleted"]) for u in _updates(driver)] == [
        ("account", 2, 4, False)]


def test_a_balance_crossing_below_the_threshold_sends_one_balance_low(driver, changes):
    threshold = _threshold()
    above = changes.account(4, customer_id=2, balance=str(threshold + 50))
    below = changes.account(4, customer_id=2, balance=str(threshold - 1))
    lower = changes.account(4, customer_id=2, balance=str(threshold - 2))
    driver.pipe(ACCOUNTS, *changes.insert("accounts", above))
    update = changes.update("accounts", above, below)             # built in order: the next source position
    driver.pipe(ACCOUNTS, *update)
    driver.pipe(ACCOUNTS, *changes.update("accounts", below, lower))  # still below: no new crossing
    driver.run()

    (sent,) = driver.sent(BALANCE_LOW.name)
    envelope, payload = sent.envelope()
    assert envelope.event_type == "BalanceLow" and envelope.partition_key == "4"
    # Everything derived from one database transaction shares its correlation id.
    assert envelope.correlation_id == f"ledger-tx-{json.loads(update[1])['source']['txId']}"
    assert (payload.account_id, payload.customer_id, payload.balance, payload.threshold) == (
        4, 2, str(threshold - 1), str(threshold))
    assert sent.key == b"4"

    # A replay of the crossing (at-least-once delivery) is already applied: no second BalanceLow.
    driver.pipe(ACCOUNTS, *update)
    driver.run()
    assert len(driver.sent(BALANCE_LOW.name)) == 1
    assert driver.rows(balance_by_account)[4]["balance"] == str(threshold - 2)


def test_an_account_opened_below_the_threshold_has_crossed_nothing(driver, changes):
    driver.pipe(ACCOUNTS, *changes.insert("accounts", changes.account(5, customer_id=2, balance="0.00")))
    driver.run()
    assert driver.sent(BALANCE_LOW.name) == []


def test_a_deleted_account_loses_its_row_and_its_customer_hears_of_it(driver, changes):
    row = changes.account(6, customer_id=3, balance="10.00")
    driver.pipe(ACCOUNTS, *changes.insert("accounts", row))
    driver.pipe(ACCOUNTS, *changes.delete("accounts", row))
    driver.pipe(ACCOUNTS, *changes.tombstone(6))                   # skipped, as Debezium's tombstones are
    driver.run()

    assert 6 not in driver.rows(balance_by_account)
    assert [(u["customer_id"], u["deleted"]) for u in _updates(driver)] == [(3, False), (3, True)]
    assert driver.dead_letters(ACCOUNTS) == []


def test_an_account_moved_to_another_customer_updates_both(driver, changes):
    before = changes.account(7, customer_id=3, balance="10.00")
    after = changes.account(7, customer_id=4, balance="10.00")
    driver.pipe(ACCOUNTS, *changes.insert("accounts", before))
    driver.pipe(ACCOUNTS, *changes.update("accounts", before, after))
    driver.run()
    moved = _updates(driver)[1:]
    assert sorted((u["customer_id"], u["deleted"]) for u in moved) == [(3, True), (4, False)]


def test_an_undecodable_record_is_dead_lettered_and_the_next_change_applied(driver, changes):
    row = changes.account(8, customer_id=2, balance="1.00")
    bad = driver.pipe(ACCOUNTS, b"8", b'{"op": "c", "truncated', [("trace", b"t-1")])
    driver.pipe(ACCOUNTS, *changes.insert("accounts", row))
    driver.run()

    (letter,) = driver.dead_letters(ACCOUNTS)
    assert letter.agent == "project_account_balances" and letter.error_class == "DecodeError"
    assert "value is not valid JSON" in letter.reason
    assert (letter.source_partition, letter.source_offset) == (bad.partition, bad.offset)
    assert letter.key == b"8" and letter.value == bad.value
    assert letter.header("trace") == "t-1"                           # the original headers are kept
    assert driver.rows(balance_by_account)[8]["balance"] == "1.00"


def test_a_real_debezium_record_of_another_table_is_dead_lettered(driver):
    # Recorded off the real connector: a row of decode_fixture_types, not an account.
    key, value, headers = recorded("schemaless-string", "01-read-1")
    driver.pipe(ACCOUNTS, key, value, headers)
    driver.run()
    (letter,) = driver.dead_letters(ACCOUNTS)
    assert letter.agent == "project_account_balances" and letter.value == value
    assert driver.rows(balance_by_account) == {}


def test_a_record_too_large_for_the_producer_keeps_its_headers_and_says_what_was_left_out(driver):
    big = b'{"op": "c", "after": {"note": "' + b"x" * (driver.app.conf.producer_max_request_size + 10)
    driver.pipe(ACCOUNTS, b"9", big)
    driver.run()
    (letter,) = driver.dead_letters(ACCOUNTS)
    assert letter.value is None and letter.omitted.startswith(f"value ({len(big)} bytes) left out")
    assert letter.key == b"9"


def test_the_handler_is_the_registered_batch_agent(driver):
    assert driver.app.batch_agents.topics[ACCOUNTS] is not None
    assert f"{project_account_balances.__module__}.project_account_balances" in driver.app.batch_agents.progress()


def test_an_older_change_redelivered_after_a_newer_one_does_not_turn_the_balance_back(driver, changes):
    first = changes.account(10, customer_id=2, balance="10.00")
    second = changes.account(10, customer_id=2, balance="20.00")
    old = changes.update("accounts", first, second)                # an earlier source position...
    new = changes.update("accounts", second, changes.account(10, customer_id=2, balance="30.00"))
    driver.pipe(ACCOUNTS, *new)
    driver.pipe(ACCOUNTS, *old)                                    # ...arriving after (a connector restart)
    driver.run()
    assert driver.rows(balance_by_account)[10]["balance"] == "30.00"
