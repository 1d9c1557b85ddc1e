"""Unit tests of the console's server side: feed positions, the status summary, Connect states, open paths."""

from __future__ import annotations

import asyncio
import json
from typing import List, Optional

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from engine.telemetry.metrics import Metrics
from engine.telemetry.snapshot import histogram_quantile, metrics_summary
from views.alert_feed import Listener
from views.auth import bearer_token_middleware
from views.connect_status import connectors_of
from views.feed_position import format_position, parse_position

# --------------------------------------------------------------------------- feed positions

def test_a_position_reads_back_as_written():
    position = {3: 7, 0: 12, 1: 5, 2: 0}
    assert format_position(position) == "0@12,1@5,2@0,3@7"
    assert parse_position(format_position(position)) == position


@pytest.mark.parametrize("text", ["", " ", "12", "0@", "@5", "0@-1", "a@1", "0@1,0@2", "0@1;1@2", "0@1e3",
                                  "0@99999999999999999999", "0@١"])
def test_what_the_feed_did_not_write_is_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="Last-Event-ID"):
        parse_position(text)


def test_a_listener_skips_what_it_had_and_its_id_moves_past_each_alert():
    listener = Listener(asyncio.Queue(), position={0: 10, 1: 4})
    assert listener.take((0, 9, "a", b"{}")) is None          # before its position: had it already
    assert listener.take((0, 10, "b", b"{}")) == ("0@11,1@4", b"{}")
    assert listener.take((1, 6, "c", b"{}")) == ("0@11,1@7", b"{}")
    assert listener.take((1, 6, "c", b"{}")) is None          # the same record again: never twice


def test_a_returning_listener_gets_its_backlog_then_the_queue_without_overlap():
    # Joined the shared feed at 0@12; came back from 0@10: offsets 10 and 11 were read back.
    listener = Listener(asyncio.Queue(), position={0: 10}, joined_at={0: 12},
                        backlog=[(0, 10, "a", b"a"), (0, 11, "b", b"b")])
    sent = [listener.take(item) for item in listener.backlog]
    listener.backlog_sent()
    # The queue also holds 11 (fanned out while the listener joined) and then 12.
    sent += [listener.take(item) for item in [(0, 11, "b", b"b"), (0, 12, "c", b"c")]]
    assert [one for one in sent if one] == [("0@11", b"a"), ("0@12", b"b"), ("0@13", b"c")]


# --------------------------------------------------------------------------- status from the metrics registry

def test_quantiles_interpolate_within_a_bucket_like_promql():
    buckets = [(0.1, 50.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.55)
    assert histogram_quantile(0.99, [(1.0, 0.0), (float("inf"), 10.0)]) == 1.0  # in +Inf: the last finite bound
    assert histogram_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]) is None


def test_the_summary_reads_the_registry_the_worker_exports():
    metrics = Metrics()
    metrics.batch_done("fold_accounts", "ledger.public.accounts", 1, size=5, handled=4, seconds=0.01)
    metrics.batch_done("fold_accounts", "ledger.public.accounts", 1, size=3, handled=3, seconds=0.01)
    metrics.dead_lettered("fold_accounts", "ledger.public.accounts", 1, 41, "not a Debezium envelope")
    metrics.freshness.observe_many(("accounts",), [0.02] * 98 + [3.0, 3.0])

    summary = metrics_summary(metrics.registry.collect())

    assert summary["agents"] == [{"agent": "fold_accounts", "topic": "ledger.public.accounts", "partition": 1,
                                  "records": 7, "dead_letters": 1, "batches": 2}]
    assert summary["dead_letters"] == {"ledger.public.accounts": 1}
    fresh = summary["freshness"]["accounts"]
    assert fresh["count"] == 100
    assert 0.01 < fresh["p50_seconds"] <= 0.025 and 2.5 < fresh["p99_seconds"] <= 5
    latest = metrics.latest_dead_letters()["ledger.public.accounts"]
    assert [(d["partition"], d["offset"], d["reason"]) for d in latest] == [(1, 41, "not a Debezium envelope")]


# --------------------------------------------------------------------------- Kafka Connect

