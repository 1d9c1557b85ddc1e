"""GET /alerts/{account_id}: an account's alerts, oldest first."""

from __future__ import annotations

from faust.web import Request, Response, View

from app import app
from projections.accounts import account_key
from tables.alerts import alerts_by_account
from tables.balances import balance_by_account
from topics import ACCOUNT_CHANGES, TRANSACTION_CHANGES

from .consistency import READ_PARAMS, answer, reflects_for
from .params import parse_id, reject_unknown
from .routing import partition_of, routed

__all__ = ["get_alerts", "ALERTS_VIEW_TOPICS"]

#: What the view reads: alerts_by_account (transactions topic) and, to tell an unknown account, balances.
ALERTS_VIEW_TOPICS = (ACCOUNT_CHANGES.name, TRANSACTION_CHANGES.name)


@app.page("/alerts/{account_id}")
@routed(balance_by_account, lambda match: account_key(parse_id(match["account_id"], "account_id")))
async def get_alerts(view: View, request: Request, *, key: int, **_: str) -> Response:
    reject_unknown(request, READ_PARAMS)
    reflects = await reflects_for(view, request, partition_of(balance_by_account, key), ALERTS_VIEW_TOPICS)
    alerts = app.batch_agents.latest(alerts_by_account, key)
    if alerts is None and app.batch_agents.latest(balance_by_account, key) is None:
        return answer(view, {"error": f"account {key} not found", "account_id": key}, reflects, status=404)
    return answer(view, {"account_id": key, "alerts": alerts or []}, reflects)
