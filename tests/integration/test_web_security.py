"""Web security basics on real workers: the bearer token (WEB_TOKEN), and the peer signature that replaces
it on a forward between workers; the loopback bind; no secret in a worker's log or the stack's output.
Forwards' bounds and the HTTP surface: test_web_forwarding.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from aiokafka.partitioner import murmur2

from dev.stack.layout import REPO_ROOT, StackLayout
from dev.stack.processes import stop_process
from dev.stack.workers import start_worker, wait_ready, worker_env
from tests.support.ledger_sql import open_account
from tests.support.stack_fixtures import free_port
from tests.support.waiting import eventually
from topics import PARTITIONS

pytestmark = pytest.mark.integration

TOKEN = f"token-{uuid.uuid4().hex}"
#: A password in DATABASE_URL: it must show up nowhere.
DB_SECRET = f"pw-{uuid.uuid4().hex}"


def request(url: str, token: Optional[str] = None, *, scheme: str = "Bearer") -> Tuple[int, Dict[str, str], object]:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, dict(response.headers), _body(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), _body(exc.read())


def _body(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _two_workers(stack_env, tokens: Tuple[str, str]) -> Iterator[List[Tuple[str, subprocess.Popen, str]]]:
    """Two workers of one app, the first with WEB_TOKEN tokens[0], the second tokens[1]."""
    layout = StackLayout.from_env(stack_env)
    app_id = f"secured-{uuid.uuid4().hex[:8]}"
    workers = []
    try:
        for n, token in enumerate(tokens):
            name = f"{app_id}-{n}"
            port = free_port()
            env = worker_env(layout, name, web_port=port, app_id=app_id, extra={
                "WEB_TOKEN": token, "WEB_CANONICAL_URL": f"http://127.0.0.1:{port}", "WEB_ACCESS_LOG": "true",
                "DATABASE_URL": f"postgresql://ledger:{DB_SECRET}@127.0.0.1:{layout.postgres_port}/ledger"})
            log = layout.log_file(name)
            workers.append((f"http://127.0.0.1:{port}", start_worker(env, log), str(log)))
        for url, process, _ in workers:
            wait_ready(url, process, timeout=180)
        yield workers
    finally:
        for _, process, _ in workers:
            stop_process(process)


@pytest.fixture(scope="module")
def secured(stack_env) -> Iterator[List[Tuple[str, subprocess.Popen, str]]]:
    """Two workers of one app, with WEB_TOKEN set: (URL, process, log path) each."""
    yield from _two_workers(stack_env, (TOKEN, TOKEN))


@pytest.fixture(scope="module")
def disagreeing(stack_env) -> Iterator[List[Tuple[str, subprocess.Popen, str]]]:
    """Two workers of one app whose tokens differ: what one accepts, the other refuses."""
    yield from _two_workers(stack_env, (TOKEN, f"other-{TOKEN}"))


VIEWS = ["/accounts/1", "/accounts/1/turnover", "/customers/1", "/alerts/1", "/live/alerts", "/metrics", "/status",
         # Faust's own pages are behind the token too: /table dumps table contents.
         "/router/", "/table/balance_by_account/", "/nowhere"]


@pytest.mark.parametrize("path", VIEWS)
def test_every_view_but_health_needs_the_token(secured, path):
    url = secured[0][0] + path

    for token, scheme in ((None, "Bearer"), ("wrong", "Bearer"), (TOKEN[:-1], "Bearer"), (TOKEN, "Basic"),
                          ("", "Bearer")):
        status, headers, body = request(url, token, scheme=scheme)
        assert status == 401, (token, scheme, status, body)
        assert body["error"] in ("this view needs the header `Authorization: Bearer <token>`",
                                 "the bearer token is not valid")
        assert headers["WWW-Authenticate"] == 'Bearer realm="ledgerstream"'


def test_health_is_open_and_the_token_opens_the_views(secured):
    url = secured[0][0]
    assert request(f"{url}/health")[0] == 200
    assert request(f"{url}/livez")[0] == 200 and request(f"{url}/readyz")[0] == 200
    # The console's page and files hold no data: open, so a browser can load the page that asks for the token.
    for path in ("/console", "/console/console.js", "/console/console.css"):
        status, headers, body = request(url + path)
        assert status == 200 and TOKEN.encode() not in body
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert request(f"{url}/console/other.js")[0] == 401
    assert request(f"{url}/metrics")[0] == 401
    status, headers, body = request(f"{url}/metrics", TOKEN)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b'ledgerstream_http_requests_total{method="GET",status="401",view="/metrics"}' in body
    status, _, body = request(f"{url}/accounts/999999999", TOKEN)
    assert (status, body["error"]) == (404, "account 999999999 not found")
    status, _, body = request(f"{url}/accounts/abc", TOKEN)
    assert (status, body["parameter"]) == (400, "account_id")


def partition_of(account_id: int) -> int:
    return (murmur2(str(account_id).encode()) & 0x7FFFFFFF) % PARTITIONS


def test_a_request_forwarded_to_the_keys_owner_is_answered_by_it(db, secured):
    """Each worker answers any key: a key the other worker owns is forwarded, signed, to its owner; the
    answer names the owner. The token is checked by the worker asked (what the owner received is checked
    in test_web_forwarding.py: no client token)."""
    urls = [url for url, _, _ in secured]
    accounts: List[int] = []
    while {partition_of(a) for a in accounts} != set(range(PARTITIONS)):  # an account in every partition
        accounts.append(open_account(db, "3.00")[1])
        assert len(accounts) < 64

    def owners():
        found = {}
        for account_id in accounts:
            status, headers, _ = request(f"{urls[0]}/accounts/{account_id}", TOKEN)
            if status == 200:
                found[account_id] = headers["X-Served-By"]
        return found

    served = eventually(owners, lambda f: len(f) == len(accounts), timeout=120, what="every account served")
    assert set(served.values()) == set(urls), "both workers own some of the accounts"
    for account_id, owner in served.items():
        other = next(url for url in urls if url != owner)
        status, headers, body = request(f"{other}/accounts/{account_id}", TOKEN)
        assert (status, headers["X-Served-By"], body["balance"]) == (200, owner, "3.00")
        assert request(f"{other}/accounts/{account_id}")[0] == 401


def test_the_owner_checks_the_peer_signature_of_a_forwarded_request(db, disagreeing):
    """Workers whose peer secrets differ (derived from different tokens, no WEB_PEER_SECRET): the owner
    refuses the forward's signature, and the worker asked says so as a 502 naming the setting. Before
    forwards were signed, the owner checked the client's token, relayed to it."""
    (first, _, _), (second, _, _) = disagreeing
    other_token = f"other-{TOKEN}"
    accounts: List[int] = []
    while {partition_of(a) for a in accounts} != set(range(PARTITIONS)):
        accounts.append(open_account(db, "4.00")[1])
        assert len(accounts) < 64

    def served_by_second():
        # Asked of its owner directly, with the owner's own token.
        return {a for a in accounts if request(f"{second}/accounts/{a}", other_token)[0] == 200}

    owned = eventually(served_by_second, lambda found: found, timeout=120, what="an account the second worker owns")
    account_id = min(owned)
    status, _, body = request(f"{first}/accounts/{account_id}", TOKEN)
    assert status == 502, (status, body)
    assert body == {"error": "the worker that owns this key refused this worker's signature; WEB_PEER_SECRET "
                             "(or WEB_TOKEN) differs between the workers, or their clocks are over 30 s apart",
                    "owner": second, "reason": "the peer signature does not match; a request forwarded by another "
                                               "worker needs a valid peer signature (WEB_PEER_SECRET)"}
    # The first worker's own keys answer with its token: the refusal came from the owner.
    eventually(lambda: [a for a in accounts if a not in owned and request(f"{first}/accounts/{a}", TOKEN)[0] == 200],
               lambda mine: mine, timeout=60, what="an account the first worker serves with its own token")


