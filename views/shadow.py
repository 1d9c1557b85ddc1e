"""GET /rules/shadow: the shadow rules' alerts against the live ones, the report `python -m ops.shadow --json`
prints, for the rules this worker runs in shadow.

It reads alerts.shadow and alerts.withdrawals from their start on each request (no consumer group), so it
is for an operator's look, not for polling; `since` and `until` bound the period as on the command line.
"""

from __future__ import annotations

from faust.web import Request, Response, View
from faust.web.exceptions import NotFound, ServiceUnavailable

from agents.rule_book import current_shadow_rules
from app import app
from ops.broker_calls import BrokerError
from ops.cli_args import UsageError, chosen_rules, option_time
from ops.shadow.report import report_json, shadow_report
from settings import load_settings

from .params import BadParameter, reject_unknown

__all__ = ["get_shadow_report"]

#: Seconds the broker may stay silent while the view reads the two topics.
READ_TIMEOUT = 10.0


@app.page("/rules/shadow")
async def get_shadow_report(view: View, request: Request) -> Response:
    reject_unknown(request, {"since", "until", "rule"})
    shadow = current_shadow_rules()
    if shadow is None:
        raise NotFound("this worker runs no shadow rules; mark a rule version `mode: shadow` in its catalogue")
    try:
        specs = chosen_rules(list(shadow.book.specs.values()), request.query.getall("rule", []),
                             what="this worker runs no shadow rule")
    except UsageError as exc:
        raise BadParameter(str(exc).rstrip("."), parameter="rule") from None
    since, until = _time(request, "since"), _time(request, "until")
    if since is not None and until is not None and until <= since:
        raise BadParameter("`until` must be later than `since`", parameter="until")
    try:
        report = await shadow_report(load_settings().kafka_bootstrap, specs, since=since, until=until,
                                     timeout=READ_TIMEOUT)
    except BrokerError as exc:
        raise ServiceUnavailable(str(exc)) from None
    return view.json(report_json(report))


def _time(request: Request, name: str):
    try:
        return option_time(request.query.get(name), f"`{name}`")
    except UsageError as exc:
        raise BadParameter(str(exc).rstrip("."), parameter=name) from None
