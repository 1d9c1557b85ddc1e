"""The customer overview in bounded rows (projections/customers.py): against a recount of the accounts."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.customers import (
    PAGE_SIZE,
    account_update,
    activity_update,
    fold_account_update,
    page_key,
    served_overview,
)

CUSTOMER = 7
ROW_BOUND = 64 * 1024


class Rows(dict):
    def __delitem__(self, key):
        self.pop(key, None)


class Store:
    def __init__(self):
        self.overviews, self.pages, self.page_of = Rows(), Rows(), Rows()

    def fold(self, updates, page_size=PAGE_SIZE):
        for update in updates:
            fold_account_update(self.overviews, self.pages, self.page_of, update, page_size=page_size)
        return self

    def rows(self):
        return [*self.overviews.values(), *self.pages.values(), *self.page_of.values()]

    def serve(self, limit, after=None):
        overview = {**self.overviews[CUSTOMER], "name": "n", "email": None}
        return served_overview(overview, lambda page: self.pages.get(page_key(CUSTOMER, page)), limit=limit,
                               after=after)

    def all_accounts(self, limit):
        listed, after = [], None
        while True:
            answer = self.serve(limit, after)
            listed.extend(answer["accounts"])
            if answer["next_cursor"] is None:
                return listed
            page, account = answer["next_cursor"].split(".")
            after = (int(page), int(account))


def update(account_id, balance="10.00", currency="EUR", status="open", deleted=False):
    if deleted:
        return account_update(None, account_id=account_id, customer_id=CUSTOMER)
    return account_update({"balance": balance, "currency": currency, "status": status,
                           "updated_at": "2026-03-01T10:00:00+00:00"}, account_id=account_id, customer_id=CUSTOMER)


def recount(updates):
    accounts = {}
    for u in updates:
        if u["deleted"]:
            accounts.pop(u["account_id"], None)
        else:
            accounts[u["account_id"]] = {"balance": u["balance"], "currency": u["currency"], "status": u["status"]}
    totals = {}
    for a in accounts.values():
        totals[a["currency"]] = totals.get(a["currency"], Decimal(0)) + Decimal(a["balance"])
    return accounts, totals


def test_a_customer_with_20000_accounts_is_many_small_rows_and_its_totals_are_exact():
    updates = [update(i, balance=f"{i}.25") for i in range(1, 20_001)]
    store = Store().fold(updates)
    overview = store.overviews[CUSTOMER]
    assert overview["account_count"] == 20_000 and overview["pages"] == 20_000 // PAGE_SIZE
    assert Decimal(overview["total_balance"]["EUR"]) == sum(Decimal(f"{i}.25") for i in range(1, 20_001))
    largest = max(len(json.dumps(row)) for row in store.rows())
    assert largest < 20 * 1024 < ROW_BOUND
    assert [a["account_id"] for a in store.all_accounts(limit=1000)] == list(range(1, 20_001))


def test_a_small_customer_is_served_in_one_answer_sorted_by_account_id():
    store = Store().fold([update(5, "1.00"), update(3, "2.00", "USD"), update(9, "3.50")])
    answer = store.serve(limit=100)
    assert answer["accounts"] == [{"account_id": 3, "balance": "2.00", "currency": "USD", "status": "open"},
                                  {"account_id": 5, "balance": "1.00", "currency": "EUR", "status": "open"},
                                  {"account_id": 9, "balance": "3.50", "currency": "EUR", "status": "open"}]
    assert answer["total_balance"] == {"EUR": "4.50", "USD": "2.00"}
    assert answer["account_count"] == 3 and answer["next_cursor"] is None


def served(store):
    return store.serve(limit=1000)


def test_a_redelivered_update_changes_nothing_served():
    updates = [update(1, "5.00"), update(2, "7.00"), update(1, "6.00"), update(2, deleted=True)]
    store = Store().fold(updates)
    before = served(store)
    store.fold(updates[1:])  # replay from a committed offset after a complete flush
    # Account 2 comes back and goes again: it may take a new slot, but what is served is the same.
    assert served(store) == before


def test_activity_moves_the_last_activity_only_forward():
    store = Store().fold([update(1)])
    store.fold([activity_update(customer_id=CUSTOMER, at="2026-03-02T00:00:00+00:00"),
                activity_update(customer_id=CUSTOMER, at="2026-02-01T00:00:00+00:00")])
    assert store.overviews[CUSTOMER]["last_activity"] == "2026-03-02T00:00:00+00:00"


updates = st.lists(st.builds(update, account_id=st.integers(1, 30),
                             balance=st.decimals("-999.99", "999.99", places=2).map(str),
                             currency=st.sampled_from(["EUR", "USD", "GBP"]), deleted=st.booleans()),
                   max_size=80)


@settings(max_examples=100)
@given(updates, st.integers(1, 7), st.integers(1, 9))
def test_the_rows_equal_a_recount_however_accounts_come_change_and_go(updates, page_size, limit):
    store = Store().fold(updates, page_size=page_size)
    accounts, totals = recount(updates)
    if CUSTOMER not in store.overviews:
        assert not accounts
        return
    overview = store.overviews[CUSTOMER]
    assert overview["account_count"] == len(accounts)
    assert {c: Decimal(t) for c, t in overview["total_balance"].items()} == {c: t for c, t in totals.items()}
    listed = store.all_accounts(limit)
    assert {a.pop("account_id"): a for a in listed} == accounts
    assert all(len(page["accounts"]) <= page_size for page in store.pages.values())
    replayed = Store()
    replayed.overviews, replayed.pages, replayed.page_of = Rows(store.overviews), Rows(store.pages), Rows(store.page_of)
    replayed.fold(updates[len(updates) // 2:], page_size=page_size)
    # A replay serves the same accounts; one that came and went in the replayed stretch may take a
    # new slot, and so another place in the listing.
    assert _by_id(replayed.all_accounts(limit)) == _by_id(store.all_accounts(limit))
    assert {k: v for k, v in replayed.overviews[CUSTOMER].items() if k not in ("pages", "open_page_size")} == \
        {k: v for k, v in overview.items() if k not in ("pages", "open_page_size")}


def _by_id(listing):
    return sorted(listing, key=lambda account: account["account_id"])
