"""W3C trace context (`traceparent`) for derived events: one SQL commit, one trace id.

A derived event continues the trace of the record that caused it when that record carries a
`traceparent` header; otherwise its trace id is derived from the database transaction, so every
event one SQL commit causes shares one trace id. Span ids are derived from the event id: a
replay sends the same header again, as it sends the same event id.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Optional, Tuple

__all__ = ["TRACEPARENT", "traceparent", "parse_traceparent", "header_value"]

TRACEPARENT = "traceparent"
_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def parse_traceparent(value: Optional[str]) -> Optional[Tuple[str, str, str]]:
    """(trace id, parent span id, flags) of a valid version-00 header, else None."""
    if not value:
        return None
    match = _FORMAT.match(value.strip().lower())
    if match is None or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        return None
    return match.group(1), match.group(2), match.group(3)


def traceparent(*, event_id: str, trace_seed: str, incoming: Optional[str] = None) -> str:
    """The header of a derived event: the incoming trace if any, else a trace id from `trace_seed`."""
    parsed = parse_traceparent(incoming)
    if parsed is not None:
        trace_id, flags = parsed[0], parsed[2]
    else:
        trace_id, flags = hashlib.sha256(trace_seed.encode()).hexdigest()[:32], "01"
    span_id = hashlib.sha256(f"span:{event_id}".encode()).hexdigest()[:16]
    return f"00-{trace_id}-{span_id}-{flags}"


def header_value(headers: Optional[Iterable], name: str) -> Optional[str]:
    """A record header's value as text (headers as Kafka gives them: pairs, or a mapping)."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, dict) else headers
    for key, value in pairs:
        if key == name and value is not None:
            return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
    return None
