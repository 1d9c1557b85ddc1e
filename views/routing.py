"""Route a request to the worker that owns its key's partition, or answer it here.

Faust's own `table_route` asks the producer for the changelog topic's partitions and fails
(HTTP 500) on a worker whose producer has no metadata for that topic yet. The partition of a
key needs no broker round trip: it is the Kafka default partitioner (murmur2) over the
serialized key and the table's partition count, which is what we compute here.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, Optional

from aiokafka.partitioner import murmur2
from faust.types import CollectionT
from faust.web import Request, Response, View
from faust.web.exceptions import ServiceUnavailable
from yarl import URL

from engine.telemetry.web import view_of

__all__ = ["partition_of", "owner_url", "routed"]

#: Set on a forwarded request: its receiver answers it, whatever it believes about ownership,
#: so two workers with different views of the assignment never bounce a request forever.
ROUTED_HEADER = "X-Ledgerstream-Routed"
#: On every routed response: the canonical URL of the worker that answered it.
SERVED_BY_HEADER = "X-Served-By"
_FORWARDED_HEADERS = ("Accept", "Authorization")
#: The owner's answer headers passed back with its body (views/consistency.py: the position it reflects).
_RETURNED_HEADERS = ("X-Source-LSN", "X-Source-Commit-Time")


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


def routed(table: CollectionT, key_of: Callable[[dict], Any]):
    """Decorate a view: compute the table key from the URL, then answer here or forward."""

    def decorate(handler):
        @wraps(handler)
        async def get(view: View, request: Request, **match: Any) -> Response:
            key = key_of(match)
            if request.headers.get(ROUTED_HEADER) is None:
                owner = owner_url(table, key)
                if owner is None:
                    raise ServiceUnavailable("partitions are not assigned yet; retry shortly")
                if URL(owner) != URL(str(view.app.conf.canonical_url)):
                    return await _forward(view, request, owner)
            response = await handler(view, request, key=key, **match)
            response.headers[SERVED_BY_HEADER] = str(view.app.conf.canonical_url)
            return response

        return get

    return decorate


async def _forward(view: View, request: Request, owner: str) -> Response:
    target = URL(owner).with_path(request.path).with_query(request.query)
    headers = {name: request.headers[name] for name in _FORWARDED_HEADERS if name in request.headers}
    headers[ROUTED_HEADER] = str(view.app.conf.canonical_url)
    metrics = getattr(view.app, "metrics", None)
    failed = True  # until the owner answered
    try:
        async with view.app.http_client.get(target, headers=headers) as response:
            body = await response.read()
            failed = False
            served_by = {SERVED_BY_HEADER: response.headers.get(SERVED_BY_HEADER, owner),
                         **{name: response.headers[name] for name in _RETURNED_HEADERS if name in response.headers}}
            return view.bytes(body, content_type=response.content_type, status=response.status, headers=served_by)
    finally:
        if metrics is not None:
            metrics.forwarded(view_of(request), failed)
