"""The operations console (GET /console) in headless Chromium, on the real stack: from SQL to the page.

Chromium is Debian's (dev/stack/setup.sh installs it); Playwright drives it as the system browser.
Screenshots land in each test's tmp folder; UPDATE_CONSOLE_SCREENSHOT=1 also writes docs/console.png
(the README's picture).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections import Counter
from typing import Dict, Iterator, List, Set
from urllib.parse import urlparse

import pytest

from dev.stack.layout import REPO_ROOT
from tests.support.http import get_json
from tests.support.ledger_sql import open_account, post
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra (requirements.lock)")

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = f"console-{uuid.uuid4().hex}"
#: How long an alert may take from the SQL commit to the page (CDC, agents, alerts topic, feed).
ALERT_DEADLINE_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: run `make setup` (it installs Debian's chromium).")
    with playwright_api.sync_playwright() as playwright:
        # No sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def proxy(worker) -> Iterator[TcpProxy]:
    """The browser reaches the worker through this proxy, so a test can break the connection."""
    parts = urlparse(worker.url)
    proxy = TcpProxy((parts.hostname, parts.port))
    yield proxy
    proxy.close()


class Page:
    """A fresh browser tab (its own context), with the console errors it logged."""

    def __init__(self, browser, width: int = 1280, height: int = 800) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: List[str] = []
        self.urls: List[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.urls.append(request.url))

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def tab(browser) -> Iterator[Page]:
    opened = Page(browser)
    yield opened
    opened.close()


def open_console(tab: Page, url: str):
    page = tab.page
    page.goto(f"{url}/console")
    page.wait_for_selector("#feed-state.live", timeout=30_000)
    return page


def burst(db, account: int) -> None:
    """Three withdrawals of at least 200.00 within ten minutes: one rapid-large-withdrawals alert."""
    for amount in ("250.00", "300.00", "400.00"):
        post(db, account, "withdrawal", amount)


def alerts_of(url: str, account: int) -> Set[str]:
    status, body = get_json(f"{url}/alerts/{account}")
    return {alert["alert_id"] for alert in body["alerts"]} if status == 200 else set()


def listed_alerts(page, accounts: List[int]) -> List[str]:
    """Ids of the alerts the live list shows for these accounts, repeats included."""
    pairs = page.eval_on_selector_all("#alert-list li",
                                      "items => items.map(li => [li.dataset.alertId, li.dataset.account])")
    return [alert_id for alert_id, account in pairs if int(account) in accounts]


def numbers_in(page, selector: str) -> List[float]:
    texts = page.eval_on_selector_all(selector, "cells => cells.map(c => c.textContent)")
    return [float(match.group()) for text in texts for match in [re.search(r"\d+(\.\d+)?", text)] if match]


def test_the_page_loads_with_no_errors_and_a_burst_appears_in_the_live_list(db, worker, proxy, tab, tmp_path):
    page = open_console(tab, proxy.url)
    _, account = open_account(db, "5000.00")
    burst(db, account)

    item = page.wait_for_selector(f'#alert-list li[data-account="{account}"]', timeout=ALERT_DEADLINE_MS)
    text = item.inner_text()
    assert "rapid-large-withdrawals" in text and "950.00" in text, text
    # The same alert the worker's view holds for the account.
    assert {item.get_attribute("data-alert-id")} == eventually(lambda: alerts_of(worker.url, account), bool,
                                                               what="the alert in /alerts")
    page.screenshot(path=str(tmp_path / "console-1280x800.png"))
    assert tab.errors == []


def test_an_account_lookup_shows_the_balance_the_database_holds(db, worker, proxy, tab):
    _, account = open_account(db, "1200.00")
    post(db, account, "deposit", "34.56")
    post(db, account, "withdrawal", "10.00")
    balance, currency = db.execute("SELECT balance, currency FROM accounts WHERE id = %s", (account,)).fetchone()
    eventually(lambda: get_json(f"{worker.url}/accounts/{account}"),
               lambda r: r[0] == 200 and r[1]["balance"] == str(balance), what="the balance in the view")

    page = open_console(tab, proxy.url)
    page.fill("#account-id", str(account))
    page.click("#account-form button[type=submit]")
    shown = page.wait_for_selector('#account-result dd[data-field="balance"]', timeout=10_000).inner_text()
    assert shown == f"{balance} {currency.strip()}"
    assert "deposits 34.56, withdrawals 10.00 (2 postings)" in page.inner_text('#account-result dd[data-field="today"]')
    assert tab.errors == []


def test_the_pipeline_panel_shows_lag_and_freshness_numbers(db, worker, proxy, tab):
    _, account = open_account(db, "10.00")
    post(db, account, "deposit", "1.00")
    page = open_console(tab, proxy.url)
    # Freshness needs changes applied by this worker; the panel refreshes itself until it has them.
    page.wait_for_selector('#pipeline td[data-metric="freshness-p50"]', timeout=30_000)
    p50 = numbers_in(page, '#pipeline td[data-metric="freshness-p50"]')
    p99 = numbers_in(page, '#pipeline td[data-metric="freshness-p99"]')
    lags = numbers_in(page, '#pipeline td[data-metric="lag"]')
    assert p50 and p99 and all(value >= 0 for value in p50 + p99)
    assert lags and all(value >= 0 for value in lags)
    assert page.inner_text('#pipeline td[data-metric="connector-state"]') == "RUNNING"
    # A second refresh gives a throughput figure (records per second between two reads of the counters).
    page.wait_for_function("""() => [...document.querySelectorAll('#pipeline td[data-metric="throughput"]')]
                                        .some(td => /^\\d/.test(td.textContent))""", timeout=15_000)
    assert tab.errors == []


def test_after_a_cut_the_list_holds_every_alert_exactly_once(db, worker, proxy, tab):
    page = open_console(tab, proxy.url)
    accounts = [open_account(db, "5000.00")[1] for _ in range(6)]
    expected: Dict[int, Set[str]] = {}

    burst(db, accounts[0])
    burst(db, accounts[1])
    page.wait_for_selector(f'#alert-list li[data-account="{accounts[1]}"]', timeout=ALERT_DEADLINE_MS)

    # The network path goes down while alerts fire, and stays down until the worker has them all.
    post(db, accounts[2], "withdrawal", "250.00")
    post(db, accounts[2], "withdrawal", "250.00")
    proxy.refuse()
    assert proxy.cut() >= 1
    post(db, accounts[2], "withdrawal", "250.00")
    burst(db, accounts[3])
    burst(db, accounts[4])
    for account in accounts[2:5]:
        eventually(lambda account=account: alerts_of(worker.url, account), bool,
                   what=f"the alert of account {account} in /alerts")
    page.wait_for_selector("#feed-state.down", timeout=15_000)
    proxy.accept()

    page.wait_for_selector("#feed-state.live", timeout=30_000)
    burst(db, accounts[5])
    for account in accounts:
        expected[account] = eventually(lambda account=account: alerts_of(worker.url, account), bool,
                                       what=f"alerts of {account}")
    wanted = set().union(*expected.values())
    listed = eventually(lambda: listed_alerts(page, accounts), lambda found: set(found) >= wanted,
                        timeout=ALERT_DEADLINE_MS / 1000, what="every alert in the list")
    assert Counter(listed) == Counter({alert_id: 1 for alert_id in wanted})


def test_with_a_token_the_page_shows_nothing_before_and_everything_after(db, start_test_worker, browser, tmp_path):
    secured = start_test_worker(env={"WEB_TOKEN": TOKEN})
    opened = Page(browser)
    try:
        page = opened.page
        page.goto(f"{secured.url}/console")
        page.wait_for_selector("#token-form:not([hidden])", timeout=15_000)
        assert page.is_hidden("#console")
        assert page.is_hidden("#feed-state")
        assert "Pipeline" not in page.inner_text("body") and "ledger.public" not in page.content()

        page.fill("#token", "not-the-token")
        page.press("#token", "Enter")
        page.wait_for_selector("#token-error:has-text('not accepted')", timeout=10_000)
        assert page.is_hidden("#console")

        page.fill("#token", TOKEN)
        page.press("#token", "Enter")
        page.wait_for_selector("#feed-state.live", timeout=30_000)
        page.wait_for_selector('#pipeline td[data-metric="connector-state"]', timeout=15_000)

        # The live feed works with the token: an alert fired now reaches the page.
        _, account = open_account(db, "5000.00")
        burst(db, account)
        page.wait_for_selector(f'#alert-list li[data-account="{account}"]', timeout=ALERT_DEADLINE_MS)

        # Kept for the tab: a reload does not ask again.
        page.reload()
        page.wait_for_selector("#feed-state.live", timeout=30_000)
        assert page.is_hidden("#token-form")
        page.screenshot(path=str(tmp_path / "console-with-token.png"))
    finally:
        opened.close()
    assert not [url for url in opened.urls if TOKEN in url], "the token went into a URL"


def test_usable_from_the_keyboard(db, worker, proxy, tab):
    _, account = open_account(db, "77.00")
    eventually(lambda: get_json(f"{worker.url}/accounts/{account}"), lambda r: r[0] == 200, what="the account")
    page = open_console(tab, proxy.url)
    page.wait_for_selector("#feed-state.live", timeout=30_000)
    bursting = [open_account(db, "5000.00")[1] for _ in range(3)]
    for each in bursting:
        burst(db, each)
    for each in bursting:
        page.wait_for_selector(f'#alert-list li[data-account="{each}"]', timeout=ALERT_DEADLINE_MS)

    focused = []
    for _ in range(15):  # Tab through the page to the account field
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
        if focused[-1] == "account-id":
            break
    assert focused[-1] == "account-id", focused
    assert "pause" in focused and "rule-filter" in focused
    # The alert list is one tab stop however many alerts it shows; the arrow keys move inside it.
    assert focused.count("account-link") == 1, focused
    page.keyboard.press("Shift+Tab")
    focused_alert = "document.activeElement.closest('li') && document.activeElement.closest('li').dataset.alertId"
    first = page.evaluate(focused_alert)
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.className") == "account-link"
    assert page.evaluate(focused_alert) not in (None, first)
    page.keyboard.press("Home")
    assert page.evaluate(focused_alert) == first
    page.focus("#account-id")
    page.keyboard.type(str(account))
    page.keyboard.press("Enter")
    assert page.wait_for_selector('#account-result dd[data-field="balance"]').inner_text().startswith("77.00")

    page.focus("#pause")
    page.keyboard.press("Space")
    assert page.get_attribute("#pause", "aria-pressed") == "true"
    page.keyboard.press("Enter")
    assert page.get_attribute("#pause", "aria-pressed") == "false"
    # The focused control is visibly marked.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"


@pytest.mark.parametrize("name, width, height", [("desktop", 1280, 800), ("phone", 390, 844)])
def test_readable_at_desktop_and_phone_sizes(db, worker, proxy, browser, tmp_path, name, width, height):
    opened = Page(browser, width, height)
    try:
        page = open_console(opened, proxy.url)
        # Something in every panel: an alert, an account looked up, the pipeline's tables.
        _, account = open_account(db, "5000.00")
        burst(db, account)
        page.wait_for_selector(f'#alert-list li[data-account="{account}"]', timeout=ALERT_DEADLINE_MS)
        page.click(f'#alert-list li[data-account="{account}"] button.account-link')
        page.wait_for_selector('#account-result dd[data-field="balance"]', timeout=10_000)
        page.wait_for_selector('#pipeline td[data-metric="connector-state"]', timeout=15_000)
        # Nothing wider than the screen: no sideways scrolling of the page itself.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#alerts h2')).fontSize)")
        assert font >= 14
        page.screenshot(path=str(tmp_path / f"console-{name}.png"), full_page=(name == "phone"))
        if name == "desktop" and os.environ.get("UPDATE_CONSOLE_SCREENSHOT"):
            page.screenshot(path=str(REPO_ROOT / "docs" / "console.png"))
        assert opened.errors == []
    finally:
        opened.close()
