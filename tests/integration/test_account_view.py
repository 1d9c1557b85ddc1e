"""The first slice end to end: SQL in the ledger -> Debezium -> Faust table -> web view."""

from __future__ import annotations

import uuid

import pytest

from agents.dead_letters import dead_letter_topic_name
from tests.support.http import get_json
from tests.support.kafka import produce, read_topic
from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually
from topics import ACCOUNT_CHANGES

pytestmark = pytest.mark.integration


def test_an_account_inserted_with_sql_is_served_by_the_web_view(db, worker):
    customer_id, account_id = open_account(db, "123.45")
    url = f"{worker.url}/accounts/{account_id}"

    status, body = eventually(lambda: get_json(url), lambda r: r[0] == 200, what=f"GET {url} answers 200")

    assert body["account_id"] == account_id
    assert body["customer_id"] == customer_id
    assert body["balance"] == "123.45"
    assert body["currency"] == "EUR"
    assert body["status"] == "open"


def test_updates_and_deletes_follow_the_database(db, worker):
    _, account_id = open_account(db, "10.00")
    url = f"{worker.url}/accounts/{account_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200, what="account visible")

    db.execute("UPDATE accounts SET balance = 2500.10, status = 'frozen', updated_at = now() WHERE id = %s",
               (account_id,))
    _, body = eventually(lambda: get_json(url), lambda r: r[1].get("balance") == "2500.10", what="update visible")
    assert body["status"] == "frozen"

    db.execute("DELETE FROM accounts WHERE id = %s", (account_id,))
    status, body = eventually(lambda: get_json(url), lambda r: r[0] == 404, what="delete visible")
    assert body["error"] == f"account {account_id} not found"


def test_an_undecodable_change_is_dead_lettered_and_the_stream_goes_on(db, worker, stack_env):
    _, account_id = open_account(db, "7.00")
    url = f"{worker.url}/accounts/{account_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200, what="account visible")
    marker = uuid.uuid4().hex.encode()
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    # Keyed like the account, so it lands in the same partition, ahead of the next change.
    key = str(account_id).encode()
    produce(bootstrap, ACCOUNT_CHANGES.name, key=key, value=b'{"op": "c", "truncated' + marker)

    db.execute("UPDATE accounts SET balance = 8.00 WHERE id = %s", (account_id,))
    eventually(lambda: get_json(url), lambda r: r[1].get("balance") == "8.00",
               what="the change after the bad record is applied")

    dlq = dead_letter_topic_name(ACCOUNT_CHANGES.name)
    letters = eventually(lambda: [m for m in read_topic(bootstrap, dlq) if marker in (m.value or b"")],
                         lambda found: len(found) == 1, what="the bad record on the dead-letter topic")
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["dlq.error.class"] == "DecodeError"
    assert "not valid JSON" in headers["dlq.error.reason"]
    assert headers["dlq.source.topic"] == ACCOUNT_CHANGES.name
    assert headers["dlq.agent"] == "project_account_balances"
    assert letters[0].key == key
