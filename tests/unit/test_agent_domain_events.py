"""agents/domain_events.py and agents/outbox_handlers.py in process: outbox events in; customer activity
(re-keyed by customer) out; unknown events counted; bad ones dead-lettered."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from outbox.registry import registry
from projections.customers import activity_update, fold_account_update
from tables.customers import customer_summary
from tests.support.debezium_records import outbox_event
from topics import ACCOUNT_CHANGES, ACCOUNT_EVENTS, CUSTOMER_ACCOUNT_UPDATES, CUSTOMER_CHANGES, CUSTOMER_EVENTS

AT = datetime(2031, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
AT_MS = int(AT.timestamp() * 1000)


def _activity(driver):
    return [record.json() for record in driver.sent(f"{driver.app.conf.id}-{CUSTOMER_ACCOUNT_UPDATES.name}")
            if record.json()["kind"] == "activity"]


def _event(driver, topic, *args, **kwargs):
    return driver.pipe(topic.name, *outbox_event(*args, **kwargs), timestamp_ms=AT_MS)


def test_customer_opened_becomes_the_customers_activity(driver):
    _event(driver, CUSTOMER_EVENTS, "CustomerOpened", 12, {"customer_id": 12})
    driver.run()
    assert _activity(driver) == [activity_update(customer_id=12, at=AT.isoformat())]


def test_the_activity_reaches_the_overview_as_the_projection_folds_it(driver, changes):
    driver.pipe(CUSTOMER_CHANGES.name, *changes.insert("customers", changes.customer(13, name="Ada")))
    driver.run()
    expected = {13: driver.rows(customer_summary)[13]}
    _event(driver, CUSTOMER_EVENTS, "CustomerOpened", 13, {"customer_id": 13})
    driver.run()
    fold_account_update(expected, {}, {}, activity_update(customer_id=13, at=AT.isoformat()))
    assert driver.rows(customer_summary)[13] == expected[13]


@pytest.mark.parametrize("event_type, version", [("AccountOpened", 1), ("AccountFrozen", 1),
                                                 ("MoneyDeposited", 2), ("MoneyWithdrawn", 1)])
def test_an_account_event_naming_its_customer_is_that_customers_activity(driver, event_type, version):
    _event(driver, ACCOUNT_EVENTS, event_type, 40, {"customer_id": "14", "version": version})
    driver.run()
    assert _activity(driver) == [activity_update(customer_id=14, at=AT.isoformat())]


def test_a_money_event_finds_the_customer_in_the_accounts_latest_row(driver, changes):
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", changes.account(41, customer_id=15, balance="1.00")))
    driver.run(flush=False)  # the account's row is only cached yet: the handler reads through the cache
    _event(driver, ACCOUNT_EVENTS, "MoneyDeposited", 41, {"amount": "5.00"})
    driver.run()
    assert _activity(driver) == [activity_update(customer_id=15, at=AT.isoformat())]


def test_a_money_event_of_an_account_not_seen_yet_sends_nothing(driver):
    _event(driver, ACCOUNT_EVENTS, "MoneyWithdrawn", 42, {"amount": "5.00"})
    driver.run()
    assert _activity(driver) == [] and driver.dead_letters(ACCOUNT_EVENTS.name) == []


def test_events_no_handler_wants_are_counted_and_skipped(driver):
    counted = dict(registry.unhandled)
    _event(driver, CUSTOMER_EVENTS, "CustomerRenamed", 16, {"customer_id": 16})
    _event(driver, ACCOUNT_EVENTS, "MoneyDeposited", 43, {"customer_id": 16, "version": 3})  # versions 1-2 only
    driver.run()
    assert registry.unhandled["CustomerRenamed v1"] == counted.get("CustomerRenamed v1", 0) + 1
    assert registry.unhandled["MoneyDeposited v3"] == counted.get("MoneyDeposited v3", 0) + 1
    assert _activity(driver) == []


def test_malformed_events_are_dead_lettered_with_their_headers_and_the_next_is_handled(driver):
    malformed = _event(driver, CUSTOMER_EVENTS, "CustomerOpened", 17, b'{"customer_id": ')
    key, value, headers = outbox_event("CustomerOpened", 17, {"customer_id": 17})
    driver.pipe(CUSTOMER_EVENTS.name, key, value, [h for h in headers if h[0] != "id"], timestamp_ms=AT_MS)
    _event(driver, ACCOUNT_EVENTS, "AccountOpened", "not-a-number", {"customer_id": 17})
    _event(driver, CUSTOMER_EVENTS, "CustomerOpened", 17, {"customer_id": 17})
    driver.run()

    letters = driver.dead_letters(CUSTOMER_EVENTS.name)
    assert {letter.agent for letter in letters} == {"handle_domain_events"}
    reasons = [letter.reason for letter in letters]
    assert "domain event payload is not valid JSON" in reasons[0] and letters[0].source_offset == malformed.offset
    assert letters[0].header("eventType") == "CustomerOpened" and letters[0].header("id")
    assert "domain event without its `id` header" in reasons[1]
    (letter,) = driver.dead_letters(ACCOUNT_EVENTS.name)
    assert "domain event aggregate id 'not-a-number' is not an integer id" in letter.reason
    assert _activity(driver) == [activity_update(customer_id=17, at=AT.isoformat())]