def test_connector_and_task_states_with_the_first_line_of_a_failure():
    body = {"ledger-postgres": {"status": {"name": "ledger-postgres", "type": "source",
                                           "connector": {"state": "RUNNING", "worker_id": "w:8083"},
                                           "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:8083",
                                                      "trace": "org.x.ConnectException: slot in use\n\tat a.b"}]}}}
    assert connectors_of(body) == [{"name": "ledger-postgres", "type": "source", "state": "RUNNING",
                                    "worker_id": "w:8083",
                                    "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:8083",
                                               "error": "org.x.ConnectException: slot in use"}]}]
    with pytest.raises(ValueError):
        connectors_of(["not", "an", "object"])


# --------------------------------------------------------------------------- what the token guards

def run(path, authorization=None):
    request = make_mocked_request("GET", path, headers={"Authorization": authorization} if authorization else {})

    async def handler(_):
        return web.json_response({"ok": True})

    return asyncio.run(bearer_token_middleware("t0ken", b"peer-secret")(request, handler))


@pytest.mark.parametrize("path", ["/console", "/console/console.js", "/console/console.css"])
def test_the_console_files_are_open(path):
    assert run(path).status == 200


@pytest.mark.parametrize("path", ["/status", "/console/", "/console/other.js", "/console/../accounts/1",
                                  "/consoles", "/console/console.js/x"])
def test_everything_else_of_the_console_needs_the_token(path):
    response = run(path)
    assert response.status == 401
    assert "error" in json.loads(response.body)


# --------------------------------------------------------------------------- the shared feed's fan-out

class _Record:
    def __init__(self, partition: int, offset: int, value: bytes) -> None:
        self.partition, self.offset, self.value = partition, offset, value


class _ScriptedConsumer:
    """Stands in for the alerts topic's consumer: the fan-out is under test here, not Kafka."""

    records: list = []
    release: asyncio.Event
    #: Raised by the consumer after its records (None: it goes quiet instead).
    then_fail: Optional[BaseException] = None
    #: Seconds between records, as between fetches (0: the next loop turn).
    pace = 0.0

    def __init__(self, *args, **kwargs) -> None:
        from aiokafka.structs import TopicPartition
        self._assignment = {TopicPartition("alerts.withdrawals", p) for p in range(2)}

    async def start(self): ...
    async def stop(self): ...

    def assignment(self):
        return self._assignment

    async def position(self, tp):
        return 100

    def __aiter__(self):
        return self._records()

    async def _records(self):
        await _ScriptedConsumer.release.wait()
        for record in _ScriptedConsumer.records:
            yield record
            await asyncio.sleep(_ScriptedConsumer.pace)
        if _ScriptedConsumer.then_fail is not None:
            raise _ScriptedConsumer.then_fail
        await asyncio.Event().wait()  # the topic goes quiet


def _alert_record(partition: int, offset: int, number: int) -> _Record:
    from datetime import datetime, timedelta, timezone

    from agents.publishing import SOURCE, event_id_for
    from schemas.codec.envelope import encode_envelope, wrap
    from schemas.records import WithdrawalAlertV1

    now = datetime.now(timezone.utc)
    alert_id = f"rapid-large-withdrawals:{number}"
    payload = WithdrawalAlertV1(alert_id=alert_id, rule="rapid-large-withdrawals", account_id=7, trigger_txn_id=number,
                                count=3, total="900.00", window_start=now - timedelta(minutes=5), window_end=now,
                                txn_ids=[1, 2, 3], detected_at=now)
    envelope = wrap(payload, "WithdrawalAlert", 1, source=SOURCE, partition_key="7", event_id=event_id_for(alert_id),
                    occurred_at=now)
    return _Record(partition, offset, encode_envelope(envelope))