def test_the_views_bind_to_loopback_only(secured):
    port = int(secured[0][0].rsplit(":", 1)[1])
    outside = _non_loopback_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback address to try")
    with socket.socket() as s:
        s.settimeout(5)
        assert s.connect_ex((outside, port)) != 0, f"the worker answers on {outside}:{port}"


def _non_loopback_address() -> Optional[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_no_secret_in_the_worker_logs(secured):
    for _, _, log in secured:
        text = open(log, encoding="utf-8", errors="replace").read()
        assert text, log
        assert DB_SECRET not in text and TOKEN not in text
    # The access log (WEB_ACCESS_LOG) has the requests, refused ones included, and still no token.
    first = open(secured[0][2], encoding="utf-8", errors="replace").read()
    assert "GET /accounts/1 401" in first


def test_the_stack_commands_print_no_password(stack_env, tmp_path):
    env = {**stack_env, "STACK_DIR": str(tmp_path / "stack"),
           "DATABASE_URL": f"postgresql://ledger:{DB_SECRET}@127.0.0.1:{free_port()}/ledger",
           "CONNECT_URL": f"http://connect:{DB_SECRET}@127.0.0.1:{free_port()}"}
    status = subprocess.run([sys.executable, "-m", "dev.stack", "status"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert "DATABASE_URL" in status.stdout and "http://connect:***@" in status.stdout
    assert DB_SECRET not in status.stdout + status.stderr
    # Kafka Connect resolves the connector's password reference and logs the config: masked.
    connect_log = (StackLayout.from_env(stack_env).logs_dir / "connect.log").read_text(errors="replace")
    passwords = [line for line in connect_log.splitlines() if "database.password" in line]
    assert passwords and all(line.split("=", 1)[1].strip() == "********" for line in passwords)
