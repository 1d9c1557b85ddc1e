"""The web views' parameter checks and answers, in process: Faust's aiohttp app under aiohttp's test
client (loopback, no worker), tables filled through the agent driver.

Requests carry a signed routed header (views/routing.py, views/peer_auth.py), as a request forwarded
to the key's owner by another worker would: these tests are about the views; routing between workers is
tested end to end (tests/e2e/test_routing.py, and one request per view in tests/integration/test_bad_input.py).
"""

from __future__ import annotations

import importlib
import time
from datetime import date
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from faust.web import drivers as web_drivers
from yarl import URL

from projections.turnover import day_key, turnover_of_day
from tables.turnover import turnover_by_account_day, turnover_days
from topics import ACCOUNT_CHANGES, CUSTOMER_CHANGES, TRANSACTION_CHANGES
from views.peer_auth import sign
from views.routing import ROUTED_HEADER

VIEW_MODULES = ("views.accounts", "views.alerts", "views.customers", "views.turnover", "views.shadow")
BAD_IDS = ["-1", "0", "abc", "1.5", "1e3", "99999999999999999999", "9223372036854775808", "1;DROP TABLE accounts",
           "1' OR '1'='1", "١٢", " 1"]
ID_PATHS = [("/accounts/{}", "account_id"), ("/accounts/{}/turnover", "account_id"), ("/alerts/{}", "account_id"),
            ("/customers/{}", "customer_id")]


@pytest.fixture
def get(driver):
    """GET a path of the worker's web app; (status, JSON body)."""
    for module in VIEW_MODULES:
        importlib.import_module(module)
    app = driver.app
    # A web server of the app's views for this test's event loop (an aiohttp app keeps its first loop).
    web = web_drivers.by_url(app.conf.web)(app)
    for view in app.web.views.values():
        web.add_view(type(view))

    def request(path: str, *, routed: bool = True, headers=None):
        if routed:
            # Signed as aiohttp's client sends the path (yarl's encoding), which is what a forwarding worker signs.
            headers = {ROUTED_HEADER: sign(app.forwarding.secret, "GET", URL(path).raw_path_qs, time.time())}

        async def go():
            async with TestClient(TestServer(web.web_app)) as client:
                response = await client.get(path, headers=headers or {})
                return response.status, await response.json()

        return driver.loop.run_until_complete(go())

    return request


@pytest.mark.parametrize("path, parameter", ID_PATHS)
def test_a_bad_id_is_a_400_naming_the_parameter(get, path, parameter):
    for bad in BAD_IDS:
        status, body = get(path.format(quote(bad, safe="")))
        assert (status, body.get("parameter")) == (400, parameter), bad
        assert body["error"] == f"`{parameter}` must be a positive integer id", bad


@pytest.mark.parametrize("path", ["/accounts/1", "/accounts/1/turnover", "/alerts/1", "/customers/1"])
def test_an_unknown_query_parameter_is_a_400_naming_it(get, path):
    status, body = get(f"{path}?id=1%20OR%201%3D1")
    assert (status, body["parameter"]) == (400, "id")
    assert "unknown query parameter `id`" in body["error"]


@pytest.mark.parametrize("query, parameter", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("limit=-5", "limit"),
    ("cursor=abc", "cursor"), ("cursor=1.2.3", "cursor"), ("cursor=", "cursor"),
])
def test_bad_customer_paging_parameters_are_a_400_naming_them(get, query, parameter):
    status, body = get(f"/customers/1?{query}")
    assert (status, body["parameter"]) == (400, parameter)


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-02-30", "'; DROP TABLE transactions; --",
                                 # date.fromisoformat takes these too: only YYYY-MM-DD is a day here.
                                 "20260101", "2026-W01-1", "2026-001", "２０２６-01-01", "2026-01-01T00:00", ""])
def test_a_bad_day_is_a_400_naming_it(get, day):
    status, body = get(f"/accounts/1/turnover?day={quote(day)}")
    assert (status, body["parameter"]) == (400, "day")


@pytest.mark.parametrize("path, parameter", ID_PATHS)
def test_an_unknown_id_is_a_404_naming_it(get, path, parameter):
    status, body = get(path.format(7))
    assert status == 404 and body[parameter] == 7 and "not found" in body["error"]


@pytest.mark.parametrize("spoof", ["http://another-worker:6066", "t=1;sig=00", ""])
def test_an_unsigned_routing_header_is_ignored(get, spoof):
    """Only a validly signed forward is answered from this worker's tables; this one is routed, and with no
    assignment in this harness, routing says so instead of answering from local state (a 404 here)."""
    status, body = get("/accounts/7", routed=False, headers={ROUTED_HEADER: spoof})
    assert (status, body) == (503, {"error": "partitions are not assigned yet; retry shortly"})


def test_without_an_assignment_a_request_is_a_503_not_a_guess(get):
    status, body = get("/accounts/1", routed=False)  # this worker knows no owner of any partition
    assert status == 503 and "not assigned" in body["error"]


