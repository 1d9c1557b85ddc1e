"""Print alerts as they happen, read from a worker's live feed (GET /live/alerts, Server-Sent Events)."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Callable
from urllib.parse import urlparse

__all__ = ["describe_alert", "print_alerts_in_background"]


def describe_alert(alert: dict) -> str:
    what = {
        "rapid-large-withdrawals": f"{alert['count']} large withdrawals within the window",
        "large-withdrawal-burst": f"the last {alert['count']} large withdrawals",
    }.get(alert["rule"], alert["rule"])
    return (f"ALERT {alert['rule']} on account {alert['account_id']}: {what} total {alert['total']} "
            f"(transactions {', '.join(map(str, alert['txn_ids']))})")


def print_alerts_in_background(web_url: str, say: Callable[[str], None]) -> threading.Thread:
    thread = threading.Thread(target=_follow, args=(web_url, say), daemon=True, name="alert-printer")
    thread.start()
    return thread


def _follow(web_url: str, say: Callable[[str], None]) -> None:
    parts = urlparse(web_url)
    try:
        from settings import load_settings

        token = load_settings().web_token  # the views want it when it is set (views/auth.py)
        connection = http.client.HTTPConnection(parts.hostname, parts.port)
        connection.request("GET", "/live/alerts", headers={"Authorization": f"Bearer {token}"} if token else {})
        event = ""
        for raw in connection.getresponse():
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "alert":
                say(describe_alert(json.loads(line[6:])))
            elif line.startswith("data: ") and event == "dropped":
                say(f"({json.loads(line[6:])['dropped']} alerts not shown: this printer fell behind)")
            elif line == "":
                event = ""
    except (OSError, ValueError, KeyError):
        return  # the worker is stopping; so is this printer
