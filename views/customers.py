"""GET /customers/{customer_id}: a customer's overview: accounts and total balance per currency."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from projections.customers import customer_key
from tables.customers import customer_overview

from .params import parse_id, reject_unknown
from .routing import routed

__all__ = ["get_customer"]


@app.page("/customers/{customer_id}")
@routed(customer_overview, lambda match: customer_key(parse_id(match["customer_id"], "customer_id")))
async def get_customer(view: View, request: Request, *, key: int, **_: str) -> Response:
    reject_unknown(request, set())
    overview = app.batch_agents.latest(customer_overview, key)
    if overview is None or overview.get("name") is None:
        # Account updates can reach a customer before the customer row itself; until then the
        # customer is not known to the view.
        return view.error(404, f"customer {key} not found", customer_id=key)
    accounts = [{"account_id": int(account_id), **account}
                for account_id, account in sorted(overview["accounts"].items(), key=lambda item: int(item[0]))]
    return view.json({**overview, "accounts": accounts})