def test_the_account_view_serves_the_agents_latest_row(driver, changes, get):
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", changes.account(4, customer_id=2, balance="9.99")))
    driver.run(flush=False)  # still cached: the view reads through the batch agents' cache
    status, body = get("/accounts/4")
    assert status == 200 and (body["account_id"], body["balance"]) == (4, "9.99")
    status, body = get("/alerts/4")
    # No heartbeat read yet (no worker): the answer says it reflects no known position.
    assert (status, body) == (200, {"account_id": 4, "alerts": [], "reflects": {"lsn": None, "commit_time": None}})


def test_the_turnover_view_serves_the_days_totals_from_the_projection(driver, changes, get):
    txn = changes.transaction(20, account_id=4, kind="deposit", amount="5.00")
    driver.pipe(TRANSACTION_CHANGES.name, *changes.insert("transactions", txn))
    driver.run()
    day = date.fromisoformat(txn["created_at"][:10])
    status, body = get(f"/accounts/4/turnover?day={day.isoformat()}")
    assert status == 200
    day_row = driver.rows(turnover_by_account_day)[day_key(4, day.isoformat())]
    assert body == {"account_id": 4, **turnover_of_day(driver.rows(turnover_days)[4], day_row, day),
                    "reflects": {"lsn": None, "commit_time": None}}
    status, body = get("/accounts/4/turnover?day=1999-01-01")     # nothing posted that day
    assert (status, body["count"], body["deposits"]) == (200, 0, "0")


def test_a_customer_is_served_once_its_own_row_arrived(driver, changes, get):
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", changes.account(5, customer_id=3, balance="1.00")))
    driver.run()
    assert get("/customers/3")[0] == 404                            # only its account's update so far
    driver.pipe(CUSTOMER_CHANGES.name, *changes.insert("customers", changes.customer(3, name="Ada")))
    driver.run()
    status, body = get("/customers/3")
    assert status == 200 and body["name"] == "Ada" and [a["account_id"] for a in body["accounts"]] == [5]


def test_while_the_tables_recover_a_view_is_a_503_with_retry_after_not_a_404(driver, get):
    driver.app.tables.recovery.completed.clear()  # as on a worker that just took over a dead one's partitions
    try:
        status, body = get("/accounts/4")
    finally:
        driver.app.tables.recovery.completed.set()
    assert status == 503
    assert body == {"error": "this worker is recovering its tables from their changelogs; retry shortly"}


# ------------------------------------------------------------- positions and min_lsn (views/consistency.py)

def _checkpoint(driver, lsn, *, end=0, ts_ms=1_700_000_000_000, topics=(ACCOUNT_CHANGES.name,)):
    """A heartbeat at `lsn` with every partition of `topics` at end offset `end`, as agents/heartbeats.py makes it."""
    from faust.types import TP

    from engine.positions import Position
    ends = {TP(topic, p): end for topic in topics for p in range(4)}
    driver.app.source_positions.checkpoint(Position(lsn, ts_ms), ends, lambda tp: 0)


def test_an_answer_says_the_position_its_partition_reached(driver, changes, get):
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", changes.account(4, customer_id=2, balance="9.99")))
    driver.run(flush=False)
    _checkpoint(driver, 0x16_B374D848)
    status, body = get("/accounts/4")
    assert status == 200 and body["reflects"] == {"lsn": "16/B374D848", "commit_time": "2023-11-14T22:13:20.000+00:00"}
    # The turnover view reads the transactions topic too: no position until both have one.
    assert get("/accounts/4/turnover")[1]["reflects"]["lsn"] is None
    _checkpoint(driver, 0x16_B0000000, topics=(TRANSACTION_CHANGES.name,))
    assert get("/accounts/4/turnover")[1]["reflects"]["lsn"] == "16/B0000000"   # the lower of the two


def test_min_lsn_answers_at_once_when_reached_and_not_yet_after_wait_ms_when_not(driver, changes, get):
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", changes.account(4, customer_id=2, balance="9.99")))
    driver.run(flush=False)
    _checkpoint(driver, 0x2_00000000)
    status, body = get("/accounts/4?min_lsn=2/0")
    assert status == 200 and body["balance"] == "9.99"
    status, body = get("/accounts/4?min_lsn=2/1&wait_ms=50")
    assert status == 504 and body["error_kind"] == "not_yet" and body["reached"]["lsn"] == "2/0"
    assert body["min_lsn"] == "2/1"


