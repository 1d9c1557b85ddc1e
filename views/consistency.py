"""What a view answer reflects, and read-your-writes: `min_lsn` and `wait_ms` (docs/consistency.md).

Every answer of a key's view carries the source position its key's partition has reached on the
owning worker (engine/positions.py): every change committed before that WAL position to a key of
that partition, in every topic the view reads, is in the answer. In the JSON as `reflects`
{"lsn": "16/B374D848", "commit_time": RFC 3339}, and as the headers X-Source-LSN and
X-Source-Commit-Time. With `min_lsn` the view answers once that position is at least `min_lsn`,
waiting up to `wait_ms`; else 504 with `"error_kind": "not_yet"` and the position reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Collection, Dict, List, Optional

from faust.types import TP
from faust.web import Request, Response, View
from faust.web.exceptions import WebError

from cdc.lsn import format_lsn, parse_lsn
from engine.positions import Position
from settings import load_settings

from .params import BadParameter

__all__ = ["READ_PARAMS", "Reflects", "NotYet", "reflects_for", "answer", "LSN_HEADER", "COMMIT_TIME_HEADER"]

#: The query parameters this module reads (every routed view accepts them).
READ_PARAMS = frozenset({"min_lsn", "wait_ms"})
LSN_HEADER = "X-Source-LSN"
COMMIT_TIME_HEADER = "X-Source-Commit-Time"


class NotYet(WebError):
    """The view has not reached `min_lsn` within `wait_ms`: retry (its JSON says how far it got)."""

    code = 504


@dataclass(frozen=True)
class Reflects:
    """The position an answer reflects, None when the worker has not established one yet."""

    position: Optional[Position]

    def as_json(self) -> Dict[str, Any]:
        return {"lsn": format_lsn(self.position.lsn) if self.position else None,
                "commit_time": commit_time(self.position)}

    def headers(self) -> Dict[str, str]:
        if self.position is None:
            return {}
        headers = {LSN_HEADER: format_lsn(self.position.lsn)}
        if self.position.ts_ms is not None:
            headers[COMMIT_TIME_HEADER] = str(commit_time(self.position))
        return headers


def commit_time(position: Optional[Position]) -> Optional[str]:
    if position is None or position.ts_ms is None:
        return None
    return datetime.fromtimestamp(position.ts_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


async def reflects_for(view: View, request: Request, partition: int, topics: Collection[str]) -> Reflects:
    """The position the key's partition reached in all of `topics`, after waiting for `min_lsn` if asked;
    NotYet (504) when it was not reached within `wait_ms`."""
    min_lsn, wait_ms = _parse(request)
    positions = view.app.source_positions
    tps: List[TP] = [TP(topic, partition) for topic in sorted(topics)]
    if min_lsn is None:
        return Reflects(positions.least_reached(tps))
    reached = await positions.wait_for(tps, min_lsn, wait_ms / 1000)
    if reached is not None:
        return Reflects(reached)
    raise NotYet(f"not yet: the view has not reached {format_lsn(min_lsn)} within {wait_ms} ms; retry",
                 error_kind="not_yet", min_lsn=format_lsn(min_lsn), wait_ms=wait_ms,
                 reached=Reflects(positions.least_reached(tps)).as_json())


def answer(view: View, body: Dict[str, Any], reflects: Reflects, *, status: int = 200) -> Response:
    """The JSON answer with what it reflects, in the body (`reflects`) and the headers."""
    return view.json({**body, "reflects": reflects.as_json()}, status=status, headers=reflects.headers())


def owner_wait_s(request: Request) -> float:
    """How long the owner may hold this request waiting for `min_lsn` (0 without one, or when the
    parameters are bad: the owner answers that at once). A forward waits this on top of its timeout."""
    try:
        return _parse(request)[1] / 1000
    except BadParameter:
        return 0.0


def _parse(request: Request):
    settings = load_settings()
    raw_lsn, raw_wait = request.query.get("min_lsn"), request.query.get("wait_ms")
    if raw_lsn is None:
        if raw_wait is not None:
            raise BadParameter("`wait_ms` needs `min_lsn`", parameter="wait_ms")
        return None, 0
    try:
        min_lsn = parse_lsn(raw_lsn)
    except ValueError:
        raise BadParameter("`min_lsn` must be an LSN as pg_current_wal_lsn() shows it, such as 16/B374D848",
                           parameter="min_lsn") from None
    if raw_wait is None:
        return min_lsn, min(settings.consistency_wait_default_ms, settings.consistency_wait_max_ms)
    if not raw_wait.isascii() or not raw_wait.isdigit() or int(raw_wait) > settings.consistency_wait_max_ms:
        raise BadParameter(f"`wait_ms` must be a whole number from 0 to {settings.consistency_wait_max_ms}",
                           parameter="wait_ms")
    return min_lsn, int(raw_wait)
