"""The live alert feed under pressure, on the real stack: many clients, a client that never reads,
HEAD, and the feed's consumer failing.

The 500 clients get alerts from SQL postings through Debezium and the rules, as in production. The
2,000 alerts of the stuck-client test are written straight onto alerts.withdrawals, as the rules'
publisher writes them: the same records the feed reads, without 1,000 postings in the ledger that
every later test's fresh worker would replay (and whose alerts it would send again) on the shared
stack. The clients are plain HTTP clients in this process; the worker's memory and open file
descriptors are read from /proc. Figures (memory, descriptors, latency) are printed for the docs
(run with -s); nothing asserts a time.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Set, Tuple
from urllib.parse import urlparse

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from dev.stack.kafka_topics import ensure_topics
from dev.stack.layout import StackLayout
from dev.stack.processes import stop_process
from dev.stack.workers import health, start_worker, wait_ready, worker_env
from schemas.codec.envelope import decode_envelope
from tests.support.alert_records import alert_record
from tests.support.http import get_json
from tests.support.kafka import produce, read_topic
from tests.support.ledger_sql import open_account, post
from tests.support.stack_fixtures import free_port
from tests.support.throwaway_broker import Broker
from tests.support.waiting import eventually
from topics import WITHDRAWAL_ALERTS

pytestmark = pytest.mark.integration

#: Withdrawals of 2500.00, four minutes apart: from an account's 2nd on each is a burst (two make
#: 5000.00), from its 3rd on also a rapid alert (three within ten minutes): 2n - 3 alerts for n.
#: Alerts of the stuck-client test.
ALERTS = 2000
AMOUNT = "2500.00"
SPACING = timedelta(minutes=4)


def rss_and_fds(pid: int) -> Tuple[int, int]:
    """(resident memory in bytes, open file descriptors) of a process."""
    with open(f"/proc/{pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss_kb * 1024, len(os.listdir(f"/proc/{pid}/fd"))


def mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def fire_alerts(db, accounts: int, withdrawals: int) -> List[int]:
    """Post `withdrawals` large withdrawals on each of `accounts` new accounts; the account ids."""
    ids = []
    start = datetime.now(timezone.utc) - timedelta(days=1)
    for _ in range(accounts):
        _, account = open_account(db, "10000000.00")
        ids.append(account)
    for n in range(withdrawals):  # round robin: every account's rules work at once
        for account in ids:
            post(db, account, "withdrawal", AMOUNT, start + n * SPACING)
    return ids


async def publish_alerts(bootstrap: str, count: int) -> Set[str]:
    """`count` alerts on alerts.withdrawals, over 40 accounts (every partition), as fast as the broker
    takes them; their ids."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    ids = set()
    base = 800_000 + uuid.uuid4().int % 100_000
    try:
        for n in range(count):
            account = base + n % 40
            alert_id, value = alert_record(account)
            ids.add(alert_id)
            await producer.send(WITHDRAWAL_ALERTS.name, key=str(account).encode(), value=value)
        await producer.flush()
    finally:
        await producer.stop()
    return ids


def caught_up(url: str) -> bool:
    """Whether a worker has read every input partition to its end (a fresh worker replays the stack's history)."""
    status, body = get_json(f"{url}/status")
    partitions = body.get("partitions", []) if status == 200 else []
    return bool(partitions) and all(p.get("lag") == 0 for p in partitions)


def alerts_on_topic(bootstrap: str, accounts: List[int]) -> Set[str]:
    keys = {str(account).encode() for account in accounts}
    return {decode_envelope(r.value).payload.alert_id for r in read_topic(bootstrap, WITHDRAWAL_ALERTS.name)
            if r.key in keys and r.value}


