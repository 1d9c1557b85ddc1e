"""The worker's reconciliation metrics: what the last run found, when, and how long it took."""

from __future__ import annotations

from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Gauge

from .reconciler import Report

__all__ = ["ReconcileGauges"]

MODELS = ("account", "customer", "turnover")


class ReconcileGauges:
    """`ledgerstream_reconcile_*` in the worker's registry (docs/metrics.md)."""

    def __init__(self, registry: Optional[CollectorRegistry]) -> None:
        p = "ledgerstream_reconcile"
        self.differences = Gauge(f"{p}_differences", "Differences between a read model and the ledger that the "
                                 "last reconciliation found (each held in every round).", ("model",),
                                 registry=registry)
        self.unsettled = Gauge(f"{p}_unsettled_keys", "Keys still changing in every round of the last reconciliation.",
                               registry=registry)
        self.checked = Gauge(f"{p}_checked_keys", "Keys the last reconciliation compared.", ("model",),
                             registry=registry)
        self.last_success = Gauge(f"{p}_last_success_timestamp_seconds", "When the last reconciliation ended.",
                                  registry=registry)
        self.duration = Gauge(f"{p}_duration_seconds", "How long the last reconciliation took.", registry=registry)
        self.runs = Counter(f"{p}_runs", "Reconciliations by outcome (consistent, differences, failed).",
                            ("outcome",), registry=registry)

    def report(self, report: Report, *, ended_at: float, seconds: float) -> None:
        for model in MODELS:
            self.differences.labels(model).set(sum(d.model == model for d in report.differences))
        for model, count in zip(MODELS, (report.checked["accounts"], report.checked["customers"],
                                         report.checked["turnover_days"]), strict=True):
            self.checked.labels(model).set(count)
        self.unsettled.set(len(report.unsettled))
        self.last_success.set(ended_at)
        self.duration.set(seconds)
        self.runs.labels("differences" if report.differences else "consistent").inc()

    def failed(self) -> None:
        self.runs.labels("failed").inc()
