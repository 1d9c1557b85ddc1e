"""The whole pipeline, from SQL in the ledger to HTTP and topics: a scripted scenario with known answers."""

from __future__ import annotations

import http.client
import queue
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import orjson
import pytest

from schemas.codec.envelope import decode_envelope
from tests.support.http import get_json
from tests.support.kafka import read_topic
from tests.support.ledger_sql import open_account, post
from tests.support.waiting import eventually
from topics import BALANCE_LOW, WITHDRAWAL_ALERTS

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class SseClient:
    """Reads a Server-Sent Events stream on a thread; events land in a queue as (id, data)."""

    def __init__(self, url: str) -> None:
        parts = urlparse(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.connection.request("GET", parts.path)
        self.response = self.connection.getresponse()
        self.events: "queue.Queue" = queue.Queue()
        self.live = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line == ": live":
                    self.live.set()
                elif line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("data: "):
                    event["data"] = orjson.loads(line[6:])
                elif line == "" and event:
                    self.events.put(event)
                    event = {}
        except (OSError, ValueError, AttributeError):
            pass  # closed by the test: the stream ends

    def close(self) -> None:
        self.connection.close()


def test_a_scripted_scenario_yields_exactly_the_expected_alerts_balances_and_turnover(db, worker, stack_env):
    customer_id, account = open_account(db, "0")
    feed = SseClient(f"{worker.url}/live/alerts")
    try:
        assert feed.live.wait(30), "the live feed did not start"
        post(db, account, "deposit", "10000.00", at(-60))
        txn = {}
        txn["w1"] = post(db, account, "withdrawal", "250.00", at(0))
        txn["w2"] = post(db, account, "withdrawal", "199.99", at(4))    # not large
        txn["w3"] = post(db, account, "withdrawal", "300.00", at(5))
        # w4: w1 sits exactly on the window edge, so 2 are in the window.
        txn["w4"] = post(db, account, "withdrawal", "200.00", at(10))
        txn["w5"] = post(db, account, "withdrawal", "1000.00", at(11))  # w3, w4, w5 within 10 minutes: rapid
        txn["w6"] = post(db, account, "withdrawal", "2000.00", at(60))
        txn["w7"] = post(db, account, "withdrawal", "1300.00", at(90))  # last five large: 4800
        txn["w8"] = post(db, account, "withdrawal", "500.00", at(120))  # last five large: exactly 5000: burst

        expected = {
            f"rapid-large-withdrawals:{txn['w5']}": {
                "count": 3, "total": "1500.00", "txn_ids": sorted([txn["w3"], txn["w4"], txn["w5"]]),
                "window_start": at(1).isoformat(), "window_end": at(11).isoformat()},
            f"large-withdrawal-burst:{txn['w8']}": {
                "count": 5, "total": "5000.00",
                "txn_ids": sorted(txn[w] for w in ("w4", "w5", "w6", "w7", "w8")),
                "window_start": at(10).isoformat(), "window_end": at(120).isoformat()},
        }

        # The alerts view, oldest first.
        _, body = eventually(lambda: get_json(f"{worker.url}/alerts/{account}"),
                             lambda r: len(r[1].get("alerts", [])) >= 2, what="two alerts in the view")
        assert [a["alert_id"] for a in body["alerts"]] == list(expected)
        for alert in body["alerts"]:
            want = expected[alert["alert_id"]]
            assert {k: alert[k] for k in want} == want
            assert alert["account_id"] == account

        # The alerts topic: exactly these, Avro in the envelope, keyed by account.
        def alerts_on_topic():
            found = {}
            for record in read_topic(stack_env["KAFKA_BOOTSTRAP"], WITHDRAWAL_ALERTS.name):
                if record.key == str(account).encode():
                    decoded = decode_envelope(record.value)
                    found[decoded.payload.alert_id] = decoded
            return found

        on_topic = eventually(alerts_on_topic, lambda found: set(found) == set(expected), what="alerts on the topic")
        for alert_id, decoded in on_topic.items():
            assert decoded.envelope.event_type == "WithdrawalAlert"
            assert decoded.envelope.partition_key == str(account)
            assert decoded.payload.total == expected[alert_id]["total"]
            assert sorted(decoded.payload.txn_ids) == expected[alert_id]["txn_ids"]

        # The live feed saw them as they happened.
        seen = set()
        while set(expected) - seen:
            event = feed.events.get(timeout=30)
            if event["data"]["account_id"] == account:
                seen.add(event["data"]["alert_id"])
        assert seen == set(expected)
    finally:
        feed.close()

    # Balances follow the database; the day's turnover equals the SQL aggregate.
    balance = str(db.execute("SELECT balance FROM accounts WHERE id = %s", (account,)).fetchone()[0])
    eventually(lambda: get_json(f"{worker.url}/accounts/{account}"), lambda r: r[1].get("balance") == balance,
               what="the balance in the view")
    _, turnover = get_json(f"{worker.url}/accounts/{account}/turnover?day=2026-01-15")
    assert set(turnover.pop("reflects")) == {"lsn", "commit_time"}  # the source position it reflects
    assert turnover == {"account_id": account, "day": "2026-01-15", "deposits": "10000.00",
                        "withdrawals": "5749.99", "count": 9}
    _, other_day = get_json(f"{worker.url}/accounts/{account}/turnover?day=2026-01-14")
    assert other_day["count"] == 0

    _, overview = eventually(lambda: get_json(f"{worker.url}/customers/{customer_id}"),
                             lambda r: r[0] == 200 and r[1]["total_balance"].get("EUR") == balance,
                             what="the customer overview")
    assert [a["account_id"] for a in overview["accounts"]] == [account]


def test_a_balance_crossing_below_the_threshold_emits_one_balance_low_per_crossing(db, worker, stack_env):
    _, account = open_account(db, "0")
    post(db, account, "deposit", "500.00")
    post(db, account, "withdrawal", "450.00")   # 50.00: crossing 1
    post(db, account, "withdrawal", "10.00")    # 40.00: still low, no new event
    post(db, account, "deposit", "200.00")      # 240.00: back above
    post(db, account, "withdrawal", "150.00")   # 90.00: crossing 2

    def events():
        return [decode_envelope(r.value) for r in read_topic(stack_env["KAFKA_BOOTSTRAP"], BALANCE_LOW.name)
                if r.key == str(account).encode()]

    found = eventually(events, lambda e: len({x.envelope.event_id for x in e}) >= 2, what="two BalanceLow events")
    by_id = {x.envelope.event_id: x.payload for x in found}
    assert sorted(p.balance for p in by_id.values()) == ["50.00", "90.00"]
    assert {p.threshold for p in by_id.values()} == {"100.00"}


@pytest.mark.parametrize("query, parameter", [("day=2026-13-01", "day"), ("day=yesterday", "day"),
                                              ("month=1", "month")])
def test_bad_turnover_parameters_are_a_400_naming_them(db, worker, query, parameter):
    _, account = open_account(db, "0")
    eventually(lambda: get_json(f"{worker.url}/accounts/{account}"), lambda r: r[0] == 200, what="account visible")
    status, body = get_json(f"{worker.url}/accounts/{account}/turnover?{query}")
    assert status == 400 and body["parameter"] == parameter


def test_unknown_keys_are_a_404_with_a_json_error(worker):
    for path in ("/accounts/987654321", "/customers/987654321", "/alerts/987654321",
                 "/accounts/987654321/turnover"):
        status, body = get_json(worker.url + path)
        assert status == 404, path
        assert "not found" in body["error"]
