"""Trying a changed threshold on the real stack, both ways, against the oracle: a shadow version running in
the worker beside the live rule (alerts.shadow; `python -m ops.shadow` and GET /rules/shadow report it), and a
backtest of it over the transactions topic (`python -m ops.backtest`). Each reports exactly the alerts the
lower count adds, and the live pipeline (topic and view) stays as the live rule alone makes it."""

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
from tests.support.http import get_json
from tests.support.kafka import read_topic
from tests.support.ledger_sql import open_account, post
from tests.support.shadow_catalog import SHADOW_RAPID
from tests.support.waiting import eventually
from topics import SHADOW_ALERTS, WITHDRAWAL_ALERTS

pytestmark = pytest.mark.e2e

#: A stretch of event time no other test posts in; random within it, so that a run against a kept stack does
#: not meet an earlier run's postings at the same instants.
T0 = datetime(2033, 1, 1, 9, 0, tzinfo=timezone.utc) + timedelta(days=uuid.uuid4().int % 3000)
#: The worker is new: it replays the suite's earlier changes first.
CATCH_UP = 300
LIVE_RAPID = "parameters: {window: 10m, count: 3}"


def cli(env, module: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", module, *args, "--json"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return {"report": json.loads(done.stdout), "stderr": done.stderr}


def alert_ids(bootstrap: str, topic: str, account: int) -> set:
    return {decode_envelope(r.value).payload.alert_id for r in read_topic(bootstrap, topic)
            if r.key == str(account).encode()}


def test_a_shadow_run_and_a_backtest_of_a_lower_count_report_the_alerts_the_oracle_adds(
        db, stack_env, start_test_worker, tmp_path):
    text = DEFAULT_CATALOG.read_text(encoding="utf-8")
    assert LIVE_RAPID in text
    with_shadow = tmp_path / "with-shadow.yaml"
    with_shadow.write_text(text + SHADOW_RAPID, encoding="utf-8")
    lower_count = tmp_path / "lower-count.yaml"
    lower_count.write_text(text.replace(LIVE_RAPID, "parameters: {window: 10m, count: 2}"), encoding="utf-8")
    worker = start_test_worker(env={"RULE_CATALOG": str(with_shadow)}, ready_timeout=240)

    _, account = open_account(db, "0")
    post(db, account, "deposit", "20000.00", T0)
    for minutes in (1, 3, 30, 32, 34, 80, 200, 204):  # pairs within 10 minutes, and one run of three
        post(db, account, "withdrawal", "300.00", T0 + timedelta(minutes=minutes))
    txns = ledger_transactions(db, [account])
    live_ids = {a for a, x in oracle.expected_alerts(txns).items() if x.rule == oracle.RAPID}
    tried_ids = {a for a, x in oracle.expected_alerts(txns, oracle.RuleDefinitions(count=2)).items()
                 if x.rule == oracle.RAPID}
    assert len(live_ids) == 1 and len(tried_ids - live_ids) == 3 and live_ids <= tried_ids
    mine = {f"{oracle.RAPID}:{t.txn_id}" for t in txns}  # the alert ids this account's transactions can raise

    def of_account(ids):
        return set(ids) & mine

    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    eventually(lambda: alert_ids(bootstrap, SHADOW_ALERTS.name, account), lambda ids: ids == tried_ids,
               timeout=CATCH_UP, what="the shadow rule's alerts on alerts.shadow")
    eventually(lambda: alert_ids(bootstrap, WITHDRAWAL_ALERTS.name, account), lambda ids: ids == live_ids,
               timeout=CATCH_UP, what="the live rule's alert on alerts.withdrawals")
    # The view serves the live alert only.
    _, body = get_json(f"{worker.url}/alerts/{account}")
    assert {row["alert_id"] for row in body["alerts"]} == live_ids

    # The shadow report: from the shadow's first alert, by alert id.
    shadow = cli(stack_env, "ops.shadow", "--catalog", str(with_shadow))["report"]
    rule = shadow["rules"][oracle.RAPID]
    assert rule["version"] == 2
    assert of_account(rule["shadow"]) == tried_ids and of_account(rule["live"]) == live_ids
    assert of_account(rule["only_shadow"]) == tried_ids - live_ids and of_account(rule["only_live"]) == set()
    # The worker's view answers the same report.
    status, body = get_json(f"{worker.url}/rules/shadow?rule={oracle.RAPID}")
    assert status == 200, body
    served = body["rules"][oracle.RAPID]
    assert {k: of_account(v) for k, v in served.items() if k != "version"} == \
        {k: of_account(v) for k, v in rule.items() if k != "version"}

    # The backtest of the same change, from T0 on: the same difference, and nothing live moved.
    run = cli(stack_env, "ops.backtest", "--catalog", str(lower_count), "--rule", oracle.RAPID,
              "--since", T0.isoformat())
    rule = run["report"]["rules"][oracle.RAPID]
    assert of_account(rule["backtest"]) == tried_ids and of_account(rule["live"]) == live_ids
    assert of_account(rule["only_backtest"]) == tried_ids - live_ids and of_account(rule["only_live"]) == set()
    assert run["report"]["transactions"] >= len(txns) and run["report"]["records_per_second"] > 0
    assert "backtest: 100%" in run["stderr"] and "records/s" in run["stderr"]
    assert alert_ids(bootstrap, WITHDRAWAL_ALERTS.name, account) == live_ids
