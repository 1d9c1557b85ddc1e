"""Route a request to the worker that owns its key's partition, or answer it here.

Faust's own `table_route` asks the producer for the changelog topic's partitions and fails
(HTTP 500) on a worker whose producer has no metadata for that topic yet. The partition of a
key needs no broker round trip: it is the Kafka default partitioner (murmur2) over the
serialized key and the table's partition count, which is what we compute here.

A forward carries no client credential: it is signed with the peer secret (views/peer_auth.py),
it waits for the owner at most WEB_FORWARD_TIMEOUT_MS, and at most WEB_FORWARD_CONCURRENCY of them
are in flight; past either bound the client gets a JSON 503 with Retry-After, never a hang.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable, Optional

import aiohttp
from aiokafka.partitioner import murmur2
from faust.types import CollectionT
from faust.web import Request, Response, View
from yarl import URL

from engine.telemetry.web import view_of

from .consistency import owner_wait_s
from .peer_auth import MAX_SKEW_S, PEER_HEADER, check, sign

__all__ = ["partition_of", "owner_url", "routed", "ForwardPolicy", "ROUTED_HEADER", "SERVED_BY_HEADER"]

#: Set, signed, on a forwarded request: its receiver answers it, whatever it believes about ownership,
#: so two workers with different views of the assignment never bounce a request forever. A request
#: whose header is missing or not validly signed is routed like any other.
ROUTED_HEADER = PEER_HEADER
#: On every routed response: the canonical URL of the worker that answered it.
SERVED_BY_HEADER = "X-Served-By"
#: The client's headers a forward keeps: never Authorization (the forward is signed instead).
_FORWARDED_HEADERS = ("Accept",)
#: Of the owner's answer, the headers that go back to the client with it (and the position it reflects:
#: views/consistency.py).
_RETURNED_HEADERS = ("Retry-After", "Cache-Control", "X-Source-LSN", "X-Source-Commit-Time")
#: Seconds a client is told to wait after a 503 of a forward.
RETRY_AFTER_S = 1


@dataclass
class ForwardPolicy:
    """The peer secret and the bounds of forwards (settings WEB_PEER_SECRET, WEB_FORWARD_*), on the app."""

    secret: bytes
    timeout_s: float = 2.0
    concurrency: int = 64
    in_flight: int = field(default=0, compare=False)


def partition_of(table: CollectionT, key: Any) -> int:
    serialized = table.changelog_topic.prepare_key(key, None)[0]
    return (murmur2(serialized) & 0x7FFFFFFF) % table.partitions


def owner_url(table: CollectionT, key: Any) -> Optional[str]:
    """The canonical URL of the worker that holds the key's partition, None before assignment."""
    partition = partition_of(table, key)
    topic = table.changelog_topic.get_topic_name()
    for url, topics in table.app.router.table_metadata(table.name).items():
        if partition in topics.get(topic, ()):
            return url
    return None


def is_signed_forward(policy: ForwardPolicy, request: Request) -> bool:
    """Whether the request is a forward from a worker of this app (signed with the peer secret)."""
    return check(policy.secret, request.headers.get(ROUTED_HEADER), request.method, request.raw_path,
                 time.time()) is None


def routed(table: CollectionT, key_of: Callable[[dict], Any]):
    """Decorate a view: compute the table key from the URL (a bad id is a 400 here), then answer here or forward."""

    def decorate(handler):
        @wraps(handler)
        async def get(view: View, request: Request, **match: Any) -> Response:
            key = key_of(match)
            policy: ForwardPolicy = view.app.forwarding
            if not is_signed_forward(policy, request):
                owner = owner_url(table, key)
                if owner is None:
                    return view.json({"error": "partitions are not assigned yet; retry shortly"}, status=503,
                                     headers={"Retry-After": str(RETRY_AFTER_S)})
                if URL(owner) != URL(str(view.app.conf.canonical_url)):
                    return await _forward(view, request, owner, policy)
            not_ready = _local_state_not_ready(view.app)
            if not_ready is not None:
                # E.g. partitions just taken over from a dead worker: a 404 now would deny a row that exists.
                return view.json({"error": f"{not_ready}; retry shortly"}, status=503,
                                 headers={"Retry-After": str(RETRY_AFTER_S)})
            response = await handler(view, request, key=key, **match)
            response.headers[SERVED_BY_HEADER] = str(view.app.conf.canonical_url)
            return response

        return get

    return decorate


def _local_state_not_ready(app) -> Optional[str]:
    """Why this worker's tables cannot answer yet (a rebalance, or recovery from the changelogs), or None."""
    if app.rebalancing:
        return "this worker is rebalancing"
    if not app.tables.recovery.completed.is_set():
        return "this worker is recovering its tables from their changelogs"
    return None


def _error_of(body: bytes) -> str:
    """The `error` of a JSON error answer, or what the body begins with."""
    try:
        return str(json.loads(body)["error"])[:200]
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace")


def _unavailable(view: View, error: str, owner: str) -> Response:
    return view.json({"error": error, "owner": owner}, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})


async def _forward(view: View, request: Request, owner: str, policy: ForwardPolicy) -> Response:
    if policy.in_flight >= policy.concurrency:
        # Refused at once: waiting for a slot would only pile requests up behind a slow owner.
        return _unavailable(view, f"this worker already forwards {policy.concurrency} requests "
                                  "(WEB_FORWARD_CONCURRENCY); retry shortly", owner)
    target = URL(owner).with_path(request.path).with_query(request.query)
    headers = {name: request.headers[name] for name in _FORWARDED_HEADERS if name in request.headers}
    headers[ROUTED_HEADER] = sign(policy.secret, "GET", target.raw_path_qs, time.time())
    metrics = getattr(view.app, "metrics", None)
    failed = True  # until the owner answered
    policy.in_flight += 1
    try:
        # A read-your-writes request may wait at the owner (wait_ms) before it answers.
        allowed_s = policy.timeout_s + owner_wait_s(request)
        timeout = aiohttp.ClientTimeout(total=allowed_s)
        async with view.app.http_client.get(target, headers=headers, timeout=timeout,
                                            allow_redirects=False) as response:
            body = await response.read()
            failed = False
            if response.status == 401:
                # The owner refused our signature: the workers' secrets (or clocks) differ, which no client can fix.
                return view.json({"error": "the worker that owns this key refused this worker's signature; "
                                           "WEB_PEER_SECRET (or WEB_TOKEN) differs between the workers, or their "
                                           f"clocks are over {MAX_SKEW_S} s apart",
                                  "owner": owner, "reason": _error_of(body)}, status=502)
            returned = {name: response.headers[name] for name in _RETURNED_HEADERS if name in response.headers}
            returned[SERVED_BY_HEADER] = response.headers.get(SERVED_BY_HEADER, owner)
            return view.bytes(body, content_type=response.content_type, status=response.status, headers=returned)
    except asyncio.TimeoutError:
        return _unavailable(view, f"the worker that owns this key did not answer within "
                                  f"{allowed_s * 1000:.0f} ms; retry shortly", owner)
    except (aiohttp.ClientError, OSError) as exc:
        return _unavailable(view, f"the worker that owns this key cannot be reached ({type(exc).__name__}); "
                                  "retry shortly", owner)
    finally:
        policy.in_flight -= 1
        if metrics is not None:
            metrics.forwarded(view_of(request), failed)
