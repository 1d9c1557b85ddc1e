"""GET /accounts/{account_id}: an account's balance from the balance_by_account read model."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from projections.accounts import account_key
from tables.balances import balance_by_account
from tables.history import balance_history_by_account
from topics import ACCOUNT_CHANGES

from .as_of import AS_OF_PARAMS, parse_as_of, read_as_of
from .consistency import READ_PARAMS, answer, reflects_for
from .params import parse_id, reject_unknown
from .routing import partition_of, routed

__all__ = ["get_account", "ACCOUNT_VIEW_TOPICS"]

#: What the view reads: balance_by_account and its history, folded from the accounts topic alone.
ACCOUNT_VIEW_TOPICS = (ACCOUNT_CHANGES.name,)


@app.page("/accounts/{account_id}")
@routed(balance_by_account, lambda match: account_key(parse_id(match["account_id"], "account_id")))
async def get_account(view: View, request: Request, *, key: int, **_: str) -> Response:
    """The account now, or with `as_of` / `as_of_lsn` as it was then (docs/consistency.md)."""
    reject_unknown(request, READ_PARAMS | AS_OF_PARAMS)
    asked = parse_as_of(request)
    reflects = await reflects_for(view, request, partition_of(balance_by_account, key), ACCOUNT_VIEW_TOPICS)
    if asked is not None:
        history = app.batch_agents.latest(balance_history_by_account, key)
        row, as_of = read_as_of(history, asked, what=f"account {key}")
        if row is None:
            return answer(view, {"error": f"account {key} not found at {as_of['asked']}", "account_id": key,
                                 "as_of": as_of}, reflects, status=404)
        return answer(view, {**row, "as_of": as_of}, reflects)
    row = app.batch_agents.latest(balance_by_account, key)
    if row is None:
        return answer(view, {"error": f"account {key} not found", "account_id": key}, reflects, status=404)
    return answer(view, row, reflects)
