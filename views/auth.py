"""Bearer token of the web views (WEB_TOKEN): when set, every path but the probes needs it.

A middleware, not a decorator per view, so Faust's own pages (/router, /table/...) and any view
added later are covered too, /metrics among them (Prometheus sends the token as a bearer token).
/health, /livez and /readyz stay open: orchestrators probe them without credentials. So do the
console's page and its two files (views/console.py): they hold no data, a browser cannot send a
header when it opens a page, and the page asks for the token before it fetches anything.
A request one worker forwards to the key's owner carries no client token: the owner accepts it by
its peer signature (views/peer_auth.py) instead, so no worker ever relays a client's credential.

Decided here: the scheme is case-insensitive (`bearer` works, RFC 7235); two Authorization headers
are a 400 (which one counts would be a guess); a token in the query string is never accepted (URLs
end up in logs and histories): 401, saying so.
"""

from __future__ import annotations

import hmac
import time
from typing import Optional

from aiohttp import web

from .peer_auth import PEER_HEADER, check

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


#: Query parameters a client might put a token in: named in the 401, never read.
_QUERY_TOKEN_NAMES = ("token", "access_token", "bearer", "authorization")


def bearer_token_middleware(token: str, peer_secret: bytes):
    @web.middleware
    async def require_token(request: web.Request, handler):
        authorizations = request.headers.getall("Authorization", [])
        if len(authorizations) > 1:
            return web.json_response({"error": "send one Authorization header, not "
                                               f"{len(authorizations)}"}, status=400)
        if request.path in OPEN_PATHS or token_matches(request.headers.get("Authorization"), token):
            return await handler(request)
        peer = request.headers.get(PEER_HEADER)
        if peer is not None and check(peer_secret, peer, request.method, request.raw_path, time.time()) is None:
            return await handler(request)
        if request.headers.get("Authorization") is not None:
            error = "the bearer token is not valid"
        elif any(name in request.query for name in _QUERY_TOKEN_NAMES):
            error = "a token in the query string is not accepted; send the header `Authorization: Bearer <token>`"
        elif peer is not None:
            error = f"{check(peer_secret, peer, request.method, request.raw_path, time.time())}; a request " \
                    "forwarded by another worker needs a valid peer signature (WEB_PEER_SECRET)"
        else:
            error = "this view needs the header `Authorization: Bearer <token>`"
        return web.json_response({"error": error}, status=401, headers=_CHALLENGE)

    return require_token


def require_bearer_token(faust_web, token: str, peer_secret: bytes) -> None:
    """Install the check on a Faust web server before it starts serving (App.on_webserver_init)."""
    faust_web.web_app.middlewares.append(bearer_token_middleware(token, peer_secret))