class SseClient:
    """One /live/alerts client reading as fast as it can: alert ids, when each came, and other events."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.status: Optional[int] = None
        self.headers: Dict[str, str] = {}
        self.refusal = None
        self.live = asyncio.Event()
        self.alerts: Dict[str, float] = {}  # alert id -> seconds from its detection to its arrival here
        self.events: List[Tuple[str, dict]] = []
        self.last_id: Optional[str] = None
        self.ended = asyncio.Event()

    async def run(self, last_id: Optional[str] = None) -> None:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            async with self.session.get(self.url, headers=headers) as response:
                self.status, self.headers = response.status, dict(response.headers)
                if response.status != 200:
                    self.refusal = await response.json()
                    return
                kind, data, event_id = "message", None, None
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if line == ": live":
                        self.live.set()
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: "):
                        data = orjson.loads(line[6:])
                    elif line == "" and data is not None:
                        self._took(kind, data, event_id)
                        kind, data, event_id = "message", None, None
        finally:
            self.ended.set()

    def _took(self, kind: str, data: dict, event_id: Optional[str]) -> None:
        if kind == "alert":
            self.last_id = event_id
            self.alerts[data["alert_id"]] = time.time() - datetime.fromisoformat(data["detected_at"]).timestamp()
        else:
            self.events.append((kind, data))


async def wait_until(condition, *, timeout: float, what: str) -> None:
    """In an event loop: until `condition()` holds, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def latency(clients: List[SseClient]) -> str:
    seconds = sorted(s for client in clients for s in client.alerts.values())
    if not seconds:
        return "no alerts"
    p99 = seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))]
    return f"p50 {statistics.median(seconds) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms"


def live_feed(url: str) -> dict:
    return (health(url) or {}).get("live_feed", {})


# --------------------------------------------------------------------------- 500 clients


def test_500_clients_get_every_alert_or_a_503_with_retry_after(db, start_test_worker, stack_env):
    cap = 450
    worker = start_test_worker(env={"LIVE_FEED_MAX_LISTENERS": str(cap)})
    # Measure a worker that has replayed the shared stack's history, not one busy with it.
    eventually(lambda: caught_up(worker.url), bool, timeout=180, interval=1, what="the worker caught up")
    pid = worker.process.pid
    before = rss_and_fds(pid)

    async def scenario():
        connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a refused client hangs up
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(sock_read=120)) as session:
            clients = [SseClient(session, f"{worker.url}/live/alerts") for _ in range(500)]
            tasks = [asyncio.ensure_future(client.run()) for client in clients]
            await wait_until(lambda: sum(c.live.is_set() for c in clients) + sum(c.refusal is not None for c in clients)
                             == 500, timeout=60, what="500 clients live or refused")
            with_clients = rss_and_fds(pid)
            accounts = await asyncio.to_thread(fire_alerts, db, 4, 6)  # 4 x 9 alerts
            streaming = [c for c in clients if c.status == 200]
            expected = await asyncio.to_thread(lambda: eventually(
                lambda: alerts_on_topic(stack_env["KAFKA_BOOTSTRAP"], accounts), lambda found: len(found) == 36,
                timeout=90, what="36 alerts on the topic"))
            await wait_until(lambda: all(expected <= set(c.alerts) for c in streaming), timeout=60,
                             what="every alert at every streaming client")
            after = rss_and_fds(pid)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return clients, with_clients, after

    clients, with_clients, after = asyncio.run(scenario())
    streaming = [c for c in clients if c.status == 200]
    refused = [c for c in clients if c.status != 200]
    print(f"\n500 clients, cap {cap}: worker before {mb(before[0])} / {before[1]} fds; "
          f"with the clients {mb(with_clients[0])} / {with_clients[1]} fds; after 36 alerts to each "
          f"{mb(after[0])} / {after[1]} fds; alert latency {latency(streaming)}")
    assert len(streaming) == cap and len(refused) == 500 - cap
    for client in refused:
        assert client.status == 503 and client.headers["Retry-After"] == "5"
        assert "LIVE_FEED_MAX_LISTENERS" in client.refusal["error"]
    assert all(not c.events for c in streaming)  # nothing dropped, nothing ended
    # One socket per streaming client (a few more for the worker's own connections meanwhile).
    assert cap <= with_clients[1] - before[1] <= cap + 20
    assert with_clients[0] - before[0] < 100 * 2**20
    # The clients left: their listeners are let go, and the consumer with them.
    state = eventually(lambda: live_feed(worker.url), lambda s: s.get("listeners") == 0, timeout=30,
                       what="no listener left")
    assert state["consumer"] == "idle"
    _, metrics = get_json(f"{worker.url}/status")
    assert metrics["live"]["listeners"] == 0


