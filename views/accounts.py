"""GET /accounts/{account_id}: an account's balance from the balance_by_account read model."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from projections.accounts import account_key
from tables.balances import balance_by_account

from .params import parse_id, reject_unknown
from .routing import routed

__all__ = ["get_account"]


@app.page("/accounts/{account_id}")
@routed(balance_by_account, lambda match: account_key(parse_id(match["account_id"], "account_id")))
async def get_account(view: View, request: Request, *, key: int, **_: str) -> Response:
    reject_unknown(request, set())
    row = app.batch_agents.latest(balance_by_account, key)
    if row is None:
        return view.error(404, f"account {key} not found", account_id=key)
    return view.json(row)
