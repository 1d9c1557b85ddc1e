"""Every error answer of the web server is JSON naming the problem, including aiohttp's own.

Two places make error answers in aiohttp: the router and views (404, 405, a view's exception),
which a middleware sees, and the HTTP parser (a URL or header too long, too many headers, bytes
that are no HTTP), which answers before any middleware runs, in plain text, always 400. The
middleware here turns the first kind into JSON; `JsonErrorsAppRunner` makes the second kind JSON
too, with the status that names the problem: 414 for a URL over the parser's 8190-byte line limit,
431 for a header line over it or more than 128 headers, 400 for anything else unparsable.
No view takes a request body: one declared on a request is a 413 before the view runs.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

__all__ = ["json_error", "json_errors_middleware", "JsonErrorsAppRunner", "parse_error_answer"]

#: aiohttp's parser limits (RequestHandler's defaults), named in the answers.
MAX_LINE_BYTES = 8190
MAX_HEADERS = 128
#: Of a client's path or parser message, at most this much goes back in an answer.
_ECHO_CHARS = 200


def json_error(status: int, error: str, *, headers: Optional[dict] = None, **extra: Any) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status, headers=headers)


def _echo(text: str) -> str:
    return text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "..."


def _message_of(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return "there is no view at this path"
    if exc.status == 405:
        return f"method {_echo(request.method)} is not allowed here; allowed: {exc.headers.get('Allow', 'none')}"
    if exc.status == 413:
        return "the request body is too large"
    return exc.reason or "the request failed"


@web.middleware
async def json_errors_middleware(request: web.Request, handler):
    """Answer 4xx/5xx raised by the router or a view as JSON; refuse request bodies (no view takes one)."""
    if request.match_info.http_exception is None and (request.content_length or request.body_exists):
        return json_error(413, "this server takes no request body")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {name: exc.headers[name] for name in ("Allow", "Retry-After", "WWW-Authenticate")
                if name in exc.headers}
        return json_error(exc.status, _message_of(request, exc), headers=kept, path=_echo(request.path))
    # Any other exception goes on to aiohttp, which logs it and answers through handle_error below (a JSON
    # 500), or, when part of a streamed answer was already sent, closes the connection.


def parse_error_answer(status: int, exc: Optional[BaseException], message: Optional[str]) -> tuple[int, str]:
    """The status and error of a request aiohttp's parser refused (or its handler failed without an answer)."""
    if isinstance(exc, LineTooLong):
        line = exc.args[0] if exc.args else b""
        if isinstance(line, str):
            line = line.encode("latin-1", "replace")
        # aiohttp's C parser reports the request target as a bytearray, a header line as bytes; a URL
        # (origin form) starts with "/" whichever parser read it.
        if isinstance(line, bytearray) or line.startswith(b"/"):
            return 414, f"the URL is longer than {MAX_LINE_BYTES} bytes"
        return 431, f"a request header line is longer than {MAX_LINE_BYTES} bytes"
    if message and "too many headers" in message.lower():
        return 431, f"the request has more than {MAX_HEADERS} headers"
    if status >= 500:
        return status, "internal error; the worker's log has the details"
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else "malformed request"
    return status, f"the request is not valid HTTP: {_echo(first)}"


class _JsonErrorsRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors (parser, timeout) as JSON."""

    __slots__ = ()

    def handle_error(self, request: BaseRequest, status: int = 500, exc: Optional[BaseException] = None,
                     message: Optional[str] = None) -> web.StreamResponse:
        # aiohttp's own: logs the error, and raises if part of an answer was already sent. Its text is dropped.
        super().handle_error(request, status, exc, message)
        status, error = parse_error_answer(status, exc, message)
        response = web.Response(status=status, body=json.dumps({"error": error}).encode(),
                                content_type="application/json", charset="utf-8")
        response.force_close()
        return response


class _JsonErrorsServer(Server):
    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _JsonErrorsRequestHandler  # same slots: only handle_error differs
        return handler


class JsonErrorsAppRunner(web.AppRunner):
    """aiohttp's AppRunner whose connections answer parser errors as JSON (see the module docstring)."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorsServer
        return server
