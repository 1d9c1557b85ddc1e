"""GET /accounts/{account_id}: an account's balance from the balance_by_account read model."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from projections.accounts import account_key
from tables.balances import balance_by_account
from topics import ACCOUNT_CHANGES

from .consistency import READ_PARAMS, answer, reflects_for
from .params import parse_id, reject_unknown
from .routing import partition_of, routed

__all__ = ["get_account", "ACCOUNT_VIEW_TOPICS"]

#: What the view reads: balance_by_account, folded from the accounts topic alone.
ACCOUNT_VIEW_TOPICS = (ACCOUNT_CHANGES.name,)


@app.page("/accounts/{account_id}")
@routed(balance_by_account, lambda match: account_key(parse_id(match["account_id"], "account_id")))
async def get_account(view: View, request: Request, *, key: int, **_: str) -> Response:
    reject_unknown(request, READ_PARAMS)
    reflects = await reflects_for(view, request, partition_of(balance_by_account, key), ACCOUNT_VIEW_TOPICS)
    row = app.batch_agents.latest(balance_by_account, key)
    if row is None:
        return answer(view, {"error": f"account {key} not found", "account_id": key}, reflects, status=404)
    return answer(view, row, reflects)
