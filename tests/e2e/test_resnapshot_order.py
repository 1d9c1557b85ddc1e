"""A new world re-snapshots a physically reordered ledger: every alert, balance and turnover as before and
as the oracle says, alert by alert.

The stack is the test's own (its own folder and free ports), because a new world is the stack's: `down`
then `up` gives a new memory-backed broker, and `up` resets Debezium's replication slot and the workers'
local state, so the connector snapshots the ledger again and a worker rebuilds everything from it. In
between, `CLUSTER transactions USING` an index on amount puts each account's rows in heap order by
amount, far from commit order. The run is seeded: RESNAPSHOT_TEST_SEED repeats it.
"""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Dict, Iterator, List

import psycopg
import pytest

from dev.stack.layout import StackLayout
from tests.support import oracle
from tests.support.consistency import (
    alert_mismatches,
    balance_mismatches,
    ledger_transactions,
    sql_balances,
    sql_turnover,
    summary,
    topic_alerts,
    turnover_mismatches,
    view_alerts,
    wait_until_views_agree,
)
from tests.support.kafka import read_topic
from tests.support.ledger_load import LoadPlan, write_postings
from tests.support.ledger_sql import open_account
from tests.support.oracle import alert_from_view
from tests.support.stack_fixtures import Worker, _worker_factory, base_env, free_port, run_stack
from tests.support.waiting import eventually
from topics import TRANSACTION_CHANGES

pytestmark = pytest.mark.e2e

ACCOUNTS = 40
POSTINGS = 5_000
#: Bursts of large withdrawals several times as often as the crash test's plan: both rules fire often.
BURST_PROBABILITY = 0.04
START = datetime(2026, 5, 3, 21, 0, tzinfo=timezone.utc)
CATCH_UP = 300


@pytest.fixture()
def own_stack(tmp_path) -> Iterator[Dict[str, str]]:
    """A stack of the test's own, up; torn down and purged afterwards."""
    env = base_env(STACK_DIR=str(tmp_path / "stack"), STACK_KAFKA_PORT=str(free_port()),
                   STACK_POSTGRES_PORT=str(free_port()), STACK_CONNECT_PORT=str(free_port()))
    try:
        yield env
    finally:
        run_stack(env, "down", "--purge")


def stack_up(env: Dict[str, str]) -> Dict[str, str]:
    """`up`, as `make up` runs it; the environment with the addresses it wrote."""
    result = run_stack(env, "up")
    assert result.returncode == 0, f"stack up failed:\n{result.stdout}\n{result.stderr}"
    values = dict(line.split("=", 1) for line in (Path(env["STACK_DIR"]) / "env").read_text().splitlines()
                  if "=" in line)
    return {**env, **values, "up_output": result.stdout}


def served_alerts(url: str, accounts: List[int]) -> Dict[str, oracle.ExpectedAlert]:
    return {a.alert_id: a for rows in view_alerts(url, accounts).values() for a in map(alert_from_view, rows)}


def heap_order_differs(db: psycopg.Connection, accounts: List[int]) -> int:
    """How many accounts' large withdrawals a sequential scan returns out of id order."""
    with db.transaction():
        # A sequential scan: the order a snapshot's plain SELECT reads.
        db.execute("SET LOCAL enable_indexscan = off")
        db.execute("SET LOCAL enable_bitmapscan = off")
        rows = db.execute("SELECT account_id, id FROM transactions WHERE kind = 'withdrawal' AND amount >= 200"
                          " AND account_id = ANY(%s)", (accounts,)).fetchall()
    ids: Dict[int, List[int]] = defaultdict(list)
    for account, txn_id in rows:
        ids[account].append(txn_id)
    return sum(found != sorted(found) for found in ids.values())


def snapshot_order(bootstrap: str, accounts: List[int]) -> Dict[int, List[int]]:
    """account -> the transaction ids of its snapshot (`r`) records, in topic order."""
    keys = {str(a).encode() for a in accounts}
    order: Dict[int, List[int]] = defaultdict(list)
    for record in read_topic(bootstrap, TRANSACTION_CHANGES.name):
        if record.key in keys and record.value is not None:
            change = json.loads(record.value)
            assert change["op"] == "r", f"a new world of an idle ledger is all snapshot: {change['op']!r}"
            order[change["after"]["account_id"]].append(change["after"]["id"])
    return order


