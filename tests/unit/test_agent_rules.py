"""fold_transactions runs the catalogue: the new rules' alerts are kept and sent with severity and version."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from detection.catalog import read_catalog
from tables.alerts import alerts_by_account
from tables.sequence_state import sequence_state_by_account
from topics import TRANSACTION_CHANGES, WITHDRAWAL_ALERTS

TRANSACTIONS = TRANSACTION_CHANGES.name
T0 = datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)


def _post(driver, changes, txn_id, account_id, kind, amount, at):
    record = changes.insert("transactions", changes.transaction(txn_id, account_id=account_id, kind=kind,
                                                                amount=str(amount), created_at=at))
    driver.pipe(TRANSACTIONS, *record)
    return record


def test_a_drained_deposit_and_a_dormant_account_alert_with_their_severity_version_and_sources(driver, changes):
    catalog = read_catalog()
    _post(driver, changes, 10, 3, "deposit", "2000.00", T0)
    _post(driver, changes, 11, 3, "withdrawal", "1000.00", T0 + timedelta(minutes=10))
    _post(driver, changes, 12, 3, "withdrawal", "800.00", T0 + timedelta(minutes=20))   # 1800 = 90%
    _post(driver, changes, 13, 3, "withdrawal", "150.00", T0 + timedelta(minutes=21))
    _post(driver, changes, 14, 3, "withdrawal", "200.00", T0 + timedelta(days=30, minutes=21))
    driver.run()

    sent = {payload.alert_id: (envelope, payload)
            for envelope, payload in (r.envelope() for r in driver.sent(WITHDRAWAL_ALERTS.name))}
    assert set(sent) == {"deposit-then-drain:10", "dormant-reactivation:14"}
    envelope, drain = sent["deposit-then-drain:10"]
    assert envelope.event_version == 3
    assert (drain.trigger_txn_id, list(drain.txn_ids), drain.total) == (12, [10, 11, 12], "1800.00")
    rule = catalog.rule("deposit-then-drain")
    assert (drain.severity, drain.rule_version) == (rule.severity, rule.version)
    assert [s["txn_id"] for s in drain.sources] == [10, 11, 12]
    dormant = sent["dormant-reactivation:14"][1]
    assert (dormant.severity, dormant.rule_version) == ("medium", 1)
    rows = driver.rows(alerts_by_account)[3]
    assert [(r["alert_id"], r["severity"], r["rule_version"]) for r in rows] == [
        ("deposit-then-drain:10", "high", 1), ("dormant-reactivation:14", "medium", 1)]
    state = driver.rows(sequence_state_by_account)[3]["rules"]
    assert state["deposit-then-drain"]["open"] == [] and state["dormant-reactivation"]["seen"] == 14
