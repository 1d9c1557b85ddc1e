"""deploy/'s dashboard and alert rules query only metrics the worker exports (engine/telemetry/metrics.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator, Set

import yaml

from engine.telemetry.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "ledgerstream.json"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "ledgerstream.yml"
#: Prometheus' own series about a target, not the worker's.
SCRAPE_SERIES = {"up"}
_NAME = re.compile(r"\b((?:ledgerstream|process|python)_[a-zA-Z0-9_]+|up)\b")


def exported_series() -> Set[str]:
    """Every series name the worker's registry can expose (counters as _total, histograms by suffix)."""
    app = SimpleNamespace(broker_probe=SimpleNamespace(answered=False, reachable=True, unreachable=None),
                          batch_agents=SimpleNamespace(cache_sizes=lambda: []))
    metrics = Metrics()
    metrics.watch(app)
    names = set()
    for family in metrics.registry.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count", "created")}
        else:
            names.add(family.name)
    return names


def dashboard_queries() -> Iterator[str]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]


def rule_queries() -> Iterator[str]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule["expr"]


def queried(exprs) -> Set[str]:
    # Label values and legends are in quotes or braces; only names outside them count.
    return {name for expr in exprs for name in _NAME.findall(re.sub(r'"[^"]*"', '""', expr))}


def test_the_dashboard_and_the_rules_query_only_exported_metrics():
    exported = exported_series() | SCRAPE_SERIES
    used = queried(dashboard_queries()) | queried(rule_queries())
    assert used - exported == set(), f"queried but never exported: {sorted(used - exported)}"


def test_the_dashboard_shows_what_an_operator_needs():
    used = queried(dashboard_queries())
    for name in ("ledgerstream_agent_records_total", "ledgerstream_consumer_lag_records",
                 "ledgerstream_freshness_seconds_bucket", "ledgerstream_agent_dead_letters_total",
                 "ledgerstream_flush_duration_seconds_bucket", "ledgerstream_http_request_duration_seconds_bucket"):
        assert name in used, name


def test_the_rules_alert_on_lag_freshness_dead_letters_and_readiness():
    used = queried(rule_queries())
    assert {"ledgerstream_consumer_lag_records", "ledgerstream_freshness_seconds_bucket",
            "ledgerstream_agent_dead_letters_total", "ledgerstream_ready"} <= used


def test_a_misspelt_metric_is_caught():
    assert queried(["rate(ledgerstream_agent_record_total[1m])"]) - exported_series() == {
        "ledgerstream_agent_record_total"}