# --------------------------------------------------------------------------- a client that never reads


def test_a_client_that_never_reads_is_cut_and_the_others_get_every_alert(start_test_worker, stack_env):
    timeout = 3
    worker = start_test_worker(env={"LIVE_FEED_WRITE_TIMEOUT_SECONDS": str(timeout)})
    pid = worker.process.pid
    parts = urlparse(worker.url)
    # The stuck client: a receive buffer of a few KB, a request, and never a read.
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    stuck.connect((parts.hostname, parts.port))
    stuck.sendall(f"GET /live/alerts HTTP/1.1\r\nHost: {parts.hostname}\r\n\r\n".encode())

    async def scenario():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=120)) as session:
            clients = [SseClient(session, f"{worker.url}/live/alerts") for _ in range(3)]
            tasks = [asyncio.ensure_future(client.run()) for client in clients]
            await wait_until(lambda: all(c.live.is_set() for c in clients), timeout=60, what="3 clients live")
            await wait_until(lambda: live_feed(worker.url).get("listeners") == 4, timeout=30,
                             what="the stuck client listening too")
            before = rss_and_fds(pid)
            fired = time.monotonic()
            expected = await publish_alerts(stack_env["KAFKA_BOOTSTRAP"], ALERTS)
            peak = before
            deadline = time.monotonic() + 90
            while not all(expected <= set(c.alerts) for c in clients):
                assert time.monotonic() < deadline, [len(expected - set(c.alerts)) for c in clients]
                now = rss_and_fds(pid)
                peak = (max(peak[0], now[0]), max(peak[1], now[1]))
                await asyncio.sleep(0.2)
            # The stuck client is cut once a write to it waited `timeout` seconds.
            state = await asyncio.to_thread(lambda: eventually(
                lambda: live_feed(worker.url), lambda s: s.get("listeners") == 3, timeout=30,
                what="the stuck client cut"))
            took = time.monotonic() - fired
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return clients, expected, before, peak, state, took

    try:
        clients, expected, before, peak, state, took = asyncio.run(scenario())
        # The worker closed the stuck client's connection: reading now finds its end, not a stream.
        stuck.settimeout(10)
        try:
            while stuck.recv(65536):
                pass
            outcome = "closed"
        except ConnectionResetError:
            outcome = "reset"
        except socket.timeout:
            outcome = "still open"
    finally:
        stuck.close()
    print(f"\na client that never reads while {ALERTS} alerts fire: worker {mb(before[0])} / {before[1]} fds "
          f"before, peak {mb(peak[0])} / {peak[1]} fds; the other clients' alert latency {latency(clients)}; "
          f"all delivered and the stuck client cut {took:.0f} s after the first alert was sent")
    assert outcome in ("closed", "reset")
    for client in clients:
        assert expected <= set(client.alerts) and not client.events  # every alert, none dropped
    assert state["consumer"] == "running"
    assert peak[0] - before[0] < 64 * 2**20  # the stuck client's queue and buffers are bounded
    # Whether the stuck client's queue overflowed before the cut depends on the pipeline's pace here;
    # the drop and its count are unit tests (tests/unit/test_console_parts.py).
    metrics = get_text(f"{worker.url}/metrics")
    assert "ledgerstream_live_listeners_cut_total 1.0" in metrics


