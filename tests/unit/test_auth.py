"""Unit tests of the web views' bearer token (views/auth.py), forwards' peer signatures (views/peer_auth.py)
and the settings that hold secrets or guard the bind."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from settings import Settings, SettingsError
from views.auth import bearer_token_middleware, token_matches
from views.peer_auth import MAX_SKEW_S, PEER_HEADER, check, sign

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


PEER_SECRET = Settings.from_env({"WEB_TOKEN": TOKEN}).peer_secret


def run(path, authorization=None, *, headers=None):
    all_headers = CIMultiDict(headers or {})
    if authorization is not None:
        all_headers["Authorization"] = authorization
    request = make_mocked_request("GET", path, headers=all_headers)

    async def handler(_):
        return web.json_response({"ok": True})

    return asyncio.run(bearer_token_middleware(TOKEN, PEER_SECRET)(request, handler))


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


# --------------------------------------------------------------------------- decided cases of the header


def test_two_authorization_headers_are_a_400_even_when_one_is_right():
    headers = CIMultiDict([("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {TOKEN}")])
    response = run("/accounts/1", headers=headers)
    assert response.status == 400
    assert json.loads(response.body) == {"error": "send one Authorization header, not 2"}


def test_a_lower_case_scheme_is_accepted():
    assert run("/accounts/1", f"bearer {TOKEN}").status == 200
    assert run("/accounts/1", f"BEARER {TOKEN}").status == 200


@pytest.mark.parametrize("name", ["token", "access_token"])
def test_a_token_in_the_query_string_is_never_accepted(name):
    response = run(f"/accounts/1?{name}={TOKEN}")
    assert response.status == 401
    assert "a token in the query string is not accepted" in json.loads(response.body)["error"]


# --------------------------------------------------------------------------- peer signatures (forwards)


def test_a_signed_forward_passes_without_a_client_token():
    now = time.time()
    assert check(PEER_SECRET, sign(PEER_SECRET, "GET", "/accounts/7?x=1", now), "GET", "/accounts/7?x=1", now) is None
    response = run("/accounts/7", headers={PEER_HEADER: sign(PEER_SECRET, "GET", "/accounts/7", now)})
    assert response.status == 200


@pytest.mark.parametrize("header, reason", [
    (None, "no peer signature"),
    ("http://another-worker:6066", "the peer signature is malformed"),
    ("t=abc;sig=00", "the peer signature is malformed"),
    ("t=123;sig=", "the peer signature is malformed"),
])
def test_a_missing_or_malformed_signature_is_refused(header, reason):
    assert check(PEER_SECRET, header, "GET", "/accounts/7", time.time()) == reason


def test_a_signature_binds_the_secret_method_path_query_and_time():
    now = time.time()
    header = sign(PEER_SECRET, "GET", "/accounts/7?day=2026-01-01", now)
    mismatch = "the peer signature does not match"
    assert check(b"another secret", header, "GET", "/accounts/7?day=2026-01-01", now) == mismatch
    assert check(PEER_SECRET, header, "POST", "/accounts/7?day=2026-01-01", now) == mismatch
    assert check(PEER_SECRET, header, "GET", "/accounts/8?day=2026-01-01", now) == mismatch
    assert check(PEER_SECRET, header, "GET", "/accounts/7?day=2026-01-02", now) == mismatch
    assert check(PEER_SECRET, header.replace("t=", "t=1"), "GET", "/accounts/7?day=2026-01-01", now) is not None
    assert check(PEER_SECRET, header, "GET", "/accounts/7?day=2026-01-01", now + MAX_SKEW_S - 1) is None
    late = check(PEER_SECRET, header, "GET", "/accounts/7?day=2026-01-01", now + MAX_SKEW_S + 2)
    assert late == f"the peer signature's time is over {MAX_SKEW_S} s from this worker's clock"


def test_a_bad_signature_without_a_token_is_a_401_naming_the_signature():
    now = time.time()
    response = run("/accounts/7", headers={PEER_HEADER: sign(b"not ours", "GET", "/accounts/7", now)})
    assert response.status == 401
    assert json.loads(response.body)["error"].startswith("the peer signature does not match; ")


def test_the_peer_secret_defaults_to_a_derivation_of_the_token_never_the_token_itself():
    derived = Settings.from_env({"WEB_TOKEN": TOKEN}).peer_secret
    assert derived != TOKEN.encode() and TOKEN.encode() not in derived and len(derived) == 32
    assert Settings.from_env({"WEB_TOKEN": TOKEN + "x"}).peer_secret != derived
    assert Settings.from_env({"WEB_TOKEN": TOKEN, "WEB_PEER_SECRET": "shared"}).peer_secret == b"shared"
    assert Settings.from_env({"APP_ID": "a"}).peer_secret != Settings.from_env({"APP_ID": "b"}).peer_secret
    assert "shared" not in repr(Settings.from_env({"WEB_PEER_SECRET": "shared"}))


# --------------------------------------------------------------------------- the bind


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "10.1.2.3", "worker-1", ""])
def test_a_non_loopback_bind_without_a_token_is_refused_in_one_sentence(bind):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"WEB_BIND": bind} if bind else {"WEB_BIND": "0.0.0.0"}).checked_web_exposure()
    message = str(refused.value)
    assert "set WEB_TOKEN" in message and "WEB_ALLOW_UNAUTHENTICATED=true" in message
    assert message.count(". ") == 0 and message.endswith(".")


@pytest.mark.parametrize("env", [{"WEB_BIND": "127.0.0.1"}, {"WEB_BIND": "::1"}, {"WEB_BIND": "localhost"},
                                 {"WEB_BIND": "127.0.0.2"}, {"WEB_BIND": "0.0.0.0", "WEB_TOKEN": TOKEN},
                                 {"WEB_BIND": "0.0.0.0", "WEB_ALLOW_UNAUTHENTICATED": "true"}])
def test_loopback_a_token_or_the_explicit_opt_out_start(env):
    Settings.from_env(env).checked_web_exposure()


# --------------------------------------------------------------------------- Faust's own pages


def test_fausts_own_pages_are_off_unless_web_faust_pages_asks_for_them():
    from app import create_app

    flags = ("web_router_enabled", "web_tables_enabled", "web_graph_enabled", "web_stats_enabled",
             "web_metrics_enabled")
    off = create_app(Settings.from_env({"STORE_URL": "memory://"}))
    on = create_app(Settings.from_env({"STORE_URL": "memory://", "WEB_FAUST_PAGES": "true"}))
    assert [getattr(off.conf, flag) for flag in flags] == [False] * len(flags)
    assert [getattr(on.conf, flag) for flag in flags] == [True] * len(flags)
    assert on.forwarding.timeout_s == 2.0 and on.forwarding.concurrency == 64
