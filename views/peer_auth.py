"""Signatures of worker-to-worker forwards: HMAC-SHA256 over method, path with query, and time.

A worker forwarding a request to the key's owner (views/routing.py) never relays the client's
token: it signs the request with the peer secret (Settings.peer_secret, the same on every worker of
an app) and the owner checks the signature. Whoever can join the consumer group and advertise a URL
then collects signatures of single requests, valid for MAX_SKEW_S, never a reusable credential.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional

__all__ = ["PEER_HEADER", "MAX_SKEW_S", "sign", "check"]

#: On a forwarded request: `t=<unix seconds>;sig=<hex HMAC>`. Only a valid one marks a request forwarded.
PEER_HEADER = "X-Ledgerstream-Routed"
#: How far a signature's time may be from the receiver's clock, either way (workers run NTP).
MAX_SKEW_S = 30


def _mac(secret: bytes, method: str, path_qs: str, timestamp: int) -> str:
    message = f"{method.upper()}\n{path_qs}\n{timestamp}".encode("utf-8", "surrogateescape")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, method: str, path_qs: str, now: float) -> str:
    """The header value for a request to `path_qs` (raw, as sent on the request line) at time `now`."""
    timestamp = int(now)
    return f"t={timestamp};sig={_mac(secret, method, path_qs, timestamp)}"


def check(secret: bytes, header: Optional[str], method: str, path_qs: str, now: float) -> Optional[str]:
    """None when `header` signs this request within the allowed skew; otherwise why not, in a few words."""
    if not header:
        return "no peer signature"
    fields = dict(part.partition("=")[::2] for part in header.split(";"))
    raw_time, signature = fields.get("t", ""), fields.get("sig", "")
    if not raw_time.isascii() or not raw_time.isdigit() or len(raw_time) > 12 or not signature:
        return "the peer signature is malformed"
    timestamp = int(raw_time)
    if abs(now - timestamp) > MAX_SKEW_S:
        return f"the peer signature's time is over {MAX_SKEW_S} s from this worker's clock"
    expected = _mac(secret, method, path_qs, timestamp)
    if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii")):
        return "the peer signature does not match"
    return None
