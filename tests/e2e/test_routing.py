"""Two workers of one app: any worker answers any key, forwarding to the key's owner."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def get_with_served_by(url: str, header: str = "X-Served-By"):
    """(status, body, the X-Served-By header, or `header`)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers.get(header)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace"), exc.headers.get("X-Served-By")
    except OSError as exc:
        return 0, str(exc), None


def test_a_key_owned_by_one_worker_is_answered_through_the_other(db, start_test_worker):
    app_id = f"routing-{uuid.uuid4().hex[:8]}"
    first = start_test_worker(app_id=app_id, name=f"{app_id}-1")
    second = start_test_worker(app_id=app_id, name=f"{app_id}-2")
    accounts = {open_account(db, f"{i}.00")[1]: f"{i}.00" for i in range(1, 17)}

    served_by = {first.url: set(), second.url: set()}
    for entry in (first, second):
        for account, balance in accounts.items():
            url = f"{entry.url}/accounts/{account}"
            status, body, owner = eventually(
                lambda url=url: get_with_served_by(url),
                lambda r, balance=balance: r[0] == 200 and r[1]["balance"] == balance,
                what=f"account {account} through {entry.url}")
            served_by[owner].add(account)

    # Sixteen accounts over four partitions and two workers: each worker owns some of them,
    # and every one of them was answered through both workers.
    assert served_by[first.url] and served_by[second.url]
    assert served_by[first.url].isdisjoint(served_by[second.url])
    assert served_by[first.url] | served_by[second.url] == set(accounts)

    # Read-your-writes through either worker: min_lsn goes with the forward, the position comes back.
    lsn = db.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    for entry in (first, second):
        for account, balance in accounts.items():
            status, body, reflected = get_with_served_by(f"{entry.url}/accounts/{account}?min_lsn={lsn}&wait_ms=5000",
                                                         header="X-Source-LSN")
            assert status == 200 and body["balance"] == balance, body
            assert reflected == body["reflects"]["lsn"] and _lsn(reflected) >= _lsn(lsn)


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)