def test_a_new_world_over_a_reordered_table_gives_the_same_alerts_balances_and_turnover(own_stack):
    seed = int(os.environ.get("RESNAPSHOT_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nresnapshot order: seed {seed} (RESNAPSHOT_TEST_SEED={seed} repeats this run)")
    rng = random.Random(seed)
    stack = stack_up(own_stack)
    started: List[Worker] = []
    start_worker = _worker_factory(stack, started)
    try:
        with psycopg.connect(stack["DATABASE_URL"], autocommit=True) as db:
            accounts = [open_account(db, "0")[1] for _ in range(ACCOUNTS)]
            plan = LoadPlan(random.Random(rng.getrandbits(64)), accounts, START, burst_probability=BURST_PROBABILITY)
            for _ in range(POSTINGS // 500):
                write_postings(db, plan.take(500))  # one writer, one posting per transaction: id order is commit order

            txns = ledger_transactions(db, accounts)
            assert len(txns) == POSTINGS
            balances = sql_balances(db, accounts)
            turnover = sql_turnover(db, accounts)
            opening = {a: Decimal("0.00") for a in accounts}
            assert {a: str(b) for a, b in oracle.expected_balances(txns, opening).items()} == balances
            assert oracle.expected_turnover(txns) == turnover
            expected = oracle.expected_alerts(txns)
            by_rule = {rule: sum(a.rule == rule for a in expected.values()) for rule in (oracle.RAPID, oracle.BURST)}
            assert min(by_rule.values()) >= 30, f"the load should make both rules fire many times: {by_rule}"

            # The first world: streamed, in commit order.
            worker = start_worker(app_id="resnapshot", name="resnapshot-worker", ready_timeout=240)
            wait_until_views_agree(worker.url, accounts, balances, turnover, expected, timeout=CATCH_UP)
            before = served_alerts(worker.url, accounts)
            assert before == expected
            worker.stop()

            # Reorder the table physically: each account's rows by amount.
            db.execute("CREATE INDEX transactions_amount_idx ON transactions (amount)")
            db.execute("CLUSTER transactions USING transactions_amount_idx")
            db.execute("ANALYZE transactions")
            reordered = heap_order_differs(db, accounts)
            assert reordered >= ACCOUNTS // 2, f"CLUSTER should put most accounts out of id order: {reordered}"

        # A new world: down and up, as `make down` / `make up` (PostgreSQL restarts with its data).
        down = run_stack(own_stack, "down")
        assert down.returncode == 0, down.stderr
        stack = stack_up(own_stack)
        up_output = stack["up_output"]
        assert "kafka: starting" in up_output and "replication slot ledgerstream reset" in up_output, up_output
        assert not StackLayout.from_env(stack).workers_dir.exists()
        start_worker = _worker_factory(stack, started)
        worker = start_worker(app_id="resnapshot", name="resnapshot-worker", ready_timeout=240)

        with psycopg.connect(stack["DATABASE_URL"], autocommit=True) as db:
            wait_until_views_agree(worker.url, accounts, balances, turnover, expected, timeout=CATCH_UP)
            on_topic = eventually(lambda: topic_alerts(stack["KAFKA_BOOTSTRAP"], accounts),
                                  lambda t: set(expected) <= t.ids, timeout=CATCH_UP, interval=2,
                                  what="every expected alert on the new broker's alerts.withdrawals")

            # Settled: alert by alert (id and content), as before the new world and as the oracle says.
            after = served_alerts(worker.url, accounts)
            assert sorted(set(before) ^ set(after)) == []
            assert [i for i in sorted(before) if before[i] != after[i]] == []
            assert alert_mismatches(expected, view_alerts(worker.url, accounts)) == {}
            assert summary(on_topic.mismatches(expected)) == {}  # every alert of the oracle, none extra
            assert balance_mismatches(worker.url, balances) == []
            assert turnover_mismatches(worker.url, turnover) == []
            assert sql_balances(db, accounts) == balances and sql_turnover(db, accounts) == turnover

            # Why: the snapshot delivered every account's transactions in id order despite the heap.
            delivered = snapshot_order(stack["KAFKA_BOOTSTRAP"], accounts)
            assert sum(len(ids) for ids in delivered.values()) == POSTINGS
            assert [a for a, ids in delivered.items() if ids != sorted(ids)] == []
            print(f"{POSTINGS} postings over {ACCOUNTS} accounts; {len(expected)} alerts expected "
                  f"({by_rule[oracle.RAPID]} rapid, {by_rule[oracle.BURST]} burst); heap order differs from id "
                  f"order for {reordered} accounts; after the new world all {len(after)} alerts equal, "
                  f"{on_topic.resent} re-sent copies on the topic")
    finally:
        for worker in started:
            worker.stop()
