"""Domain events end to end: an outbox row written with SQL goes through Debezium's outbox router to its
handler, whose effect shows in the customer overview; an event of an unknown version is counted."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from psycopg.types.json import Jsonb

from tests.support.http import get_json
from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def write_outbox_event(db, aggregate_id: int, event_type: str, payload: dict) -> datetime:
    """One outbox row in its own transaction; returns the database's time just before it."""
    before = db.execute("SELECT clock_timestamp()").fetchone()[0]
    db.execute("INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) VALUES (%s, 'account', %s, %s, %s)",
               (uuid.uuid4(), str(aggregate_id), event_type, Jsonb(payload)))
    return before


def last_activity(worker, customer_id: int):
    status, body = get_json(f"{worker.url}/customers/{customer_id}")
    return datetime.fromisoformat(body["last_activity"]) if status == 200 and body.get("last_activity") else None


def test_money_events_from_the_outbox_reach_their_handler_and_move_the_customers_activity(db, worker):
    customer_id, account_id = open_account(db, "0")
    opened = eventually(lambda: last_activity(worker, customer_id), lambda at: at is not None,
                        what="the new customer in the overview")

    # No row of the account changes: only the MoneyDeposited handler can move the activity.
    before = write_outbox_event(db, account_id, "MoneyDeposited",
                                {"account_id": account_id, "customer_id": customer_id, "amount": "5.00", "version": 1})
    assert before > opened
    deposited = eventually(lambda: last_activity(worker, customer_id), lambda at: at is not None and at >= before,
                           what="the customer's activity moved by MoneyDeposited")

    # MoneyWithdrawn v2 names the account only: the handler finds the customer in the account's state.
    before = write_outbox_event(db, account_id, "MoneyWithdrawn",
                                {"account_id": account_id, "amount": "1.00", "version": 2})
    assert before > deposited
    eventually(lambda: last_activity(worker, customer_id), lambda at: at is not None and at >= before,
               what="the customer's activity moved by MoneyWithdrawn v2 (customer found by its account)")


def test_an_outbox_event_of_an_unknown_version_is_counted_and_skipped(db, worker):
    _, account_id = open_account(db, "0")

    def unhandled():
        return get_json(f"{worker.url}/health")[1]["unhandled_domain_events"].get("MoneyDeposited v9", 0)

    already = unhandled()
    write_outbox_event(db, account_id, "MoneyDeposited", {"account_id": account_id, "amount": "1.00", "version": 9})
    eventually(unhandled, lambda n: n == already + 1, what="MoneyDeposited v9 counted as unhandled")