def get_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


# --------------------------------------------------------------------------- HEAD


def test_head_answers_the_stream_headers_and_opens_no_stream(worker):
    import http.client

    parts = urlparse(worker.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("HEAD", "/live/alerts")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert (response.status, response.getheader("Content-Type"), body) == (200, "text/event-stream", b"")
    assert response.getheader("Cache-Control") == "no-cache"
    # It held no listener (a GET's stream would hold one until the client goes).
    assert live_feed(worker.url)["listeners"] == 0


# --------------------------------------------------------------------------- the feed's consumer failing


def test_when_the_feed_consumer_fails_streams_end_and_clients_resume_without_loss(stack_env, tmp_path):
    """The broker stops answering (SIGSTOP): the feed cannot go on, so its streams end instead of
    sending heartbeats forever; /health says why; after the outage a client resumes from its last id."""
    broker = Broker(free_port(), tmp_path / "broker.log")
    layout = StackLayout.from_env(stack_env)
    app_id = f"feed-{uuid.uuid4().hex[:8]}"
    url = f"http://127.0.0.1:{free_port()}"
    env = worker_env(layout, app_id, web_port=int(url.rsplit(":", 1)[1]), app_id=app_id,
                     extra={"KAFKA_BOOTSTRAP": broker.bootstrap})
    process = None
    try:
        broker.start()
        ensure_topics(broker.bootstrap, [WITHDRAWAL_ALERTS])
        process = start_worker(env, layout.log_file(app_id))
        wait_ready(url, process, timeout=120)

        async def scenario():
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=120)) as session:
                clients = [SseClient(session, f"{url}/live/alerts") for _ in range(2)]
                tasks = [asyncio.ensure_future(client.run()) for client in clients]
                await wait_until(lambda: all(c.live.is_set() for c in clients), timeout=60, what="clients live")
                first, value = alert_record(7)
                await asyncio.to_thread(produce, broker.bootstrap, WITHDRAWAL_ALERTS.name, key=b"7", value=value)
                await wait_until(lambda: all(first in c.alerts for c in clients), timeout=30, what="the first alert")
                broker.pause()
                await wait_until(lambda: all(c.ended.is_set() for c in clients), timeout=60,
                                 what="the streams ended")
                state = await asyncio.to_thread(live_feed, url)
                during = SseClient(session, f"{url}/live/alerts")
                await during.run()
                broker.resume()
                await asyncio.to_thread(lambda: eventually(
                    lambda: health(url) or {}, lambda b: b.get("status") == "ready", timeout=120,
                    what="ready after the outage"))
                second, value = alert_record(7)
                await asyncio.to_thread(produce, broker.bootstrap, WITHDRAWAL_ALERTS.name, key=b"7", value=value)
                back = SseClient(session, f"{url}/live/alerts")
                task = asyncio.ensure_future(back.run(last_id=clients[0].last_id))
                await wait_until(lambda: second in back.alerts, timeout=60, what="the missed alert after resuming")
                task.cancel()
                await asyncio.gather(*tasks, task, return_exceptions=True)
                return first, second, clients, state, during, back

        first, second, clients, state, during, back = asyncio.run(scenario())
    finally:
        if process is not None:
            stop_process(process)
        broker.stop()
    for client in clients:
        kind, data = client.events[-1]
        assert kind == "end" and data["reason"].startswith("the broker stopped answering the alert feed")
    assert state["consumer"] == "failed" and state["failures"] == 1
    assert state["last_failure"]["reason"].startswith("the broker stopped answering")
    assert (during.status, during.headers.get("Retry-After"), during.refusal) == (
        503, "5", {"error": "broker unreachable; retry shortly"})
    assert list(back.alerts) == [second]  # the missed one, and not the one it had
    assert "live alert feed failed: the broker stopped answering" in layout.log_file(app_id).read_text()
