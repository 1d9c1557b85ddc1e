"""`python -m ops.backtest` on the real stack: a changed threshold replayed over the transactions topic reports
exactly the difference against the live alerts that the oracle predicts, and leaves the live pipeline alone."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from detection.catalog import DEFAULT_CATALOG
from dev.stack.layout import REPO_ROOT
from schemas.codec.envelope import decode_envelope
from tests.support import oracle
from tests.support.consistency import ledger_transactions
from tests.support.kafka import read_topic
from tests.support.ledger_sql import open_account, post
from tests.support.waiting import eventually
from topics import WITHDRAWAL_ALERTS

pytestmark = pytest.mark.e2e

#: A stretch of event time no other test posts in; --since starts the replay there. Random within it, so a
#: run against a kept stack does not meet an earlier run's postings at the same instants.
T0 = datetime(2033, 1, 1, 9, 0, tzinfo=timezone.utc) + timedelta(days=uuid.uuid4().int % 3000)
#: The module's worker is new: it replays the suite's earlier changes first.
CATCH_UP = 300


def test_a_backtest_of_a_lower_count_reports_the_alerts_the_oracle_adds(db, worker, stack_env, tmp_path):
    _, account = open_account(db, "0")
    post(db, account, "deposit", "20000.00", T0)
    for minutes in (1, 3, 30, 32, 34, 80, 200, 204):  # pairs within 10 minutes, and one run of three
        post(db, account, "withdrawal", "300.00", T0 + timedelta(minutes=minutes))
    txns = ledger_transactions(db, [account])
    live_rules = oracle.RuleDefinitions()
    tried = oracle.RuleDefinitions(count=2)
    live_ids = {a for a, alert in oracle.expected_alerts(txns, live_rules).items() if alert.rule == oracle.RAPID}
    tried_ids = {a for a, alert in oracle.expected_alerts(txns, tried).items() if alert.rule == oracle.RAPID}
    assert len(live_ids) == 1 and len(tried_ids - live_ids) >= 4 and live_ids <= tried_ids

    def on_topic():
        return {decode_envelope(r.value).payload.alert_id
                for r in read_topic(stack_env["KAFKA_BOOTSTRAP"], WITHDRAWAL_ALERTS.name)
                if r.key == str(account).encode()}

    eventually(on_topic, lambda ids: live_ids <= ids, timeout=CATCH_UP, what="the live alert on the topic")

    catalog = tmp_path / "catalog.yaml"
    text = DEFAULT_CATALOG.read_text(encoding="utf-8")
    catalog.write_text(text.replace("parameters: {window: 10m, count: 3}", "parameters: {window: 10m, count: 2}"),
                       encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "ops.backtest", "--catalog", str(catalog), "--rule", oracle.RAPID,
                           "--since", T0.isoformat(), "--json"], cwd=REPO_ROOT, env=stack_env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["rules"]) == {oracle.RAPID}
    rule = report["rules"][oracle.RAPID]
    mine = {f"{oracle.RAPID}:{t.txn_id}" for t in txns}  # alert ids this account's transactions can trigger

    def of_account(ids):
        return set(ids) & mine

    assert of_account(rule["backtest"]) == tried_ids
    assert of_account(rule["live"]) == live_ids
    assert of_account(rule["only_backtest"]) == tried_ids - live_ids
    assert of_account(rule["only_live"]) == set()
    assert report["transactions"] >= len(txns) and report["records"] >= report["transactions"]
    assert report["records_per_second"] > 0
    assert "backtest: 100%" in done.stderr and "records/s" in done.stderr
    # Nothing live moved: the worker's alerts for the account are still the live rule's only.
    assert on_topic() == live_ids
