"""A worker killed with SIGKILL comes back with its tables whole: from local state, or from changelogs."""

from __future__ import annotations

import os
import shutil
import signal
import uuid

import pytest

from dev.stack.layout import StackLayout
from tests.support.http import get_json
from tests.support.waiting import eventually

from tests.support.ledger_sql import open_account

pytestmark = pytest.mark.integration


def kill_hard(worker) -> None:
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=30)


def test_a_killed_worker_recovers_its_table_with_and_without_local_state(db, stack_env, start_test_worker):
    app_id = f"recovery-{uuid.uuid4().hex[:8]}"
    name = f"{app_id}-worker"
    accounts = [open_account(db, "0")[1] for _ in range(8)]
    # Many updates in one database transaction: Debezium and the worker send them in batches,
    # so changelog partitions end in multi-record batches (where the local broker's end
    # offsets undercount; see transport/end_offsets.py).
    db.execute("DO $$ BEGIN FOR i IN 1..25 LOOP "
               "UPDATE accounts SET balance = balance + 1 WHERE id = ANY(%s); END LOOP; END $$;"
               .replace("%s", "ARRAY[" + ",".join(map(str, accounts)) + "]::bigint[]"))
    expected = {a: "25.00" for a in accounts}

    def balances(worker):
        return {a: get_json(f"{worker.url}/accounts/{a}")[1].get("balance") for a in accounts}

    worker = start_test_worker(app_id=app_id, name=name)
    eventually(lambda: balances(worker), lambda b: b == expected, what="balances before the kill")

    # After each restart the table is recovered (from local state, or from the changelog alone),
    # and changes after the last committed offset are processed again: the balances converge
    # to the database, none lost, none counted twice.
    kill_hard(worker)
    worker = start_test_worker(app_id=app_id, name=name)
    eventually(lambda: balances(worker), lambda b: b == expected, what="balances after a restart")

    kill_hard(worker)
    shutil.rmtree(StackLayout.from_env(stack_env).workers_dir / name)
    worker = start_test_worker(app_id=app_id, name=name)
    eventually(lambda: balances(worker), lambda b: b == expected, what="balances recovered from the changelog")
