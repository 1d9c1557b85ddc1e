"""Alerts of one rule from two sides (a backtest or a shadow run, and the live pipeline), compared by alert id,
and the report both commands print. An alert id names the rule and the transaction, so the same verdict on
both sides has the same id whatever the rule's version, and a changed threshold shows as ids gained or lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Set, TextIO, Tuple

from schemas.codec.envelope import decode_envelope
from schemas.codec.errors import AvroDecodeError

from .topic_reader import TopicReader

__all__ = ["AlertDiff", "read_alerts", "alert_payloads", "print_diffs", "diffs_json"]

#: Alert ids listed per rule and side in the text report (--json lists them all).
SHOWN = 10
#: The event type of an alert in its envelope (agents/publishing.py).
ALERT_EVENT = "WithdrawalAlert"


@dataclass
class AlertDiff:
    """One rule: the alert ids the tried version raised, and the live ones over the same input."""

    rule: str
    version: int
    tried: Set[str] = field(default_factory=set)
    live: Set[str] = field(default_factory=set)

    @property
    def both(self) -> Set[str]:
        return self.tried & self.live

    @property
    def only_tried(self) -> Set[str]:
        return self.tried - self.live

    @property
    def only_live(self) -> Set[str]:
        return self.live - self.tried


async def read_alerts(bootstrap: str, topic: str, *, timeout: float) -> Tuple[List[Any], int]:
    """The WithdrawalAlert payloads on `topic` (none when it does not exist), and how many records were skipped."""
    payloads: List[Any] = []
    skipped = 0
    async for batch in TopicReader(bootstrap, topic, timeout=timeout, missing_ok=True).batches():
        found, passed_over = alert_payloads(record.value for record in batch)
        payloads += found
        skipped += passed_over
    return payloads, skipped


def alert_payloads(values: Iterable[Any]) -> Tuple[List[Any], int]:
    """The WithdrawalAlert payloads among encoded event envelopes, and how many were skipped: undecodable, or
    an event of another type (as the live feed skips them)."""
    payloads, skipped = [], 0
    for value in values:
        try:
            decoded = decode_envelope(value)
        except AvroDecodeError:
            skipped += 1
            continue
        if decoded.envelope.event_type != ALERT_EVENT:
            skipped += 1
            continue
        payloads.append(decoded.payload)
    return payloads, skipped


def diffs_json(diffs: Iterable[AlertDiff], tried: str) -> Dict[str, Any]:
    """Per rule: its version, every alert id of each side and of each difference (`tried` names the tried side)."""
    return {d.rule: {"version": d.version, tried: sorted(d.tried), "live": sorted(d.live),
                     f"only_{tried}": sorted(d.only_tried), "only_live": sorted(d.only_live)} for d in diffs}


def print_diffs(diffs: Iterable[AlertDiff], tried: str, out: TextIO) -> None:
    """A table of counts per rule, then up to SHOWN ids of each difference."""
    diffs = list(diffs)
    print(f"{'rule':<28} {'version':>7} {tried:>9} {'live':>7} {'both':>7} {'only ' + tried:>14} "
          f"{'only live':>10}", file=out)
    for d in diffs:
        print(f"{d.rule:<28} {d.version:>7} {len(d.tried):>9} {len(d.live):>7} {len(d.both):>7} "
              f"{len(d.only_tried):>14} {len(d.only_live):>10}", file=out)
    for d in diffs:
        for side, ids in ((f"only in the {tried}", d.only_tried), ("only live", d.only_live)):
            if ids:
                shown = sorted(ids)[:SHOWN]
                more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
                print(f"{d.rule}: {side}: {', '.join(shown)}{more}", file=out)
