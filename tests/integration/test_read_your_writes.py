"""Read-your-writes on the real stack: a posting's LSN as `min_lsn`, the answer includes the posting."""

from __future__ import annotations

import statistics
import threading
import time
from decimal import Decimal
from typing import Dict, List

import psycopg
import pytest

from tests.support.http import get_json
from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

#: Postings in all, spread over THREADS clients, each with its own accounts (nobody else writes them,
#: so the balance its own commit left is the balance a view reflecting that commit must show).
POSTINGS = 1000
THREADS = 4
ACCOUNTS_PER_THREAD = 3


def _post_and_read_lsn(db: psycopg.Connection, account_id: int, amount: Decimal):
    """Commit one posting; then, as a client would, read the WAL position: (new balance, LSN text)."""
    with db.transaction():
        db.execute("INSERT INTO transactions (account_id, kind, amount) VALUES (%s, 'deposit', %s)",
                   (account_id, amount))
        balance = db.execute("UPDATE accounts SET balance = balance + %s, updated_at = now() WHERE id = %s "
                             "RETURNING balance", (amount, account_id)).fetchone()[0]
    lsn = db.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    return balance, lsn


def test_min_lsn_answers_include_the_clients_own_write_every_time(stack_env, worker, db):
    accounts = [[open_account(db, "0.00")[1] for _ in range(ACCOUNTS_PER_THREAD)] for _ in range(THREADS)]
    for account_id in (a for group in accounts for a in group):
        url = f"{worker.url}/accounts/{account_id}"
        eventually(lambda: get_json(url), lambda r: r[0] == 200, what=f"{url} answers")  # noqa: B023 (called here)
    results: Dict[str, List] = {"stale_with_min_lsn": [], "stale_without": [], "errors": [], "waits": [],
                                "not_yet": []}
    lock = threading.Lock()

    def client(mine: List[int], count: int, seed: int) -> None:
        with psycopg.connect(stack_env["DATABASE_URL"], autocommit=True) as conn:
            for i in range(count):
                account_id = mine[i % len(mine)]
                balance, lsn = _post_and_read_lsn(conn, account_id, Decimal(seed * 1000 + i + 1) / 100)
                # Without min_lsn, at once: how often a plain read misses the write just committed.
                plain_status, plain = get_json(f"{worker.url}/accounts/{account_id}")
                began = time.monotonic()
                # The contract: an answer includes the write, or is a typed not-yet that says retry.
                for _attempt in range(3):
                    status, body = get_json(f"{worker.url}/accounts/{account_id}?min_lsn={lsn}&wait_ms=5000",
                                            timeout=10)
                    if not (status == 504 and body.get("error_kind") == "not_yet"):
                        break
                    with lock:
                        results["not_yet"].append((account_id, lsn))
                waited = time.monotonic() - began
                with lock:
                    results["waits"].append(waited)
                    if plain_status != 200 or Decimal(plain["balance"]) != balance:
                        results["stale_without"].append((account_id, lsn))
                    if status != 200:
                        results["errors"].append((account_id, lsn, status, body))
                    elif Decimal(body["balance"]) != balance:
                        results["stale_with_min_lsn"].append((account_id, lsn, body["balance"], str(balance)))
                    elif _lsn(body["reflects"]["lsn"]) < _lsn(lsn):
                        results["stale_with_min_lsn"].append((account_id, lsn, "reflects", body["reflects"]))

    threads = [threading.Thread(target=client, args=(accounts[t], POSTINGS // THREADS, t)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    waits = sorted(results["waits"])
    # The figures of docs/consistency.md: read them with `pytest -s`.
    print(f"\nread-your-writes: {len(waits)} postings; stale without min_lsn: {len(results['stale_without'])}; "
          f"stale with min_lsn: {len(results['stale_with_min_lsn'])}; not yet (retried): {len(results['not_yet'])}; "
          f"min_lsn answer time p50 {statistics.median(waits) * 1000:.0f} ms, "
          f"p99 {waits[int(len(waits) * 0.99) - 1] * 1000:.0f} ms, max {waits[-1] * 1000:.0f} ms")
    assert len(waits) == POSTINGS
    assert results["errors"] == []
    assert results["stale_with_min_lsn"] == []


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)


def test_a_quiet_account_asked_with_the_current_lsn_answers_within_a_second(worker, db):
    _, account_id = open_account(db, "42.00")
    url = f"{worker.url}/accounts/{account_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200, what="account visible")
    for _ in range(5):  # the account is not written again: only heartbeats can move its partition's position
        lsn = db.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        # wait_ms=1000: the worker itself answers 504 when a second is not enough.
        status, body = get_json(f"{url}?min_lsn={lsn}&wait_ms=1000", timeout=5)
        assert status == 200, body
        assert body["balance"] == "42.00" and _lsn(body["reflects"]["lsn"]) >= _lsn(lsn)
        assert body["reflects"]["commit_time"] is not None


def test_a_position_not_reached_in_time_is_a_typed_not_yet(worker, db):
    _, account_id = open_account(db, "1.00")
    url = f"{worker.url}/accounts/{account_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200, what="account visible")
    now = _lsn(db.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
    future = now + (1 << 40)  # a terabyte of WAL ahead: no heartbeat gets there
    status, body = get_json(f"{url}?min_lsn={future >> 32:X}/{future & 0xFFFFFFFF:X}&wait_ms=300")
    assert status == 504 and body["error_kind"] == "not_yet"
    assert body["reached"]["lsn"] is not None and _lsn(body["reached"]["lsn"]) < future


def test_customer_answers_with_min_lsn_include_the_posting_to_any_of_its_accounts(worker, db):
    # The customer's accounts lie in several account partitions: their balances reach the customer's
    # partition through the re-keyed updates, covered by the accounts partitions' position markers.
    customer_id, first = open_account(db, "0.00")
    accounts = [first] + [open_account(db, "0.00", customer_id=customer_id)[1] for _ in range(5)]
    url = f"{worker.url}/customers/{customer_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200 and r[1]["account_count"] == len(accounts),
               what="the customer with all its accounts")
    stale = []
    for i in range(60):
        balance, lsn = _post_and_read_lsn(db, accounts[i % len(accounts)], Decimal(i + 1))
        total = db.execute("SELECT sum(balance) FROM accounts WHERE customer_id = %s", (customer_id,)).fetchone()[0]
        status, body = get_json(f"{url}?min_lsn={lsn}&wait_ms=5000", timeout=10)
        assert status == 200, body
        if Decimal(body["total_balance"]["EUR"]) != total:
            stale.append((lsn, body["total_balance"], str(total)))
    assert stale == []
