"""The worker's metrics as one JSON-ready summary (GET /status, the console): read from its registry.

No second count of anything: every number is a sample of a metric family the worker exports on
/metrics (engine/telemetry/metrics.py); this module only groups them and reads quantiles off the
freshness histogram, as PromQL's histogram_quantile would. Pure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .metrics import PREFIX

__all__ = ["metrics_summary", "histogram_quantile"]


def histogram_quantile(q: float, buckets: Sequence[Tuple[float, float]]) -> Optional[float]:
    """The q-quantile of a cumulative histogram [(upper bound, count <= bound)], +Inf last; None when empty.

    Linear within the bucket holding the rank, like Prometheus; in the +Inf bucket, the last finite bound.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def metrics_summary(families: Iterable[Any]) -> Dict[str, Any]:
    """Agents, lag, freshness, dead letters and the live feed, from `registry.collect()`."""
    samples: Dict[str, List[Tuple[Dict[str, str], float]]] = defaultdict(list)
    for family in families:
        for sample in family.samples:
            samples[sample.name].append((dict(sample.labels), sample.value))

    def each(name: str):
        return samples.get(f"{PREFIX}_{name}", [])

    agents: Dict[Tuple[str, str, int], Dict[str, Any]] = {}
    for metric, key in (("agent_records_total", "records"), ("agent_dead_letters_total", "dead_letters"),
                        ("agent_batch_size_records_count", "batches")):
        for labels, value in each(metric):
            row = agents.setdefault((labels["agent"], labels["topic"], int(labels["partition"])),
                                    {"agent": labels["agent"], "topic": labels["topic"],
                                     "partition": int(labels["partition"]), "records": 0, "dead_letters": 0,
                                     "batches": 0})
            row[key] = int(value)

    partitions: Dict[Tuple[str, int], Dict[str, Any]] = {}
    for metric, key in (("consumer_lag_records", "lag"), ("consumer_position_offset", "position"),
                        ("consumer_end_offset", "end"), ("consumer_committed_offset", "committed"),
                        ("last_applied_commit_timestamp_seconds", "last_commit"), ("last_applied_lsn", "last_lsn")):
        for labels, value in each(metric):
            row = partitions.setdefault((labels["topic"], int(labels["partition"])),
                                        {"topic": labels["topic"], "partition": int(labels["partition"])})
            row[key] = value if key == "last_commit" else int(value)

    buckets: Dict[str, List[Tuple[float, float]]] = defaultdict(list)
    for labels, value in each("freshness_seconds_bucket"):
        buckets[labels["source_table"]].append((float(labels["le"]), value))
    freshness = {table: {"count": int(max(count for _, count in series)),
                         "p50_seconds": histogram_quantile(0.5, series),
                         "p99_seconds": histogram_quantile(0.99, series)}
                 for table, series in sorted(buckets.items())}

    dead_by_topic: Dict[str, int] = defaultdict(int)
    for labels, value in each("agent_dead_letters_total"):
        dead_by_topic[labels["topic"]] += int(value)

    return {
        "agents": sorted(agents.values(), key=lambda r: (r["agent"], r["topic"], r["partition"])),
        "partitions": sorted(partitions.values(), key=lambda r: (r["topic"], r["partition"])),
        "freshness": freshness,
        "dead_letters": dict(sorted(dead_by_topic.items())),
        "live": {"listeners": int(sum(v for _, v in each("live_listeners"))),
                 "dropped": int(sum(v for _, v in each("live_alerts_dropped_total")))},
    }
