"""As-of reads: `as_of=<RFC 3339 time>` or `as_of_lsn=<LSN>`, from a key's bounded history (projections/history.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional, Tuple

from faust.web import Request
from faust.web.exceptions import WebError

from cdc.lsn import format_lsn, parse_lsn
from projections.history import AsOf, state_at

from .params import BadParameter

__all__ = ["AS_OF_PARAMS", "TooOld", "parse_as_of", "read_as_of", "time_text"]

AS_OF_PARAMS = frozenset({"as_of", "as_of_lsn"})


class TooOld(WebError):
    """The asked time or position is older than the key's history reaches (see `history_from`)."""

    code = 410


def time_text(us: Optional[int]) -> Optional[str]:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc).isoformat(timespec="microseconds")


def parse_as_of(request: Request) -> Optional[Tuple[str, int]]:
    """("time", µs) or ("lsn", LSN) when the request asks for an earlier state, else None."""
    raw_time, raw_lsn = request.query.get("as_of"), request.query.get("as_of_lsn")
    if raw_time is not None and raw_lsn is not None:
        raise BadParameter("give `as_of` or `as_of_lsn`, not both", parameter="as_of")
    if raw_lsn is not None:
        try:
            return "lsn", parse_lsn(raw_lsn)
        except ValueError:
            raise BadParameter("`as_of_lsn` must be an LSN such as 16/B374D848", parameter="as_of_lsn") from None
    if raw_time is None:
        return None
    try:
        at = datetime.fromisoformat(raw_time.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or "T" not in raw_time.upper():
        raise BadParameter("`as_of` must be an RFC 3339 time with its offset, such as 2026-12-01T08:00:00.5Z",
                           parameter="as_of")
    delta = at - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return "time", (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def read_as_of(history: Optional[Mapping[str, Any]], asked: Tuple[str, int], *,
               what: str) -> Tuple[Optional[Dict[str, Any]], Dict[str, Any]]:
    """(row or None, the `as_of` part of the answer); TooOld when the history does not reach back."""
    kind, value = asked
    state: AsOf = state_at(history, at_us=value if kind == "time" else None, at_lsn=value if kind == "lsn" else None)
    asked_text = time_text(value) if kind == "time" else format_lsn(value)
    if state.too_old:
        oldest = state.history_from or [None, None]
        raise TooOld(f"the history of {what} goes back to {time_text(oldest[0])} (LSN "
                     f"{format_lsn(oldest[1]) if oldest[1] is not None else 'unknown'}), not to {asked_text}",
                     error_kind="too_old", history_from=time_text(oldest[0]),
                     history_from_lsn=format_lsn(oldest[1]) if oldest[1] is not None else None)
    as_of = {"asked": asked_text, "change_commit_time": time_text(state.commit_us),
             "change_lsn": format_lsn(state.lsn) if state.lsn is not None else None}
    return state.row, as_of
