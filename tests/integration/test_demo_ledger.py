"""Integration tests of the demo ledger's postings and CLI against a real PostgreSQL."""

import os
import random
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

import dev.demo_ledger.outbox
from dev.demo_ledger.connection import connect
from dev.demo_ledger.postings import (
    AccountNotOpen,
    deposit,
    freeze_account,
    open_account,
    open_customer,
    read_account,
    withdraw,
)
from dev.demo_ledger.traffic import small_amount

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def conn(stack_env):
    with connect(stack_env["DATABASE_URL"]) as connection:
        yield connection


@pytest.fixture
def account(conn):
    customer_id = open_customer(conn, "Test Customer", "test.customer@example.com")
    return open_account(conn, customer_id)


def scalar(conn, sql, *params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def rows_of(conn, account_id):
    """How many transactions rows and outbox rows the account has."""
    return (
        scalar(conn, "SELECT count(*) FROM transactions WHERE account_id = %s", account_id),
        scalar(conn, "SELECT count(*) FROM outbox WHERE aggregatetype = 'account' AND aggregateid = %s",
               str(account_id)),
    )


def ledger_sum(conn, account_id):
    return scalar(
        conn,
        "SELECT coalesce(sum(CASE kind WHEN 'deposit' THEN amount ELSE -amount END), 0)::numeric(18,2)"
        " FROM transactions WHERE account_id = %s",
        account_id,
    )


def test_opening_writes_customer_and_account_events(conn):
    customer_id = open_customer(conn, "Ada Almeida", "ada@example.com")
    account_id = open_account(conn, customer_id, "GBP")
    assert read_account(conn, account_id) == (account_id, customer_id, "GBP", Decimal("0.00"), "open")
    with conn.cursor() as cur:
        cur.execute(
            "SELECT aggregatetype, type, payload FROM outbox WHERE (aggregatetype, aggregateid) IN"
            " (('customer', %s), ('account', %s)) ORDER BY aggregatetype DESC",
            (str(customer_id), str(account_id)),
        )
        (c_type, c_event, c_payload), (a_type, a_event, a_payload) = cur.fetchall()
    assert (c_type, c_event) == ("customer", "CustomerOpened")
    assert c_payload == {"customer_id": customer_id, "name": "Ada Almeida", "email": "ada@example.com", "version": 1}
    assert (a_type, a_event) == ("account", "AccountOpened")
    assert a_payload["account_id"] == account_id and a_payload["currency"] == "GBP"
    assert a_payload["balance"] == "0.00" and a_payload["version"] == 1


def test_balance_is_deposits_minus_withdrawals(conn, account):
    rng = random.Random(11)
    expected = Decimal("0.00")
    for _ in range(60):
        amount = small_amount(rng)
        if rng.random() < 0.5:
            expected += amount
            assert deposit(conn, account, amount) == expected
        else:
            result = withdraw(conn, account, amount)
            if amount <= expected:
                expected -= amount
                assert result == expected
            else:
                assert result is None
    assert read_account(conn, account).balance == expected == ledger_sum(conn, account)
    assert expected >= 0


def test_overdraft_is_refused_and_writes_nothing(conn, account):
    deposit(conn, account, Decimal("100.00"))
    before = rows_of(conn, account)
    updated_at = scalar(conn, "SELECT updated_at FROM accounts WHERE id = %s", account)
    assert withdraw(conn, account, Decimal("100.01")) is None
    assert rows_of(conn, account) == before
    assert read_account(conn, account).balance == Decimal("100.00")
    assert scalar(conn, "SELECT updated_at FROM accounts WHERE id = %s", account) == updated_at
    # Exactly the balance is allowed: the guard is "never below zero", not "never to zero".
    assert withdraw(conn, account, Decimal("100.00")) == Decimal("0.00")


def test_each_posting_writes_one_outbox_row_in_the_same_transaction(conn, account):
    for post, kind, event in ((deposit, "deposit", "MoneyDeposited"), (withdraw, "withdrawal", "MoneyWithdrawn")):
        balance = post(conn, account, Decimal("250.00"))
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, kind, amount, xmin::text FROM transactions WHERE account_id = %s ORDER BY id DESC LIMIT 1",
                (account,),
            )
            transaction_id, row_kind, amount, tx_xmin = cur.fetchone()
            cur.execute(
                "SELECT aggregatetype, aggregateid, type, payload, xmin::text FROM outbox"
                " WHERE (payload->>'transaction_id')::bigint = %s",
                (transaction_id,),
            )
            events = cur.fetchall()
            cur.execute("SELECT xmin::text FROM accounts WHERE id = %s", (account,))
            (account_xmin,) = cur.fetchone()
        assert (row_kind, amount) == (kind, Decimal("250.00"))
        assert len(events) == 1
        aggregatetype, aggregateid, event_type, payload, outbox_xmin = events[0]
        assert (aggregatetype, aggregateid, event_type) == ("account", str(account), event)
        assert payload == {
            "account_id": account,
            "transaction_id": transaction_id,
            "amount": "250.00",
            "balance_after": f"{balance:f}",
            "currency": "EUR",
            "version": 1,
        }
        # Same xmin: the three rows were written by one and the same database transaction.
        assert tx_xmin == outbox_xmin == account_xmin


