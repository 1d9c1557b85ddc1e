"""GET /console: the operations console (live alerts, accounts, pipeline state), plain files served here.

The page and its two files come from views/console/ with no build step; everything it loads is
served by this worker (the Content-Security-Policy says so to the browser). They hold no data: the
page asks for WEB_TOKEN (when set) and sends it with every request it makes.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web as aiohttp_web
from faust.web import Request, View

from app import app

from .auth import CONSOLE_FILES

__all__ = ["get_console", "get_console_file", "CONSOLE_DIR"]

CONSOLE_DIR = Path(__file__).with_name("console")
_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
_HEADERS = {
    # Nothing from elsewhere, no inline script, not framed by another site.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(name: str) -> aiohttp_web.Response:
    path = CONSOLE_DIR / name
    return aiohttp_web.Response(body=path.read_bytes(), charset="utf-8", content_type=_TYPES[path.suffix],
                                headers=_HEADERS)


@app.page("/console")
async def get_console(view: View, request: Request):
    return _file("index.html")


@app.page("/console/{name}")
async def get_console_file(view: View, request: Request, name: str):
    if name not in CONSOLE_FILES:
        return view.error(404, f"the console has no file {name[:60]!r}")
    return _file(name)
