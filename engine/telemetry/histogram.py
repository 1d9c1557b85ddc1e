"""A histogram for the per-record path: plain counts, observed many values at a time, exported at scrape.

prometheus-client's Histogram takes a lock and walks its buckets on every observe (a few µs); a
freshness value per change would cost more than the 3% of CPU the metrics may take. Faust's
event loop is the only writer, so plain lists suffice; the scrape reads them on the same loop.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Dict, Iterable, List, Sequence, Tuple

from prometheus_client.core import HistogramMetricFamily

__all__ = ["FastHistogram"]


class FastHistogram:
    """A labelled histogram: `observe_many(labels, values)`; `collect()` for a custom collector."""

    def __init__(self, name: str, documentation: str, label_names: Sequence[str], buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(label_names)
        self.buckets = tuple(sorted(float(b) for b in buckets))
        # labels -> [count per bucket (the last is +Inf), sum]
        self._series: Dict[Tuple[str, ...], Tuple[List[int], List[float]]] = {}
        self._scaled: Dict[float, Tuple[float, ...]] = {}

    def observe_many(self, labels: Tuple[str, ...], values: Iterable[float]) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = ([0] * (len(self.buckets) + 1), [0.0])
        counts, total = series
        buckets = self.buckets
        added = 0.0
        for value in values:
            counts[bisect_left(buckets, value)] += 1  # the first bound >= value: Prometheus' `le`
            added += value
        total[0] += added

    def observe_ages(self, labels: Tuple[str, ...], now: float, stamps: Sequence[float], scale: float = 1.0) -> None:
        """Observe `now - stamp` for each stamp; `scale` stamp units make one unit of the histogram
        (1000 for milliseconds into seconds). The per-record path of freshness: one bisect each."""
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = ([0] * (len(self.buckets) + 1), [0.0])
        counts, total = series
        bounds = self._scaled.get(scale)
        if bounds is None:
            bounds = self._scaled[scale] = tuple(b * scale for b in self.buckets)
        for stamp in stamps:
            counts[bisect_left(bounds, now - stamp)] += 1
        total[0] += (now * len(stamps) - sum(stamps)) / scale

    def count(self, labels: Tuple[str, ...]) -> int:
        series = self._series.get(labels)
        return 0 if series is None else sum(series[0])

    def collect(self) -> Iterable[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        for labels, (counts, total) in self._series.items():
            cumulative, running = [], 0
            for bound, count in zip(self.buckets + (float("inf"),), counts, strict=True):
                running += count
                cumulative.append((_bound(bound), running))
            family.add_metric(list(labels), cumulative, total[0])
        yield family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