def test_a_slow_listener_loses_its_oldest_alerts_and_is_told_how_many(monkeypatch):
    import views.alert_feed as alert_feed

    monkeypatch.setattr(alert_feed, "AIOKafkaConsumer", _ScriptedConsumer)
    _ScriptedConsumer.records = [_alert_record(0, 100 + n, n) for n in range(5)]

    async def scenario():
        _ScriptedConsumer.release = asyncio.Event()
        feed = alert_feed.AlertFeed("unused:9092", queue_size=3)
        async with feed.listen() as listener:
            assert listener.position == {0: 100, 1: 100}
            _ScriptedConsumer.release.set()
            while feed._fed.get(0) != 105:
                await asyncio.sleep(0)
            items = [listener.queue.get_nowait() for _ in range(listener.queue.qsize())]
            return listener.take_dropped(), [listener.take(item) for item in items]

    dropped, sent = asyncio.run(scenario())
    assert dropped == (2, "0@100,1@100")  # two lost, after the position the listener had reached
    assert [position for position, _ in sent] == ["0@103,1@100", "0@104,1@100", "0@105,1@100"]


# --------------------------------------------------------------------------- the feed under pressure

@pytest.fixture
def scripted(monkeypatch):
    import views.alert_feed as alert_feed

    monkeypatch.setattr(alert_feed, "AIOKafkaConsumer", _ScriptedConsumer)
    monkeypatch.setattr(alert_feed, "BROKER_CHECK_SECONDS", 0.01)
    monkeypatch.setattr(_ScriptedConsumer, "then_fail", None)
    monkeypatch.setattr(_ScriptedConsumer, "pace", 0.0)
    _ScriptedConsumer.records = []
    return alert_feed


class _Written:
    """A client that reads everything: the events a stream wrote, as (type, data) pairs."""

    def __init__(self) -> None:
        self.raw: List[bytes] = []

    async def write(self, data: bytes) -> None:
        self.raw.append(data)

    def events(self) -> list:
        found = []
        for block in b"".join(self.raw).decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
            if fields:
                found.append((fields.get("event"), json.loads(fields["data"])))
        return found


