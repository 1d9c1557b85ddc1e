"""As-of reads on the real stack: the account at each commit time and LSN equals the database's history."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import pytest

from tests.support.http import get_json
from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

POSTINGS = 30
KEPT = 20  # BALANCE_HISTORY_MAX_ENTRIES of this test's worker: the first postings fall out of the history


def test_as_of_answers_equal_the_databases_history(start_test_worker, db):
    worker = start_test_worker(env={"BALANCE_HISTORY_MAX_ENTRIES": str(KEPT)})
    before_account = db.execute("SELECT clock_timestamp()").fetchone()[0]
    _, account_id = open_account(db, "0.00")
    # The test's own record of the balance over time: after each commit, the database's clock and WAL
    # position. The clock read after commit i is later than commit i and earlier than commit i + 1.
    record = [(db.execute("SELECT clock_timestamp(), pg_current_wal_lsn()::text").fetchone(), Decimal("0.00"))]
    for i in range(POSTINGS):
        with db.transaction():
            db.execute("INSERT INTO transactions (account_id, kind, amount) VALUES (%s, 'deposit', %s)",
                       (account_id, Decimal(i + 1)))
            balance = db.execute("UPDATE accounts SET balance = balance + %s, updated_at = now() WHERE id = %s "
                                 "RETURNING balance", (Decimal(i + 1), account_id)).fetchone()[0]
        record.append((db.execute("SELECT clock_timestamp(), pg_current_wal_lsn()::text").fetchone(), balance))
    url = f"{worker.url}/accounts/{account_id}"
    last_lsn = record[-1][0][1]
    status, body = eventually(lambda: get_json(f"{url}?min_lsn={last_lsn}&wait_ms=2000", timeout=5),
                              lambda r: r[0] == 200, what="the view reflects the last posting")
    assert Decimal(body["balance"]) == record[-1][1]

    answered = too_old = 0
    for (at, lsn), balance in record:
        for query in (f"as_of={quote(at.isoformat())}", f"as_of_lsn={lsn}"):
            status, body = get_json(f"{url}?{query}")
            if status == 410:
                # Only the oldest states fall out: KEPT entries (account row after each change) remain.
                assert body["error_kind"] == "too_old" and body["history_from"] is not None
                too_old += 1
                continue
            assert status == 200, (query, body)
            assert Decimal(body["balance"]) == balance, (query, body)
            answered += 1
    # The insert and the first postings are out of a history of KEPT entries; the rest are answered.
    assert too_old == 2 * (POSTINGS + 1 - KEPT) and answered == 2 * KEPT

    status, body = get_json(f"{url}?as_of={quote(before_account.isoformat())}")
    assert status == 410  # the insert is pruned: the history cannot say the account did not exist yet


def test_as_of_before_an_account_existed_is_not_found(start_test_worker, db):
    worker = start_test_worker()
    before = db.execute("SELECT clock_timestamp()").fetchone()[0]
    _, account_id = open_account(db, "5.00")
    after = db.execute("SELECT clock_timestamp(), pg_current_wal_lsn()::text").fetchone()
    url = f"{worker.url}/accounts/{account_id}"
    eventually(lambda: get_json(f"{url}?min_lsn={after[1]}&wait_ms=2000", timeout=5), lambda r: r[0] == 200,
               what="the view reflects the insert")
    assert get_json(f"{url}?as_of={quote(before.isoformat())}")[0] == 404
    status, body = get_json(f"{url}?as_of={quote(after[0].isoformat())}")
    assert status == 200 and body["balance"] == "5.00"
