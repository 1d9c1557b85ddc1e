"""Kafka Connect killed mid-load and restarted: no change is lost, and what Debezium sends again
(everything after its last flushed offset) is not counted twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest

from dev.stack.layout import StackLayout
from dev.stack.processes import pid_alive, read_pid
from tests.support import oracle
from tests.support.consistency import (
    alert_mismatches,
    balance_mismatches,
    ledger_transactions,
    sql_balances,
    sql_turnover,
    turnover_mismatches,
    view_alerts,
    wait_until_views_agree,
)
from tests.support.kafka import read_topic
from tests.support.ledger_load import LoadPlan, LoadRunner
from tests.support.ledger_sql import open_account
from tests.support.stack_fixtures import run_stack
from tests.support.waiting import eventually
from topics import TRANSACTION_CHANGES

pytestmark = pytest.mark.e2e

ACCOUNTS = 50
POSTINGS = 6_000
RATE = 150
START = datetime(2026, 4, 10, 22, 0, tzinfo=timezone.utc)
CATCH_UP = 300


def transaction_changes(bootstrap: str, accounts) -> Counter:
    """How often each of the accounts' transactions is on the change topic (by transaction id)."""
    keys = {str(a).encode() for a in accounts}
    return Counter(json.loads(r.value)["after"]["id"] for r in read_topic(bootstrap, TRANSACTION_CHANGES.name)
                   if r.key in keys and r.value is not None)


def test_a_connect_worker_killed_mid_load_loses_no_change_and_counts_none_twice(db, stack_env, start_test_worker):
    seed = int(os.environ.get("CONNECT_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nconnector restart: seed {seed} (CONNECT_TEST_SEED={seed} repeats this run)")
    rng = random.Random(seed)
    layout = StackLayout.from_env(stack_env)
    accounts = [open_account(db, "0")[1] for _ in range(ACCOUNTS)]
    kill_at = rng.randint(int(0.2 * POSTINGS), int(0.5 * POSTINGS))
    # The end of the load waits for Connect to be back, so postings flow before, during and after.
    load = LoadRunner(stack_env["DATABASE_URL"], LoadPlan(random.Random(rng.getrandbits(64)), accounts, START),
                      total=POSTINGS, rate=RATE, hold_at=POSTINGS - 600)
    worker = start_test_worker(app_id=f"connect-restart-{uuid.uuid4().hex[:8]}", ready_timeout=240)
    load.start()
    try:
        posted = load.wait_posted(kill_at, timeout=300)
        assert not load.done, f"the load ended before the kill: {load.error!r}"
        pid = read_pid(layout.pid_file("connect"))
        assert pid_alive(pid), "Kafka Connect is not running"
        os.killpg(pid, signal.SIGKILL)
        eventually(lambda: pid_alive(pid), lambda alive: not alive, timeout=30, what="Kafka Connect gone")
        killed = time.monotonic()
        # The same command that started it: it sees Connect gone, starts it, re-applies the connectors.
        result = run_stack(stack_env, "up", timeout=600)
        assert result.returncode == 0, f"stack up failed:\n{result.stdout}\n{result.stderr}"
        back = time.monotonic() - killed
        during = load.posted - posted
        print(f"Connect SIGKILLed at {posted} postings committed; `stack up` had it running again in {back:.1f} s, "
              f"{during} postings committed meanwhile")
        load.release()
        load.join(timeout=600)

        txns = ledger_transactions(db, accounts)
        assert len(txns) == POSTINGS
        balances = sql_balances(db, accounts)
        turnover = sql_turnover(db, accounts)
        expected = oracle.expected_alerts(txns)
        url = worker.url
        wait_until_views_agree(url, accounts, balances, turnover, expected, timeout=CATCH_UP)

        # The case this test exists for: Debezium sent again what it had sent after its last offset
        # flush (every second on the local stack, while 150 postings a second flow: a kill lands
        # well after a flush but for a few milliseconds in a thousand).
        sent = transaction_changes(stack_env["KAFKA_BOOTSTRAP"], accounts)
        assert set(sent) == {t.txn_id for t in txns}, "a transaction never reached the change topic"
        resent = sum(sent.values()) - len(sent)
        assert resent > 0, "no change was sent twice: the run did not test redelivery (CONNECT_TEST_SEED repeats it)"

        # Exactly, at once: each day counts each transaction once, whatever was sent twice.
        assert balance_mismatches(url, balances) == []
        assert turnover_mismatches(url, turnover) == []
        assert alert_mismatches(expected, view_alerts(url, accounts)) == {}
        print(f"load: {len(txns)} transactions over {ACCOUNTS} accounts ({len(turnover)} account-days); "
              f"{sum(sent.values())} transaction changes on the topic, {resent} of them sent again after the "
              f"restart; balances, turnover (counts exact) and {len(expected)} alerts all equal")
    finally:
        load.stop()  # the workers are stopped by their fixture
        if not pid_alive(read_pid(layout.pid_file("connect"))):
            run_stack(stack_env, "up", timeout=600)  # leave the stack whole for the tests after this one
