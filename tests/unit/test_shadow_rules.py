"""Shadow rules in fold_transactions: they run beside the live rules on the same transactions, with state of
their own, and send to alerts.shadow only; the live rules' alerts, view and state are as without them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agents import rule_book
from detection.catalog import CatalogError, parse_catalog
from detection.rulebook import fingerprint
from tables.alerts import alerts_by_account
from tables.rule_state import withdrawal_history_by_account
from tables.shadow_state import shadow_rule_state_by_account
from tests.support.shadow_catalog import SHADOW_RAPID, catalog_text, catalog_with_shadow
from topics import SHADOW_ALERTS, TRANSACTION_CHANGES, WITHDRAWAL_ALERTS

T0 = datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)
@pytest.fixture
def with_shadow(monkeypatch):
    catalog = catalog_with_shadow()
    monkeypatch.setattr(rule_book, "_book", None)
    monkeypatch.setattr(rule_book, "_shadow", None)
    monkeypatch.setattr(rule_book, "loaded_catalog", lambda path=None: catalog)
    rule_book.current_rule_book()
    return catalog


def post(driver, changes, txn_id, account_id, kind, amount, at):
    record = changes.insert("transactions", changes.transaction(txn_id, account_id=account_id, kind=kind,
                                                                amount=str(amount), created_at=at))
    driver.pipe(TRANSACTION_CHANGES.name, *record)


def sent(driver, topic):
    return {payload.alert_id: payload for _, payload in (r.envelope() for r in driver.sent(topic))}


def test_a_shadow_threshold_alerts_on_the_shadow_topic_only(driver, changes, with_shadow):
    post(driver, changes, 20, 5, "withdrawal", "300.00", T0)
    post(driver, changes, 21, 5, "withdrawal", "300.00", T0 + timedelta(minutes=4))   # two in 10 min: shadow only
    post(driver, changes, 22, 5, "withdrawal", "300.00", T0 + timedelta(minutes=8))   # three: both
    driver.run()

    live, shadow = sent(driver, WITHDRAWAL_ALERTS.name), sent(driver, SHADOW_ALERTS.name)
    assert set(live) == {"rapid-large-withdrawals:22"}
    assert set(shadow) == {"rapid-large-withdrawals:21", "rapid-large-withdrawals:22"}
    assert {p.rule_version for p in shadow.values()} == {2} and live["rapid-large-withdrawals:22"].rule_version == 1
    assert [s["txn_id"] for s in shadow["rapid-large-withdrawals:21"].sources] == [20, 21]
    # The view holds the live alert only; the live history is as without the shadow.
    assert [r["alert_id"] for r in driver.rows(alerts_by_account)[5]] == ["rapid-large-withdrawals:22"]
    assert [w[0] for w in driver.rows(withdrawal_history_by_account)[5]["held"]] == [20, 21, 22]
    row = driver.rows(shadow_rule_state_by_account)[5]
    assert row["catalog"] == fingerprint(with_shadow.shadow())
    assert [w[0] for w in row["history"]["held"]] == [20, 21, 22]


def test_a_replayed_transaction_sends_no_new_shadow_verdict(driver, changes, with_shadow):
    post(driver, changes, 30, 6, "withdrawal", "300.00", T0)
    post(driver, changes, 31, 6, "withdrawal", "300.00", T0 + timedelta(minutes=1))
    driver.run()
    first = sent(driver, SHADOW_ALERTS.name)
    post(driver, changes, 31, 6, "withdrawal", "300.00", T0 + timedelta(minutes=1))  # a redelivery
    driver.run()
    assert set(sent(driver, SHADOW_ALERTS.name)) == set(first) == {"rapid-large-withdrawals:31"}


def test_without_shadow_rules_nothing_goes_to_the_shadow_topic_or_table(driver, changes):
    post(driver, changes, 40, 7, "withdrawal", "300.00", T0)
    post(driver, changes, 41, 7, "withdrawal", "300.00", T0 + timedelta(minutes=1))
    driver.run()
    assert driver.sent(SHADOW_ALERTS.name) == [] and driver.rows(shadow_rule_state_by_account) == {}


def test_a_shadow_at_the_live_version_is_refused_with_what_to_do():
    with pytest.raises(CatalogError, match="another version"):
        parse_catalog(catalog_text(SHADOW_RAPID.replace("version: 2", "version: 1")), "c")


def test_shadow_rules_are_checked_as_a_catalogue_of_their_own():
    second = SHADOW_RAPID.replace("rapid-large-withdrawals", "rapid-two")
    with pytest.raises(CatalogError, match="second time-window rule"):
        parse_catalog(catalog_text(SHADOW_RAPID + second), "c")
    with pytest.raises(CatalogError, match="mode is 'dark'"):
        parse_catalog(catalog_text(SHADOW_RAPID.replace("mode: shadow", "mode: dark")), "c")


def test_the_live_catalogue_is_unchanged_by_shadow_entries():
    plain, shadowed = parse_catalog(catalog_text(""), "c"), parse_catalog(catalog_text(), "c")
    assert shadowed.rules == plain.rules and plain.shadow() is None
    assert [(r.id, r.version, r.mode) for r in shadowed.shadow_rules] == [("rapid-large-withdrawals", 2, "shadow")]
