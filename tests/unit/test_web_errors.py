"""Every error answer of the web server is JSON (engine/web_errors.py): the router's, the views', and
those of aiohttp's HTTP parser, over a real loopback socket (no worker)."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from engine.web_errors import JsonErrorsAppRunner, json_errors_middleware


async def _exchange(raw_requests):
    """Serve an app with one GET view; send each raw request on its own connection; (status, headers, body)."""

    async def boom(request):
        raise RuntimeError("a bug")

    async def account(request):
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[json_errors_middleware])
    app.router.add_get("/accounts/{account_id}", account)
    app.router.add_get("/boom", boom)
    runner = JsonErrorsAppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    answers = []
    try:
        for raw in raw_requests:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            answers.append((int(lines[0].split()[1]), headers, body))
    finally:
        await runner.cleanup()
    return answers


def exchange(*raw_requests):
    return asyncio.run(_exchange(raw_requests))


def get(target: bytes, extra: bytes = b"", method: bytes = b"GET") -> bytes:
    return method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + b"\r\n"


def json_of(answer):
    status, headers, body = answer
    assert headers["Content-Type"].startswith("application/json"), (status, headers, body[:200])
    return json.loads(body)


@pytest.mark.parametrize("target", [b"/nowhere", b"/accounts/1/", b"//accounts/1", b"/accounts", b"/"])
def test_an_unknown_path_is_a_json_404(target):
    (answer,) = exchange(get(target))
    assert answer[0] == 404
    assert json_of(answer) == {"error": "there is no view at this path", "path": target.decode()}


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"PROPFIND"])
def test_another_method_is_a_json_405_with_allow(method):
    (answer,) = exchange(get(b"/accounts/1", method=method))
    assert answer[0] == 405 and set(answer[1]["Allow"].split(",")) == {"GET", "HEAD"}
    assert json_of(answer)["error"] == f"method {method.decode()} is not allowed here; allowed: {answer[1]['Allow']}"


def test_a_request_body_is_a_json_413():
    (answer,) = exchange(get(b"/accounts/1", b"Content-Length: 5\r\n") + b"hello")
    assert answer[0] == 413 and json_of(answer) == {"error": "this server takes no request body"}


def test_an_unexpected_error_is_a_json_500_without_details():
    (answer,) = exchange(get(b"/boom"))
    assert answer[0] == 500 and json_of(answer) == {"error": "internal error; the worker's log has the details"}


def test_an_oversized_url_is_a_json_414_and_oversized_headers_a_json_431():
    url, line, many, name = exchange(
        get(b"/accounts/1?x=" + b"a" * 9000),
        get(b"/accounts/1", b"X-Big: " + b"y" * 9000 + b"\r\n"),
        get(b"/accounts/1", b"".join(b"X-H%d: 1\r\n" % i for i in range(200))),
        get(b"/accounts/1", b"X-" + b"n" * 9000 + b": 1\r\n"),
    )
    assert url[0] == 414 and json_of(url) == {"error": "the URL is longer than 8190 bytes"}
    assert line[0] == 431 and json_of(line) == {"error": "a request header line is longer than 8190 bytes"}
    assert many[0] == 431 and json_of(many) == {"error": "the request has more than 128 headers"}
    assert name[0] == 431 and json_of(name) == {"error": "a request header line is longer than 8190 bytes"}


@pytest.mark.parametrize("raw", [get(b"/accounts/1\x00"), get(b"/accounts/1\r"), b"\x16\x03\x01\x00\xa5garbage\r\n\r\n",
                                 b"GET /accounts/1 HTTP/9.9\r\n\r\n"])
def test_a_request_that_is_no_http_is_a_json_400(raw):
    (answer,) = exchange(raw)
    assert answer[0] == 400
    assert json_of(answer)["error"].startswith("the request is not valid HTTP: ")
