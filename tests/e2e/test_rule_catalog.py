"""The catalogue's new rules on the real stack: deposit-then-drain and dormant-reactivation from SQL to the
alerts view and topic, with severity and version, exactly as the oracle says for everything the account did."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from detection.catalog import read_catalog
from schemas.codec.envelope import decode_envelope
from tests.support import oracle
from tests.support.consistency import ledger_transactions
from tests.support.http import get_json
from tests.support.kafka import read_topic
from tests.support.ledger_sql import open_account, post
from tests.support.waiting import eventually
from topics import WITHDRAWAL_ALERTS

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 2, 10, 9, 0, tzinfo=timezone.utc)
#: The module's worker is new: it replays every change the suite's earlier tests wrote before it reaches
#: this account's, a few minutes' worth on two shared cores at the end of a full run.
CATCH_UP = 300


def at(minutes: float = 0, days: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, days=days)


def test_a_drained_deposit_and_a_dormant_account_alert_as_the_oracle_says(db, worker, stack_env):
    _, account = open_account(db, "0")
    txn = {
        "old": post(db, account, "deposit", "3000.00", at(days=-40)),
        "d1": post(db, account, "deposit", "1000.00", at(0)),        # 40 days of silence: not a withdrawal
        "w1": post(db, account, "withdrawal", "450.00", at(5)),
        "w2": post(db, account, "withdrawal", "449.99", at(30)),      # 899.99: one cent short of 90%
        "w3": post(db, account, "withdrawal", "500.00", at(30.01)),   # after d1's window
        "d2": post(db, account, "deposit", "2000.00", at(60)),
        "w4": post(db, account, "withdrawal", "1800.00", at(90)),     # exactly 90% at the window's edge
        "w5": post(db, account, "withdrawal", "100.00", at(91)),      # d2 already alerted: never again
        "w6": post(db, account, "withdrawal", "200.00", at(91, days=30)),   # exactly 30 days of silence
    }
    expected = {
        f"deposit-then-drain:{txn['d2']}": {"trigger_txn_id": txn["w4"], "txn_ids": sorted([txn["d2"], txn["w4"]]),
                                            "total": "1800.00", "count": 1, "severity": "high"},
        f"dormant-reactivation:{txn['w6']}": {"trigger_txn_id": txn["w6"], "txn_ids": [txn["w6"]],
                                              "total": "200.00", "count": 1, "severity": "medium"},
    }
    # The oracle agrees with the hand-written answer, over everything the account did.
    by_oracle = oracle.expected_alerts(ledger_transactions(db, [account]))
    assert set(by_oracle) == set(expected)

    _, body = eventually(lambda: get_json(f"{worker.url}/alerts/{account}"),
                         lambda r: len(r[1].get("alerts", [])) >= len(expected), timeout=CATCH_UP,
                         what="the two alerts in the view")
    served = {row["alert_id"]: row for row in body["alerts"]}
    assert set(served) == set(expected)
    catalog = read_catalog()
    for alert_id, want in expected.items():
        row = served[alert_id]
        assert {k: row[k] for k in want} == want
        assert row["rule_version"] == catalog.rule(row["rule"]).version
        assert oracle.alert_from_view(row) == by_oracle[alert_id]

    def on_topic():
        return {decoded.payload.alert_id: decoded
                for decoded in (decode_envelope(r.value)
                                for r in read_topic(stack_env["KAFKA_BOOTSTRAP"], WITHDRAWAL_ALERTS.name)
                                if r.key == str(account).encode())}

    found = eventually(on_topic, lambda f: set(f) == set(expected), timeout=CATCH_UP,
                       what="the two alerts on the topic")
    for alert_id, decoded in found.items():
        assert decoded.envelope.event_version == 3
        assert (decoded.payload.severity, decoded.payload.rule_version) == (expected[alert_id]["severity"], 1)
        assert oracle.alert_from_event(decoded.payload) == by_oracle[alert_id]
        assert Decimal(decoded.payload.total) == Decimal(expected[alert_id]["total"])
