"""GET /accounts/{account_id}/turnover?day=YYYY-MM-DD: an account's deposits and withdrawals of a day."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from faust.web import Request, Response, View

from app import app
from projections.accounts import account_key
from projections.turnover import day_key, turnover_of_day
from tables.balances import balance_by_account
from tables.turnover import turnover_by_account_day, turnover_days
from topics import ACCOUNT_CHANGES, TRANSACTION_CHANGES

from .consistency import READ_PARAMS, answer, reflects_for
from .params import BadParameter, parse_id, reject_unknown
from .routing import partition_of, routed

__all__ = ["get_turnover", "TURNOVER_VIEW_TOPICS"]

#: What the view reads: the turnover tables (transactions topic) and, to tell an unknown account, balances.
TURNOVER_VIEW_TOPICS = (ACCOUNT_CHANGES.name, TRANSACTION_CHANGES.name)


@app.page("/accounts/{account_id}/turnover")
@routed(balance_by_account, lambda match: account_key(parse_id(match["account_id"], "account_id")))
async def get_turnover(view: View, request: Request, *, key: int, **_: str) -> Response:
    reject_unknown(request, {"day", *READ_PARAMS})
    day = _parse_day(request.query.get("day"))
    reflects = await reflects_for(view, request, partition_of(balance_by_account, key), TURNOVER_VIEW_TOPICS)
    latest = app.batch_agents.latest
    index = latest(turnover_days, key)
    if index is None and latest(balance_by_account, key) is None:
        return answer(view, {"error": f"account {key} not found", "account_id": key}, reflects, status=404)
    totals = turnover_of_day(index, latest(turnover_by_account_day, day_key(key, day.isoformat())), day)
    if totals is None:  # nothing posted that day
        totals = {"day": day.isoformat(), "deposits": "0", "withdrawals": "0", "count": 0}
    return answer(view, {"account_id": key, **totals}, reflects)


#: Exactly YYYY-MM-DD in ASCII digits: date.fromisoformat also takes 20260101, 2026-W01-1 and other digits.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def _parse_day(raw):
    if raw is None:
        return datetime.now(timezone.utc).date()
    if not _DAY.match(raw):
        raise BadParameter("`day` must be a date as YYYY-MM-DD", parameter="day")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter("`day` must be a date as YYYY-MM-DD", parameter="day") from None
