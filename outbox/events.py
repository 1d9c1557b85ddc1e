"""A domain event as the outbox router publishes it: key, JSON payload, id and type headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence, Tuple

import orjson

from cdc.changes import DecodeError

__all__ = ["DomainEvent", "decode_domain_event"]


@dataclass(frozen=True)
class DomainEvent:
    event_id: str
    event_type: str
    version: int
    aggregate_id: str
    payload: Mapping[str, Any]
    occurred_at: Optional[datetime]


def decode_domain_event(key: Optional[bytes], value: Optional[bytes],
                        headers: Sequence[Tuple[str, bytes]], timestamp: Optional[float] = None) -> DomainEvent:
    """Decode one outbox record (connectors/ledger-outbox.yaml says what it holds).

    `timestamp` is the record's time in seconds: when the outbox row was committed.
    """
    header = {name: raw for name, raw in headers or ()}
    if value is None:
        raise DecodeError("domain event without a payload")
    for name in ("id", "eventType"):
        if name not in header:
            raise DecodeError(f"domain event without its `{name}` header")
    try:
        event_id = header["id"].decode()
        event_type = header["eventType"].decode()
        aggregate_id = key.decode() if key is not None else ""
        payload = orjson.loads(value)
    except UnicodeDecodeError:
        raise DecodeError("domain event key or headers are not UTF-8 text") from None
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"domain event payload is not valid JSON ({exc})") from None
    if not aggregate_id:
        raise DecodeError("domain event without a key (its aggregate id)")
    if not isinstance(payload, dict):
        raise DecodeError(f"domain event payload is a JSON {type(payload).__name__}, not an object")
    version = payload.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DecodeError(f"domain event version {version!r} is not a positive integer")
    occurred_at = datetime.fromtimestamp(timestamp, timezone.utc) if timestamp else None
    return DomainEvent(event_id, event_type, version, aggregate_id, payload, occurred_at)
