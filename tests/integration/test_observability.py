"""Operability on the real stack: metrics count exactly what happened, lag drains, Prometheus scrapes the
worker, probes tell liveness from readiness, JSON logs, and alerts name the changes behind them."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from typing import Dict, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc.decode import decode_change
from engine.telemetry.trace import parse_traceparent
from schemas.codec.envelope import decode_envelope
from tests.support.http import get_json
from tests.support.kafka import produce, read_topic
from tests.support.ledger_sql import open_account, post
from tests.support.waiting import eventually
from topics import TRANSACTION_CHANGES, WITHDRAWAL_ALERTS

pytestmark = pytest.mark.integration

TRANSACTIONS = TRANSACTION_CHANGES.name
AGENT = "fold_transactions"
Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def lags(samples: Samples, topic: str) -> Dict[str, float]:
    return {dict(ls)["partition"]: v for (n, ls), v in samples.items()
            if n == "ledgerstream_consumer_lag_records" and dict(ls).get("topic") == topic}


def caught_up(url: str) -> Samples:
    """Metrics once every partition of the transactions topic has lag 0 (all four are reported)."""
    return eventually(lambda: scrape(url), lambda s: len(lags(s, TRANSACTIONS)) == 4
                      and set(lags(s, TRANSACTIONS).values()) == {0}, timeout=90, what="transactions lag 0")


def promql(stack_env: Dict[str, str], query: str) -> list:
    port = stack_env["STACK_PROMETHEUS_PORT"]
    url = f"http://127.0.0.1:{port}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
    except OSError:
        return []
    return body["data"]["result"] if body.get("status") == "success" else []


def test_a_scenario_of_n_transactions_and_k_bad_records_shows_exactly_n_and_k(db, stack_env, start_test_worker):
    n, k = 7, 3
    worker = start_test_worker()
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    # A fresh group reads the topics from the start: what earlier tests wrote is counted first.
    # Debezium may still be streaming their changes, so a marker posted now (emitted after all of
    # them, in commit order) must be applied before the count starts.
    _, account = open_account(db, "100000.00")
    post(db, account, "deposit", "1.00")
    eventually(lambda: get_json(f"{worker.url}/accounts/{account}/turnover"),
               lambda r: r[0] == 200 and r[1].get("count") == 1, timeout=120, what="the marker applied")
    before = caught_up(worker.url)

    for i in range(n):
        post(db, account, "deposit" if i % 2 else "withdrawal", f"{10 + i}.00")
    for i in range(k):
        produce(bootstrap, TRANSACTIONS, key=str(account).encode(), value=b"{not json %d" % i)

    def delta(samples: Samples, name: str, **labels: str) -> float:
        return total(samples, name, **labels) - total(before, name, **labels)

    after = eventually(lambda: scrape(worker.url),
                       lambda s: delta(s, "ledgerstream_agent_records_total", agent=AGENT) >= n
                       and delta(s, "ledgerstream_agent_dead_letters_total", agent=AGENT) >= k,
                       timeout=90, what=f"{n} records and {k} dead letters counted")
    after = caught_up(worker.url)

    assert delta(after, "ledgerstream_agent_records_total", agent=AGENT, topic=TRANSACTIONS) == n
    assert delta(after, "ledgerstream_agent_dead_letters_total", agent=AGENT, topic=TRANSACTIONS) == k
    assert delta(after, "ledgerstream_freshness_seconds_count", source_table="public.transactions") == n
    # Each batch observed: sizes add up to what the agent got (handled and dead-lettered).
    assert delta(after, "ledgerstream_agent_batch_size_records_sum", agent=AGENT) == n + k
    # The last change applied names its commit time (seconds, recent) and LSN in the transactions' partition.
    commit_times = [v for (name, ls), v in after.items()
                    if name == "ledgerstream_last_applied_commit_timestamp_seconds"
                    and dict(ls)["topic"] == TRANSACTIONS]
    assert commit_times and max(commit_times) > time.time() - 300
    assert total(after, "ledgerstream_last_applied_lsn", topic=TRANSACTIONS) > 0
    # Within a flush interval the rows reach the tables and the group commits up to the end.
    flushed = eventually(
        lambda: scrape(worker.url),
        lambda s: total(s, "ledgerstream_flush_rows_total", table="turnover_by_account_day") > 0
        and total(s, "ledgerstream_consumer_committed_offset", topic=TRANSACTIONS)
        == total(s, "ledgerstream_consumer_end_offset", topic=TRANSACTIONS),
        timeout=60, what="a flush and the commit of every transactions offset")
    assert total(flushed, "ledgerstream_flushes_total") > 0
    assert total(flushed, "ledgerstream_flush_changelog_records_total", table="turnover_by_account_day") > 0
    for name in ("ledgerstream_http_requests_total", "process_cpu_seconds_total", "python_gc_collections_total"):
        assert any(n_ == name for n_, _ in flushed), name
    assert total(flushed, "ledgerstream_ready") == 1

    # The stack's Prometheus scraped this worker: PromQL gives its lag series, drained to 0.
    query = f'ledgerstream_consumer_lag_records{{app_id="{worker_app_id(worker)}",topic="{TRANSACTIONS}"}}'
    series = eventually(lambda: promql(stack_env, query),
                        lambda r: len(r) == 4 and all(float(s["value"][1]) == 0 for s in r),
                        timeout=60, what="the lag series in Prometheus, all 0")
    assert {s["metric"]["partition"] for s in series} == {"0", "1", "2", "3"}


def worker_app_id(worker) -> str:
    return json.loads(worker.scrape_target.read_text())[0]["labels"]["app_id"]


def test_readyz_is_503_until_assigned_livez_answers_throughout_and_json_logs_parse(db, stack_env,
                                                                                    start_test_worker):
    app_id = f"test-{uuid.uuid4().hex[:8]}"
    first = start_test_worker(app_id=app_id)
    _, account = open_account(db, "1000.00")
    post(db, account, "deposit", "5.00")
    # A fresh group reads every earlier test's changes first: on a busy machine that takes a while.
    eventually(lambda: get_json(f"{first.url}/accounts/{account}"), lambda r: r[0] == 200, timeout=180,
               what="the account")
    first.stop()

    # Same group, empty state folder: the worker must recover its tables from their changelogs.
    worker = start_test_worker(app_id=app_id, name=f"{app_id}-fresh", wait=False,
                               env={"LOG_FORMAT": "json", "LOG_LEVEL": "info"})
    seen = []

    def probe():
        ready, body = get_json(f"{worker.url}/readyz", timeout=2)
        live, _ = get_json(f"{worker.url}/livez", timeout=2)
        if ready:
            seen.append((ready, tuple(body.get("reasons", ())) if isinstance(body, dict) else (), live))
        return ready

    eventually(probe, lambda status: status == 200, timeout=180, interval=0.05, what="/readyz 200")
    assert seen[0][0] == 503 and seen[0][1], f"the first answer was not a 503 with reasons: {seen[0]}"
    assert any("no partitions assigned yet" in reasons or "broker unreachable" in reasons
               for status, reasons, _ in seen if status == 503)
    assert all(live == 200 for _, _, live in seen), [s for s in seen if s[2] != 200]
    assert seen[-1][0] == 200

    # A dead letter while it runs: its log line names agent, topic, partition and offset.
    produce(stack_env["KAFKA_BOOTSTRAP"], TRANSACTIONS, key=str(account).encode(), value=b"{not json")
    eventually(lambda: worker.log.read_text(), lambda text: "Dead-lettered" in text, timeout=120,
               what="the dead letter's log line")
    worker.stop()

    lines = [line for line in worker.log.read_text().splitlines() if line.strip()]
    assert lines
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    # Ours, and any earlier bad record the group had not committed past (at least once): each names its place.
    dead = [r for r in records if r["message"].startswith("Dead-lettered")]
    assert dead
    for entry in dead:
        assert entry["agent"] == AGENT and entry["topic"] == TRANSACTIONS
        assert isinstance(entry["partition"], int) and isinstance(entry["offset"], int)


def test_an_alert_names_the_lsn_and_offset_of_each_transaction_and_carries_traceparent(db, stack_env, worker):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    _, account = open_account(db, "0")
    start = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    post(db, account, "deposit", "5000.00", start - timedelta(minutes=1))
    txns = [post(db, account, "withdrawal", amount, start + timedelta(seconds=i))
            for i, amount in enumerate(("250.00", "300.00", "400.00"))]  # three large in ten minutes: rapid

    _, body = eventually(lambda: get_json(f"{worker.url}/alerts/{account}"),
                         lambda r: r[0] == 200 and r[1]["alerts"], timeout=120, what="the alert in the view")
    (alert,) = body["alerts"]
    assert alert["txn_ids"] == sorted(txns)
    sources = alert["sources"]
    assert [s["txn_id"] for s in sources] == alert["txn_ids"]

    # Each source is the change record of that transaction, at that offset, with that LSN and txid.
    records = {(r.partition, r.offset): r for r in read_topic(bootstrap, TRANSACTIONS)}
    for source in sources:
        assert source["topic"] == TRANSACTIONS and source["lsn"] and source["tx_id"]
        change = decode_change(records[(source["partition"], source["offset"])].key,
                               records[(source["partition"], source["offset"])].value)
        assert change.after["id"] == source["txn_id"]
        assert (change.source.lsn, change.source.tx_id) == (source["lsn"], source["tx_id"])

    # The record on alerts.withdrawals: the same sources, and a valid W3C traceparent.
    def on_topic():
        return [r for r in read_topic(bootstrap, WITHDRAWAL_ALERTS.name) if r.key == str(account).encode()]

    (record, *_) = eventually(on_topic, lambda found: found, what="the alert on its topic")
    decoded = decode_envelope(record.value)
    assert decoded.envelope.event_version == 3  # sources since v2; severity and rule version since v3
    assert decoded.payload.sources == sources
    headers = dict(record.headers)
    assert parse_traceparent(headers["traceparent"].decode()) is not None
