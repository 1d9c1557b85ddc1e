"""A worker killed with SIGKILL after a flush comes back with its tables whole, from local state or from
the changelogs alone, without re-reading the source records it had committed."""

from __future__ import annotations

import shutil
import uuid

import pytest

from dev.stack.layout import StackLayout
from tests.support.http import get_json
from tests.support.kafka import committed_offsets, read_topic
from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually
from topics import ACCOUNT_CHANGES

pytestmark = pytest.mark.integration

AGENT = "agents.accounts.project_account_balances"
#: Flush (and so commit) often in the first run, so the kill comes after a flush and a commit.
QUICK_FLUSH = {"STATE_FLUSH_INTERVAL_MS": "300"}


def test_a_killed_worker_recovers_its_table_with_and_without_local_state(db, stack_env, start_test_worker):
    app_id = f"recovery-{uuid.uuid4().hex[:8]}"
    name = f"{app_id}-worker"
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    accounts = [open_account(db, "0")[1] for _ in range(8)]
    # Many updates in one database transaction: Debezium and the worker send them in batches,
    # so changelog partitions end in multi-record batches (where the local broker's end
    # offsets undercount; see engine/transport/end_offsets.py).
    db.execute("DO $$ BEGIN FOR i IN 1..25 LOOP "
               "UPDATE accounts SET balance = balance + 1 WHERE id = ANY(%s); END LOOP; END $$;"
               .replace("%s", "ARRAY[" + ",".join(map(str, accounts)) + "]::bigint[]"))
    expected = {a: "25.00" for a in accounts}

    def balances(worker):
        return {a: get_json(f"{worker.url}/accounts/{a}")[1].get("balance") for a in accounts}

    def source_records_handled(worker) -> int:
        return get_json(f"{worker.url}/health")[1]["batch_agents"].get(AGENT, {}).get("records", 0)

    worker = start_test_worker(app_id=app_id, name=name, env=QUICK_FLUSH)
    eventually(lambda: balances(worker), lambda b: b == expected, what="balances before the kill")
    # The view reads through the row cache; wait until the rows were flushed and the offsets
    # after them committed, so that a restart has nothing of the source left to read.
    ours = [r for r in read_topic(bootstrap, ACCOUNT_CHANGES.name) if r.key and int(r.key) in accounts]
    end = {}
    for r in ours:
        end[r.partition] = max(end.get(r.partition, 0), r.offset + 1)
    eventually(lambda: committed_offsets(bootstrap, app_id, ACCOUNT_CHANGES.name, ours),
               lambda c: all((c.get(p) or 0) >= offset for p, offset in end.items()), timeout=60,
               what="the group's offsets committed past every change of the test's accounts")
    assert source_records_handled(worker) >= len(ours)

    # 1. Killed with its local state kept: the table comes back from RocksDB (and the changelog's
    #    tail), and the source is read on from the committed offsets: none of it again.
    worker.kill()
    worker = start_test_worker(app_id=app_id, name=name)
    eventually(lambda: balances(worker), lambda b: b == expected, what="balances after a restart")
    assert source_records_handled(worker) == 0, "the restart re-read source records it had committed"

    # 2. Killed and its local state deleted: the balances can only come from the changelog, since
    #    no source record is read again.
    worker.kill()
    shutil.rmtree(StackLayout.from_env(stack_env).workers_dir / name)
    worker = start_test_worker(app_id=app_id, name=name)
    eventually(lambda: balances(worker), lambda b: b == expected, what="balances recovered from the changelog")
    assert source_records_handled(worker) == 0, "recovery replayed the source instead of the changelog"
    changelog = [r for r in read_topic(bootstrap, f"{app_id}-balance_by_account-changelog")
                 if r.key and int(r.key) in accounts]
    assert {int(r.key) for r in changelog} == set(accounts)