def test_failed_outbox_write_undoes_the_posting(conn, account, monkeypatch):
    deposit(conn, account, Decimal("50.00"))
    used_id = scalar(conn, "SELECT id FROM outbox WHERE aggregateid = %s LIMIT 1", str(account))
    before = rows_of(conn, account)
    # An event id that already exists makes the outbox insert fail after the balance moved.
    monkeypatch.setattr(dev.demo_ledger.outbox, "new_event_id", lambda: used_id)
    with pytest.raises(psycopg.errors.UniqueViolation):
        deposit(conn, account, Decimal("10.00"))
    with pytest.raises(psycopg.errors.UniqueViolation):
        withdraw(conn, account, Decimal("10.00"))
    monkeypatch.undo()
    assert rows_of(conn, account) == before
    assert read_account(conn, account).balance == Decimal("50.00") == ledger_sum(conn, account)


def test_concurrent_withdrawals_never_overdraw(stack_env, conn, account):
    deposit(conn, account, Decimal("100.00"))
    workers = 8
    barrier = threading.Barrier(workers)
    results = []

    def spend():
        with connect(stack_env["DATABASE_URL"]) as own:
            barrier.wait(timeout=30)
            results.append(withdraw(own, account, Decimal("30.00")))

    threads = [threading.Thread(target=spend) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Whatever the interleaving, exactly three 30.00 withdrawals fit into 100.00.
    assert len(results) == workers
    assert sorted(r for r in results if r is not None) == [Decimal("10.00"), Decimal("40.00"), Decimal("70.00")]
    assert read_account(conn, account).balance == Decimal("10.00") == ledger_sum(conn, account)
    assert rows_of(conn, account) == (4, 5)  # 1 deposit + 3 withdrawals; their 4 events + AccountOpened


def test_frozen_account_takes_no_postings(conn, account):
    deposit(conn, account, Decimal("80.00"))
    assert freeze_account(conn, account) is True
    assert freeze_account(conn, account) is False
    before = rows_of(conn, account)
    with pytest.raises(AccountNotOpen):
        deposit(conn, account, Decimal("1.00"))
    assert withdraw(conn, account, Decimal("1.00")) is None
    assert rows_of(conn, account) == before
    payload = scalar(
        conn, "SELECT payload FROM outbox WHERE aggregateid = %s AND type = 'AccountFrozen'", str(account)
    )
    assert payload["status"] == "frozen" and payload["balance"] == "80.00" and payload["version"] == 1


def test_floats_are_refused(conn, account):
    with pytest.raises(TypeError):
        deposit(conn, account, 10.5)
    with pytest.raises(ValueError):
        withdraw(conn, account, Decimal("0.00"))
    assert rows_of(conn, account) == (0, 1)


def ledger_cli(stack_env, *args, **popen):
    env = {**os.environ, "DATABASE_URL": stack_env["DATABASE_URL"]}
    return [sys.executable, "-m", "dev.demo_ledger", *args], dict(cwd=REPO, env=env, text=True, **popen)


def test_cli_posts_exactly_count_and_keeps_the_books(stack_env, conn):
    first_new = scalar(conn, "SELECT coalesce(max(id), 0) + 1 FROM accounts")
    cmd, kw = ledger_cli(stack_env, "--count", "50", "--rate", "1000", "--customers", "5", "--seed", "7",
                         "--burst-probability", "0.2")
    result = subprocess.run(cmd, capture_output=True, timeout=120, **kw)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "stopped after" in result.stdout and "50 postings" in result.stdout and "(seed 7)" in result.stdout
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.id, a.balance,"
            "  coalesce(sum(CASE t.kind WHEN 'deposit' THEN t.amount ELSE -t.amount END), 0)::numeric(18,2),"
            "  count(t.id),"
            "  (SELECT count(*) FROM outbox o WHERE o.aggregateid = a.id::text AND o.type LIKE 'Money%%')"
            " FROM accounts a LEFT JOIN transactions t ON t.account_id = a.id"
            " WHERE a.id >= %s GROUP BY a.id",
            (first_new,),
        )
        accounts = cur.fetchall()
    assert accounts
    assert all(balance == total and balance >= 0 for _, balance, total, _, _ in accounts)
    assert sum(n for *_, n, _ in accounts) == 50
    assert sum(events for *_, events in accounts) == 50
    large = scalar(
        conn,
        "SELECT count(*) FROM transactions WHERE account_id >= %s AND kind = 'withdrawal' AND amount >= 200",
        first_new,
    )
    assert large >= 3  # at least one burst got out


def test_cli_stops_cleanly_on_sigterm(stack_env):
    cmd, kw = ledger_cli(stack_env, "--customers", "2", "--rate", "50", "--seed", "1")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw) as proc:
        try:
            started = proc.stdout.readline()  # blocks until setup is done and posting begins
            assert "opened 2 customers" in started
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert err == "" and "Traceback" not in out
    assert "stopped after" in out.strip().splitlines()[-1]


def test_a_deposit_brought_over_is_dated_days_back_and_the_next_posting_today(conn, account):
    deposit(conn, account, "500.00", days_back=31)
    withdraw(conn, account, "200.00")
    gap = scalar(conn, "SELECT max(created_at) - min(created_at) FROM transactions WHERE account_id = %s", account)
    assert 31 <= gap.days <= 31 + 1 and gap.total_seconds() >= 31 * 86400
    assert rows_of(conn, account)[0] == 2