def test_a_checkpoint_waits_for_the_consumer_to_pass_its_end_offset(driver):
    from faust.types import TP

    from engine.positions import Position, SourcePositions
    positions = SourcePositions()
    tp = TP(ACCOUNT_CHANGES.name, 1)
    positions.checkpoint(Position(100, None), {tp: 10}, lambda _: 7)
    assert positions.reached(tp) is None                 # records 7..9 not handed to the agent yet
    positions.checkpoint(Position(200, None), {tp: 12}, lambda _: 7)
    positions.consumed(tp, 10)
    assert positions.reached(tp) == Position(100, None)
    positions.consumed(tp, 12)
    assert positions.reached(tp) == Position(200, None)
    positions.forget([tp])
    assert positions.reached(tp) is None


@pytest.mark.parametrize("query, parameter", [("min_lsn=16", "min_lsn"), ("min_lsn=G/1", "min_lsn"),
                                              ("min_lsn=1/123456789", "min_lsn"), ("wait_ms=5", "wait_ms"),
                                              ("min_lsn=0/1&wait_ms=-1", "wait_ms"),
                                              ("min_lsn=0/1&wait_ms=999999", "wait_ms")])
def test_a_bad_min_lsn_or_wait_ms_is_a_400_naming_it(get, query, parameter):
    status, body = get(f"/accounts/4?{query}")
    assert status == 400 and f"`{parameter}`" in body["error"]


def test_a_customer_answer_waits_for_the_customers_topic_and_the_accounts_markers(driver, changes, get):
    from faust.types import TP

    from engine.positions import Position
    from topics import CUSTOMER_ACCOUNT_UPDATES, topic_name
    driver.pipe(CUSTOMER_CHANGES.name, *changes.insert("customers", changes.customer(3, name="Ada")))
    driver.run(flush=False)
    _checkpoint(driver, 0x500, topics=(CUSTOMER_CHANGES.name,))
    assert get("/customers/3?min_lsn=0/500&wait_ms=20")[0] == 504       # no marker from the accounts side yet
    from tables.customers import customer_summary
    from views.routing import partition_of
    positions = driver.app.source_positions
    updates = TP(topic_name(driver.app, CUSTOMER_ACCOUNT_UPDATES), partition_of(customer_summary, 3))
    for source in range(4):
        positions.relay(updates, source, Position(0x400 + source * 0x100, None), sources=4)
    status, body = get("/customers/3?min_lsn=0/400&wait_ms=20")    # the lowest of the four markers
    assert status == 200 and body["name"] == "Ada" and body["reflects"]["lsn"] == "0/400"



# --------------------------------------------------------------------------- as-of reads (views/as_of.py)

def test_as_of_serves_the_account_from_its_history(driver, changes, get):
    account = changes.account(6, customer_id=2, balance="1.00")
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", account))
    driver.run(flush=False)
    status, body = get("/accounts/6?as_of=2999-01-01T00:00:00Z")
    assert status == 200 and body["balance"] == "1.00" and body["as_of"]["asked"].startswith("2999-01-01T00:00:00")
    assert body["as_of"]["change_lsn"] is not None
    status, body = get("/accounts/6?as_of=1999-01-01T00:00:00%2B02:00")     # before its insert: it did not exist
    assert status == 404 and body["account_id"] == 6
    status, body = get("/accounts/6?as_of_lsn=FFFFFFFF/0")
    assert status == 200 and body["balance"] == "1.00"


@pytest.mark.parametrize("query, parameter", [("as_of=yesterday", "as_of"), ("as_of=2026-12-01", "as_of"),
                                              ("as_of=2026-12-01T08:00:00", "as_of"),
                                              ("as_of=2026-12-01T08:00:00Z&as_of_lsn=0/1", "as_of"),
                                              ("as_of_lsn=12", "as_of_lsn")])
def test_a_bad_as_of_is_a_400_naming_it(get, query, parameter):
    status, body = get(f"/accounts/6?{query}")
    assert status == 400 and f"`{parameter}`" in body["error"]


def test_the_shadow_report_of_a_worker_without_shadow_rules_is_a_404_saying_how_to_run_one(get, monkeypatch):
    from agents import rule_book

    monkeypatch.setattr(rule_book, "_book", None)
    monkeypatch.setattr(rule_book, "_shadow", None)
    status, body = get("/rules/shadow")
    assert status == 404 and "mode: shadow" in body["error"]


@pytest.mark.parametrize("query, parameter", [
    ("rule=dormant-reactivation", "rule"), ("since=yesterday", "since"), ("until=2026-13-01", "until"),
    ("since=2026-03-02&until=2026-03-01", "until"), ("window=1h", "window")])
def test_the_shadow_reports_parameters_are_checked_before_any_topic_is_read(get, monkeypatch, query, parameter):
    from agents import rule_book
    from tests.support.shadow_catalog import catalog_with_shadow

    catalog = catalog_with_shadow()
    monkeypatch.setattr(rule_book, "_book", None)
    monkeypatch.setattr(rule_book, "_shadow", None)
    monkeypatch.setattr(rule_book, "loaded_catalog", lambda path=None: catalog)
    status, body = get(f"/rules/shadow?{query}")
    assert status == 400 and body.get("parameter") == parameter, body