async def _until(condition, timeout: float = 5.0) -> None:
    """Wait (in the test's event loop) until `condition()` holds; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the deadline"
        await asyncio.sleep(0.01)


def _pump(listener, write, heartbeat: float = 5.0):
    from views.live_stream import pump

    return asyncio.ensure_future(pump(listener, write, heartbeat=heartbeat))


def test_over_the_cap_a_listener_is_refused_until_one_leaves(scripted):
    async def scenario():
        _ScriptedConsumer.release = asyncio.Event()
        feed = scripted.AlertFeed("unused:9092", max_listeners=2)
        async with feed.listen(), feed.listen():
            with pytest.raises(scripted.TooManyListeners, match="LIVE_FEED_MAX_LISTENERS"):
                async with feed.listen():
                    pass
            assert feed.state()["listeners"] == 2
        async with feed.listen():  # both left: room again
            return feed.state()

    state = asyncio.run(scenario())
    assert (state["listeners"], state["max_listeners"], state["consumer"]) == (1, 2, "running")


def test_a_client_that_takes_no_write_is_cut_and_holds_back_no_one(scripted):
    from views.live_stream import WriteTimedOut, write_within

    _ScriptedConsumer.records = [_alert_record(0, 100 + n, n) for n in range(50)]
    _ScriptedConsumer.pace = 0.005

    async def never(data: bytes) -> None:  # a full socket: the client stopped reading
        await asyncio.Event().wait()

    async def scenario():
        _ScriptedConsumer.release = asyncio.Event()
        feed = scripted.AlertFeed("unused:9092", queue_size=10)
        reader = _Written()
        async with feed.listen() as stuck, feed.listen() as healthy:
            healthy_stream = _pump(healthy, reader.write)
            stuck_stream = _pump(stuck, lambda data: write_within(never, data, timeout=0.2))
            _ScriptedConsumer.release.set()
            with pytest.raises(WriteTimedOut, match="no write for 0.2 s"):
                await asyncio.wait_for(stuck_stream, 5)
            await _until(lambda: len(reader.events()) >= 50)
            healthy_stream.cancel()
            return stuck.queue.qsize(), reader.events()

    queued, events = asyncio.run(scenario())
    assert queued <= 10  # its queue stayed bounded while it was stuck
    assert [data["trigger_txn_id"] for kind, data in events if kind == "alert"] == list(range(50))


def test_a_listener_that_fell_behind_is_told_how_many_and_since_where_and_it_is_counted(scripted):
    _ScriptedConsumer.records = [_alert_record(0, 100 + n, n) for n in range(8)]
    metrics = Metrics()

    async def scenario():
        _ScriptedConsumer.release = asyncio.Event()
        feed = scripted.AlertFeed("unused:9092", queue_size=3, metrics=metrics)
        reader = _Written()
        async with feed.listen() as listener:
            _ScriptedConsumer.release.set()
            while feed._fed.get(0) != 108:  # every record fanned out before the client reads any
                await asyncio.sleep(0)
            stream = _pump(listener, reader.write)
            await _until(lambda: len(reader.events()) >= 4)
            stream.cancel()
        return reader.events()

    events = asyncio.run(scenario())
    assert events[0] == ("dropped", {"dropped": 5, "since": "0@100,1@100"})
    assert [data["trigger_txn_id"] for _, data in events[1:]] == [5, 6, 7]
    assert metrics_summary(metrics.registry.collect())["live"]["dropped"] == 5


@pytest.mark.parametrize("failure", ["consumer", "broker"])
def test_when_the_feed_fails_every_stream_ends_and_the_failure_is_reported(scripted, failure):
    _ScriptedConsumer.records = [_alert_record(0, 100, 0)]
    if failure == "consumer":
        _ScriptedConsumer.then_fail = RuntimeError("fetch failed")
    metrics = Metrics()
    broker_answers = asyncio.Event()
    broker_answers.set()

    async def scenario():
        _ScriptedConsumer.release = asyncio.Event()
        feed = scripted.AlertFeed("unused:9092", metrics=metrics,
                                  broker_down=lambda: None if broker_answers.is_set() else "no answer within 5 s")
        readers = [_Written(), _Written()]
        async with feed.listen() as first, feed.listen() as second:
            streams = [_pump(first, readers[0].write, heartbeat=0.05), _pump(second, readers[1].write, heartbeat=0.05)]
            _ScriptedConsumer.release.set()
            if failure == "broker":
                await _until(lambda: all(reader.events() for reader in readers))
                broker_answers.clear()
            await asyncio.wait_for(asyncio.gather(*streams), 5)  # they end, rather than heartbeat on
        return feed.state(), [reader.events() for reader in readers]

    state, events = asyncio.run(scenario())
    reason = {"consumer": "the alert consumer failed (RuntimeError: fetch failed)",
              "broker": "the broker stopped answering the alert feed (no answer within 5 s)"}[failure]
    for one in events:
        assert [kind for kind, _ in one] == ["alert", "end"]
        assert one[-1][1] == {"reason": reason}
    assert (state["consumer"], state["failures"], state["last_failure"]["reason"]) == ("failed", 1, reason)
    assert metrics.live_failures._value.get() == 1


def test_the_live_feed_json_carries_severity_and_rule_version_and_defaults_for_older_events():
    from datetime import datetime, timezone
    from decimal import Decimal

    from schemas.records import WithdrawalAlertV1, WithdrawalAlertV3
    from views.alert_feed import alert_json

    at = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    common = dict(alert_id="deposit-then-drain:9", rule="deposit-then-drain", account_id=4, trigger_txn_id=9,
                  count=2, total=Decimal("950.00"), window_start=at, window_end=at, txn_ids=[9, 10, 11],
                  detected_at=at)
    served = alert_json(WithdrawalAlertV3(**common, severity="high", rule_version=2))
    assert (served["severity"], served["rule_version"]) == ("high", 2)
    older = alert_json(WithdrawalAlertV1(**common))
    assert (older["severity"], older["rule_version"], older["sources"]) == ("", 0, [])


def test_the_consoles_rule_filter_offers_every_rule_of_the_catalogue():
    import re
    from pathlib import Path

    import views
    from detection.catalog import read_catalog

    page = (Path(views.__file__).parent / "console" / "index.html").read_text()
    offered = set(re.findall(r'<option value="([^"]+)">', page))
    assert offered == {rule.id for rule in read_catalog().rules}
