"""GET /customers/{customer_id}?limit=&cursor=: a customer, its totals per currency and a page of its accounts."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from projections.customers import customer_key, page_key, parse_cursor, served_overview
from tables.customers import customer_account_pages, customer_summary
from topics import CUSTOMER_ACCOUNT_UPDATES, CUSTOMER_CHANGES, topic_name

from .consistency import READ_PARAMS, answer, reflects_for
from .params import BadParameter, parse_id, reject_unknown
from .routing import partition_of, routed

__all__ = ["get_customer", "DEFAULT_LIMIT", "MAX_LIMIT", "customer_view_topics"]


def customer_view_topics():
    """What the view reads: the customer row (customers topic) and the accounts' entries and totals, folded
    from the accounts re-keyed by customer; that topic's position comes from the accounts partitions'
    position markers (agents/position_markers.py, docs/consistency.md)."""
    return (CUSTOMER_CHANGES.name, topic_name(app, CUSTOMER_ACCOUNT_UPDATES))

#: Accounts per answer when `limit` is not given, and the most one answer may ask for.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@app.page("/customers/{customer_id}")
@routed(customer_summary, lambda match: customer_key(parse_id(match["customer_id"], "customer_id")))
async def get_customer(view: View, request: Request, *, key: int, **_: str) -> Response:
    """The customer, its totals and up to `limit` accounts (default 100, at most 1000).

    The accounts of a larger customer come over several answers: pass the answer's `next_cursor`
    as `cursor` to get the next ones, until `next_cursor` is null. `account_count` says how many
    there are in all.
    """
    reject_unknown(request, {"limit", "cursor", *READ_PARAMS})
    limit = _parse_limit(request.query.get("limit"))
    after = _parse_cursor(request.query.get("cursor"))
    reflects = await reflects_for(view, request, partition_of(customer_summary, key), customer_view_topics())
    latest = app.batch_agents.latest
    overview = latest(customer_summary, key)
    if overview is None or overview.get("name") is None:
        # Account updates can reach a customer before the customer row itself; until then the
        # customer is not known to the view.
        return answer(view, {"error": f"customer {key} not found", "customer_id": key}, reflects, status=404)
    return answer(view, served_overview(overview, lambda page: latest(customer_account_pages, page_key(key, page)),
                                        limit=limit, after=after), reflects)


def _parse_limit(raw):
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadParameter(f"`limit` must be a whole number from 1 to {MAX_LIMIT}", parameter="limit")
    return int(raw)


def _parse_cursor(raw):
    if raw is None:
        return None
    try:
        return parse_cursor(raw)
    except ValueError:
        raise BadParameter("`cursor` must be the `next_cursor` of an earlier answer", parameter="cursor") from None
