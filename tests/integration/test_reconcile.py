"""`python -m ops.reconcile` on the real stack: silent on a healthy pipeline, and it finds exactly
the differences a test puts into the read models behind the ledger's back."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from typing import Dict, List, Set, Tuple

import pytest

from tests.integration.test_bad_input import latest_change, partition_of, send_raw
from tests.integration.test_observability import scrape, total
from tests.support.http import get_json
from tests.support.ledger_sql import open_account, open_customer, post
from tests.support.waiting import eventually
from topics import ACCOUNT_CHANGES, CUSTOMER_CHANGES, TRANSACTION_CHANGES

pytestmark = pytest.mark.integration


def reconcile(stack_env: Dict[str, str], worker, *args: str) -> Tuple[int, dict]:
    env = {**stack_env, "WEB_URL": worker.url}
    done = subprocess.run([sys.executable, "-m", "ops.reconcile", "--json", *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def found(report: dict) -> Set[Tuple[str, str, str]]:
    return {(d["model"], d["key"], d["field"]) for d in report["differences"]}


def a_customer_with_postings(db, worker) -> Tuple[int, List[int], str]:
    """A customer with two accounts and a few postings, served by the views: (customer, accounts, day)."""
    customer = open_customer(db, "Ada Lovelace", "ada@example.com")
    accounts = [open_account(db, "100.00", customer)[1] for _ in range(2)]
    for amount in ("10.00", "20.50"):
        post(db, accounts[0], "deposit", amount)
    post(db, accounts[1], "withdrawal", "5.25")
    day = db.execute("SELECT (now() AT TIME ZONE 'UTC')::date::text").fetchone()[0]
    balances = {a: db.execute("SELECT balance::text FROM accounts WHERE id = %s", (a,)).fetchone()[0] for a in accounts}
    eventually(lambda: {a: get_json(f"{worker.url}/accounts/{a}")[1].get("balance") for a in accounts},
               lambda served: served == balances, timeout=90, what="the accounts served")
    return customer, accounts, day


def test_a_healthy_pipeline_has_no_difference(db, worker, stack_env):
    customer, accounts, _ = a_customer_with_postings(db, worker)
    code, report = reconcile(stack_env, worker, "--accounts", ",".join(map(str, accounts)),
                             "--customers", str(customer))
    assert (code, report["differences"]) == (0, [])
    assert report["checked"]["accounts"] == 2 and report["checked"]["customers"] == 1
    assert report["checked"]["turnover_days"] == 2  # one day per account


def test_finds_exactly_the_differences_put_behind_the_ledgers_back(db, worker, stack_env):
    customer, accounts, day = a_customer_with_postings(db, worker)
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    wrong, right = accounts
    before = {a: get_json(f"{worker.url}/accounts/{a}")[1]["balance"] for a in accounts}

    # The account's row as a snapshot read with another balance (the view takes it; the ledger never had it).
    key = str(wrong).encode()
    envelope = latest_change(bootstrap, ACCOUNT_CHANGES.name, key)
    envelope.update(op="r", before=None)
    envelope["after"]["balance"] = str(Decimal(envelope["after"]["balance"]) + Decimal("1000.00"))
    envelope["source"].update(snapshot="true", sequence=None)  # a snapshot read has no stream position
    send_raw(bootstrap, ACCOUNT_CHANGES.name, key=key, value=json.dumps(envelope).encode(), partition=partition_of(key))
    # A customer's name the ledger does not have.
    customer_key = str(customer).encode()
    envelope = latest_change(bootstrap, CUSTOMER_CHANGES.name, customer_key)
    envelope.update(op="r", before=None)
    envelope["after"]["name"] = "Mallory"
    envelope["source"].update(snapshot="true", sequence=None)  # a snapshot read has no stream position
    send_raw(bootstrap, CUSTOMER_CHANGES.name, key=customer_key, value=json.dumps(envelope).encode(),
             partition=partition_of(customer_key))
    # A transaction of the other account that the ledger never had.
    envelope = latest_change(bootstrap, TRANSACTION_CHANGES.name, str(right).encode())
    envelope.update(op="r", before=None)
    envelope["after"].update(id=envelope["after"]["id"] + 10_000_000, kind="deposit", amount="7.00")
    envelope["source"].update(snapshot="true", sequence=None)  # a snapshot read has no stream position
    send_raw(bootstrap, TRANSACTION_CHANGES.name, key=str(right).encode(), value=json.dumps(envelope).encode(),
             partition=partition_of(str(right).encode()))
    eventually(lambda: get_json(f"{worker.url}/accounts/{wrong}"),
               lambda r: r[0] == 200 and Decimal(r[1]["balance"]) - Decimal(before[wrong]) == Decimal("1000.00"),
               timeout=90, what="the forged balance served")
    eventually(lambda: get_json(f"{worker.url}/accounts/{right}/turnover?day={day}"),
               lambda r: r[0] == 200 and r[1]["count"] == 2, timeout=90, what="the forged transaction counted")
    eventually(lambda: get_json(f"{worker.url}/customers/{customer}"),
               lambda r: r[0] == 200 and r[1]["name"] == "Mallory", timeout=90, what="the forged name served")

    code, report = reconcile(stack_env, worker, "--accounts", ",".join(map(str, accounts)),
                             "--customers", str(customer))
    assert code == 1
    assert found(report) == {
        ("account", str(wrong), "balance"),
        ("customer", str(customer), "name"),
        ("customer", str(customer), "total_balance"),  # the overview sums the wrong balance in
        ("turnover", f"{right}:{day}", "deposits"),
        ("turnover", f"{right}:{day}", "count"),
    }
    balance = next(d for d in report["differences"] if d["field"] == "balance")
    assert Decimal(balance["view"]) - Decimal(balance["ledger"]) == Decimal("1000.00")
    assert report["rounds"] == 3  # each difference held in every round

    # The ledger changes the account again: the view follows, and the difference is gone.
    db.execute("UPDATE accounts SET balance = balance + 1, updated_at = now() WHERE id = %s", (wrong,))
    code, report = reconcile(stack_env, worker, "--accounts", str(wrong))
    assert (code, report["differences"]) == (0, [])


def test_a_worker_reconciles_periodically_and_exports_what_it_found(db, stack_env, start_test_worker):
    accounts = db.execute("SELECT count(*) FROM accounts").fetchone()[0]
    worker = start_test_worker(env={"RECONCILE_INTERVAL_S": "2", "RECONCILE_DATABASE_URL": stack_env["DATABASE_URL"]})
    samples = eventually(lambda: scrape(worker.url), lambda s: total(s, "ledgerstream_reconcile_runs_total") >= 1,
                         timeout=240, interval=2, what="a reconciliation run on the worker's metrics")
    assert total(samples, "ledgerstream_reconcile_runs_total", outcome="failed") == 0
    assert total(samples, "ledgerstream_reconcile_checked_keys", model="account") >= accounts
    assert total(samples, "ledgerstream_reconcile_last_success_timestamp_seconds") > 0
