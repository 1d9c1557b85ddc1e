"""engine/telemetry/: metrics counted per batch, the fast histogram, trace context, JSON logs, open paths."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import logging.config
from types import SimpleNamespace

import pytest
from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from engine.batching import BatchAgents
from engine.telemetry.histogram import FastHistogram
from engine.telemetry.logs import logging_config, record_context
from engine.telemetry.metrics import Metrics, NullMetrics
from engine.telemetry.trace import parse_traceparent, traceparent
from tests.support.batch_fakes import FakeConsumer, FakeTable
from views.auth import OPEN_PATHS

TOPIC = "ledger.public.transactions"


def samples(metrics: Metrics) -> dict:
    text = metrics.exposition().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_fast_histogram_counts_like_prometheus_le_buckets():
    histogram = FastHistogram("x_seconds", "x", ("t",), (0.1, 1, 10))
    histogram.observe_many(("a",), [0.05, 0.1, 0.5, 1.0, 20])
    (family,) = histogram.collect()
    got = {tuple(sorted(s.labels.items())): s.value for s in family.samples if s.name == "x_seconds_bucket"}
    assert got == {(("le", "0.1"), ("t", "a")): 2, (("le", "1.0"), ("t", "a")): 4,
                   (("le", "10.0"), ("t", "a")): 4, (("le", "+Inf"), ("t", "a")): 5}
    assert {s.name: s.value for s in family.samples if s.name != "x_seconds_bucket"} == {
        "x_seconds_count": 5, "x_seconds_sum": pytest.approx(21.65)}


def test_null_metrics_has_every_hook_of_metrics():
    hooks = {name for name, member in inspect.getmembers(Metrics, inspect.isfunction) if not name.startswith("_")}
    assert hooks - {"exposition"} <= set(dir(NullMetrics))


def test_batch_agents_count_records_dead_letters_batches_and_flushes_per_partition():
    metrics = Metrics()
    app = SimpleNamespace(consumer_generation_id=1, metrics=metrics,
                          producer=SimpleNamespace(flush=lambda: asyncio.sleep(0)))
    agents = BatchAgents(app, flush_interval_s=0, flush_records=1)
    table = FakeTable("turnover")

    async def fold_things(batch):
        rows = batch.rows(table)
        for record in batch.records:
            if record.value == b"bad":
                metrics.dead_lettered("fold_things", batch.tp.topic, batch.tp.partition)
                continue
            rows[record.key] = record.value.decode()

    agents.register(SimpleNamespace(topics=[TOPIC]), fold_things)
    consumer = FakeConsumer(app, active={TP(TOPIC, 2)})
    records = [SimpleNamespace(offset=o, key=o % 2, value=b"bad" if o == 11 else b"ok", headers=[])
               for o in range(10, 14)]

    async def run():
        await agents.deliver(consumer, {TP(TOPIC, 2): records}, 1)
        await agents.flush_due(consumer)

    asyncio.run(run())
    got = samples(metrics)
    labels = (("agent", "fold_things"), ("partition", "2"), ("topic", TOPIC))
    assert got[("ledgerstream_agent_records_total", labels)] == 3
    assert got[("ledgerstream_agent_dead_letters_total", labels)] == 1
    assert got[("ledgerstream_agent_batch_size_records_sum", labels)] == 4
    assert got[("ledgerstream_agent_batch_duration_seconds_count", labels)] == 1
    assert got[("ledgerstream_flushes_total", (("partition", "2"),))] == 1
    assert got[("ledgerstream_flush_rows_total", (("partition", "2"), ("table", "turnover")))] == 2
    assert got[("ledgerstream_flush_changelog_records_total", (("partition", "2"), ("table", "turnover")))] == 2


def test_freshness_and_the_last_change_applied():
    metrics = Metrics()
    import time

    now_ms = time.time() * 1000
    metrics.changes_applied("public.transactions", TOPIC, 1, [now_ms - 40, now_ms - 3000], last_lsn=123456)
    got = samples(metrics)
    table = (("source_table", "public.transactions"),)
    assert got[("ledgerstream_freshness_seconds_count", table)] == 2
    assert got[("ledgerstream_freshness_seconds_bucket", (("le", "0.05"),) + table)] == 1
    assert got[("ledgerstream_last_applied_lsn", (("partition", "1"), ("topic", TOPIC)))] == 123456
    assert got[("ledgerstream_last_applied_commit_timestamp_seconds", (("partition", "1"), ("topic", TOPIC)))] == \
        pytest.approx((now_ms - 3000) / 1000)


def test_a_failed_delivery_counts_as_a_send_failure():
    metrics = Metrics()

    async def run():
        delivered, failed = asyncio.get_running_loop().create_future(), asyncio.get_running_loop().create_future()
        metrics.event_sent("alerts.withdrawals", "WithdrawalAlert", delivered)
        metrics.event_sent("alerts.withdrawals", "WithdrawalAlert", failed)
        delivered.set_result(None)
        failed.set_exception(RuntimeError("broker gone"))
        await asyncio.sleep(0)

    asyncio.run(run())
    got = samples(metrics)
    labels = (("event_type", "WithdrawalAlert"), ("topic", "alerts.withdrawals"))
    assert got[("ledgerstream_events_sent_total", labels)] == 2
    assert got[("ledgerstream_event_send_failures_total", labels)] == 1


def test_traceparent_is_valid_deterministic_and_continues_an_incoming_trace():
    header = traceparent(event_id="e1", trace_seed="ledger-tx-77")
    trace_id, span_id, flags = parse_traceparent(header)
    assert header == traceparent(event_id="e1", trace_seed="ledger-tx-77")      # a replay sends the same
    assert parse_traceparent(traceparent(event_id="e2", trace_seed="ledger-tx-77"))[0] == trace_id
    assert parse_traceparent(traceparent(event_id="e2", trace_seed="ledger-tx-78"))[0] != trace_id
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert parse_traceparent(traceparent(event_id="e1", trace_seed="x", incoming=incoming))[0] == \
        "4bf92f3577b34da6a3ce929d0e0e4736"
    for bad in ("", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"):
        assert parse_traceparent(bad) is None


def test_json_logs_are_one_object_per_line_with_the_batch_context(capsys):
    config = logging_config("info", "json")
    config["handlers"]["default"]["stream"] = "ext://sys.stdout"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        with record_context("fold_transactions", TOPIC, 3, 42):
            logging.getLogger("agents").warning("bad record\nsecond line")
        logging.getLogger("agents").debug("not at info")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "bad record\nsecond line" and entry["level"] == "WARNING"
    assert (entry["agent"], entry["topic"], entry["partition"], entry["offset"]) == ("fold_transactions", TOPIC, 3, 42)
    assert logging_config("info", "text") is None
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config("info", "xml")


def test_probes_are_open_and_metrics_need_the_token():
    assert {"/health", "/livez", "/readyz"} <= OPEN_PATHS
    assert "/metrics" not in OPEN_PATHS


def test_ages_in_milliseconds_land_in_the_buckets_of_seconds():
    histogram = FastHistogram("age_seconds", "x", ("t",), (0.1, 1))
    histogram.observe_ages(("a",), 10_000.0, [9_950.0, 9_900.0, 9_500.0, 5_000.0], scale=1000.0)
    (family,) = histogram.collect()
    got = {s.labels.get("le", s.name): s.value for s in family.samples}
    assert (got["0.1"], got["1.0"], got["+Inf"]) == (2, 3, 4)
    assert got["age_seconds_sum"] == pytest.approx(0.05 + 0.1 + 0.5 + 5.0)
