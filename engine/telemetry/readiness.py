"""Whether a worker is ready to serve (readiness) and why not; liveness needs nothing but an answer."""

from __future__ import annotations

from typing import List

from faust.exceptions import ConsumerNotStarted

__all__ = ["not_ready_reasons", "assigned_partitions"]


def not_ready_reasons(app) -> List[str]:
    """Why the worker is not ready (broker, rebalance, table recovery, assignment); empty when it is."""
    reasons = []
    probe = app.broker_probe
    if not probe.reachable:
        reasons.append("broker unreachable")
    # The Kafka services start once the broker first answers: until then there is nothing to ask them.
    if probe.answered:
        if app.rebalancing:
            reasons.append("rebalancing")
        if not app.tables.recovery.completed.is_set():
            reasons.append("recovering tables from their changelogs")
        if not assigned_partitions(app):
            reasons.append("no partitions assigned yet")
    return reasons


def assigned_partitions(app):
    try:
        return app.consumer.assignment()
    except ConsumerNotStarted:  # starting right after the broker first answered
        return set()
