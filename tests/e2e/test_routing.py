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


def get_with_served_by(url: str):
    """(status, body, the X-Served-By header)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers.get("X-Served-By")
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
