"""Web requests counted and timed by view and status; an optional access log that never shows a token."""

from __future__ import annotations

import logging
import time

from aiohttp import web

__all__ = ["view_of", "request_metrics_middleware", "install_request_metrics"]

access_log = logging.getLogger("ledgerstream.access")


def view_of(request: web.Request) -> str:
    """The route's pattern, e.g. /accounts/{account_id}: a label of bounded cardinality."""
    route = request.match_info.route
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"


def request_metrics_middleware(metrics, *, access_log_on: bool):
    @web.middleware
    async def measure(request: web.Request, handler):
        began = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            seconds = time.perf_counter() - began
            view = view_of(request)
            metrics.http_request(view, request.method, status, seconds)
            if access_log_on:
                # The path only: no query string and no header, so no credential can reach the log.
                access_log.info("%s %s %s %.1f ms", request.method, request.path, status, seconds * 1000,
                                extra={"method": request.method, "path": request.path, "view": view,
                                       "status": status, "duration_ms": round(seconds * 1000, 3),
                                       "remote": request.remote})

    return measure


def install_request_metrics(faust_web, metrics, *, access_log: bool) -> None:
    """Install the middleware on a Faust web server before it serves (App.on_webserver_init)."""
    if metrics.enabled or access_log:
        faust_web.web_app.middlewares.append(request_metrics_middleware(metrics, access_log_on=access_log))
