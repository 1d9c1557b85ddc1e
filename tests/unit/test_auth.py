"""Unit tests of the web views' bearer token (views/auth.py) and of the settings that hold secrets."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from settings import Settings
from views.auth import bearer_token_middleware, token_matches

TOKEN = "s3cret-token"


@pytest.mark.parametrize("header, ok", [
    (f"Bearer {TOKEN}", True), (f"bearer {TOKEN}", True), (f"  Bearer   {TOKEN}  ", True),
    (None, False), ("", False), ("Bearer", False), ("Bearer ", False), (f"Basic {TOKEN}", False),
    (f"Bearer {TOKEN}x", False), (f"Bearer {TOKEN[:-1]}", False), (TOKEN, False), ("Bearer s3cret-tokén", False),
])
def test_token_matches(header, ok):
    assert token_matches(header, TOKEN) is ok


def test_no_token_configured_matches_nothing():
    assert token_matches("Bearer ", "") is False


def run(path, authorization=None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    request = make_mocked_request("GET", path, headers=headers)

    async def handler(_):
        return web.json_response({"ok": True})

    return asyncio.run(bearer_token_middleware(TOKEN)(request, handler))


def test_health_needs_no_token():
    assert run("/health").status == 200


@pytest.mark.parametrize("path", ["/accounts/1", "/live/alerts", "/table/balance_by_account/", "/health/", "/"])
def test_every_other_path_needs_it(path):
    response = run(path)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="ledgerstream"'
    assert json.loads(response.body) == {"error": "this view needs the header `Authorization: Bearer <token>`"}
    assert json.loads(run(path, "Bearer nope").body) == {"error": "the bearer token is not valid"}
    assert run(path, f"Bearer {TOKEN}").status == 200


def test_secrets_stay_out_of_the_settings_repr():
    settings = Settings.from_env({"WEB_TOKEN": TOKEN, "DATABASE_URL": "postgresql://ledger:pw-123@db/ledger"})

    assert settings.web_token == TOKEN
    assert TOKEN not in repr(settings) and "pw-123" not in repr(settings)


def test_the_processing_guarantee_is_checked():
    assert Settings.from_env({}).checked_processing_guarantee() == "at_least_once"
    assert Settings.from_env({"PROCESSING_GUARANTEE": "exactly_once"}).checked_processing_guarantee() == "exactly_once"
    with pytest.raises(ValueError, match="PROCESSING_GUARANTEE='twice' is not one of at_least_once, exactly_once"):
        Settings.from_env({"PROCESSING_GUARANTEE": "twice"}).checked_processing_guarantee()
