"""Batch agents keep table rows in a cache between flushes (batching/): views read through it, a clean stop
flushes and commits it.

With a flush interval of an hour, the only flush while these workers run is the one on stop: the
changelog says when rows reached the table, the committed offsets that nothing is replayed.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.http import get_json
from tests.support.kafka import committed_offsets, read_topic
from tests.support.ledger_sql import open_account, post
from tests.support.waiting import eventually
from topics import ACCOUNT_CHANGES, TRANSACTION_CHANGES

pytestmark = pytest.mark.integration

NO_FLUSH_WHILE_RUNNING = {"STATE_FLUSH_INTERVAL_MS": str(3600 * 1000), "STATE_FLUSH_RECORDS": "100000000"}
TRANSACTIONS_AGENT = "agents.transactions.fold_transactions"
ACCOUNTS_AGENT = "agents.accounts.project_account_balances"


def _handled(worker, agent: str) -> int:
    status, body = get_json(f"{worker.url}/health")
    return ((body or {}).get("batch_agents") or {}).get(agent, {}).get("records", 0)


def _records_until(bootstrap: str, topic: str, is_ours) -> list:
    """Every record on `topic` once the one `is_ours` picks is there (Debezium has sent it)."""
    return eventually(lambda: read_topic(bootstrap, topic), lambda rs: any(is_ours(r) for r in rs),
                      what=f"our change on {topic}")


def _after_id(record) -> object:
    try:  # the topic also holds the bad input other tests wrote
        value = json.loads(record.value)
        return (value.get("payload", value).get("after") or {}).get("id")
    except (TypeError, ValueError, AttributeError):
        return None


def test_a_clean_stop_flushes_cached_rows_and_commits_their_offsets(db, stack_env, start_test_worker):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    app_id = f"flush-{uuid.uuid4().hex[:8]}"
    name = f"{app_id}-worker"
    _, account = open_account(db, "0")
    txn_ids = [post(db, account, "deposit", "10.00") for _ in range(5)]
    transactions = _records_until(bootstrap, TRANSACTION_CHANGES.name, lambda r: _after_id(r) == txn_ids[-1])
    accounts = _records_until(bootstrap, ACCOUNT_CHANGES.name,
                              lambda r: _after_id(r) == account and "50.00" in r.value.decode())
    accounts = read_topic(bootstrap, ACCOUNT_CHANGES.name)  # everything up to now, ours included

    worker = start_test_worker(app_id=app_id, name=name, env=NO_FLUSH_WHILE_RUNNING)
    eventually(lambda: (_handled(worker, TRANSACTIONS_AGENT), _handled(worker, ACCOUNTS_AGENT)),
               lambda n: n[0] >= len(transactions) and n[1] >= len(accounts), what="every record handled")
    changelog = f"{app_id}-balance_by_account-changelog"
    ours = str(account).encode()
    assert not [r for r in read_topic(bootstrap, changelog) if r.key == ours], "a row reached the table before a flush"
    status, body = get_json(f"{worker.url}/accounts/{account}")
    assert status == 200 and body["balance"] == "50.00"  # the view reads through the cache

    worker.stop()
    assert worker.process.returncode == 0
    for topic, records in ((TRANSACTION_CHANGES.name, transactions), (ACCOUNT_CHANGES.name, accounts)):
        ends = {}
        for r in records:
            ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)
        assert committed_offsets(bootstrap, app_id, topic, records) == ends, f"{topic} not committed on stop"

    assert [json.loads(r.value)["balance"] for r in read_topic(bootstrap, changelog) if r.key == ours] == ["50.00"]

    worker = start_test_worker(app_id=app_id, name=name, env=NO_FLUSH_WHILE_RUNNING)
    status, body = get_json(f"{worker.url}/accounts/{account}")
    assert status == 200 and body["balance"] == "50.00"
    status, body = get_json(f"{worker.url}/health")
    assert body["batch_agents"][TRANSACTIONS_AGENT]["records"] == 0
