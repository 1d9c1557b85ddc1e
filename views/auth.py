"""Bearer token of the web views (WEB_TOKEN): when set, every path but the probes needs it.

A middleware, not a decorator per view, so Faust's own pages (/router, /table/...) and any view
added later are covered too, /metrics among them (Prometheus sends the token as a bearer token).
/health, /livez and /readyz stay open: orchestrators probe them without credentials. So do the
console's page and its two files (views/console.py): they hold no data, a browser cannot send a
header when it opens a page, and the page asks for the token before it fetches anything.
Workers forward a request's `Authorization` header to the key's owner (views/routing.py).
"""

from __future__ import annotations

import hmac
from typing import Optional

from aiohttp import web

__all__ = ["OPEN_PATHS", "CONSOLE_FILES", "token_matches", "bearer_token_middleware", "require_bearer_token"]

#: The console's files, served under /console/ (views/console.py): named one by one, no prefix rule.
CONSOLE_FILES = ("console.css", "console.js")
#: Paths served without the token.
OPEN_PATHS = frozenset({"/health", "/livez", "/readyz", "/console", *(f"/console/{name}" for name in CONSOLE_FILES)})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ledgerstream"'}


def token_matches(authorization: Optional[str], token: str) -> bool:
    """Whether an Authorization header carries the token, compared in constant time."""
    if not token or not authorization:
        return False
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def bearer_token_middleware(token: str):
    @web.middleware
    async def require_token(request: web.Request, handler):
        if request.path in OPEN_PATHS or token_matches(request.headers.get("Authorization"), token):
            return await handler(request)
        if request.headers.get("Authorization") is None:
            error = "this view needs the header `Authorization: Bearer <token>`"
        else:
            error = "the bearer token is not valid"
        return web.json_response({"error": error}, status=401, headers=_CHALLENGE)

    return require_token


def require_bearer_token(faust_web, token: str) -> None:
    """Install the check on a Faust web server before it starts serving (App.on_webserver_init)."""
    faust_web.web_app.middlewares.append(bearer_token_middleware(token))
