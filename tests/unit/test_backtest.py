"""The backtest's replay (ops/backtest/replay.py) against the independent oracle, with the catalogue as it is
and with changed thresholds, and its command line's errors. On the real stack: tests/e2e/test_backtest.py."""

from __future__ import annotations

import io
import random
import socket
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Dict, List

import pytest

from detection.catalog import DEFAULT_CATALOG, read_catalog
from detection.rulebook import rule_book
from ops.backtest.cli import main
from ops.backtest.replay import Replay
from ops.cli_args import option_time
from projections.transactions import LedgerTransaction
from tests.support import oracle

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
GAPS = [timedelta(seconds=1), timedelta(minutes=1), timedelta(minutes=3), timedelta(minutes=7),
        timedelta(minutes=20), timedelta(days=31)]
AMOUNTS = {"deposit": ["50.00", "1000.00", "2500.00"], "withdrawal": ["20.00", "200.00", "450.00", "900.00", "2100.00"]}


def ledger(seed: int, n: int = 400, accounts: int = 6) -> List[LedgerTransaction]:
    """A seeded ledger: ids in commit order, each account's clock moving on (now and then a month)."""
    rng = random.Random(seed)
    clocks = {a: T0 for a in range(accounts)}
    made = []
    for txn_id in range(1, n + 1):
        account = rng.randrange(accounts)
        clocks[account] += rng.choice(GAPS)
        kind = rng.choice(["deposit", "withdrawal", "withdrawal", "withdrawal"])
        made.append(LedgerTransaction(txn_id, 100 + account, kind, Decimal(rng.choice(AMOUNTS[kind])),
                                      clocks[account]))
    return made


def replayed(catalog_path=None, txns=(), rules=None) -> Dict[str, str]:
    catalog = read_catalog(catalog_path)
    if rules:
        catalog = replace(catalog, rules=tuple(r for r in catalog.rules if r.id in rules))
    replay = Replay(rule_book(catalog, timedelta(minutes=5)))
    found = {}
    for txn in txns:
        for alert in replay.feed(txn, T0):
            found[alert.alert_id] = alert.rule
    return found


DEFAULTS = oracle.RuleDefinitions()


def expected(txns, definitions=DEFAULTS, rules=None) -> Dict[str, str]:
    alerts = oracle.expected_alerts([oracle.Txn(t.txn_id, t.account_id, t.kind, t.amount, t.created_at) for t in txns],
                                    definitions)
    return {a.alert_id: a.rule for a in alerts.values() if rules is None or a.rule in rules}


def changed_catalog(tmp_path: Path) -> Path:
    text = DEFAULT_CATALOG.read_text(encoding="utf-8")
    assert "parameters: {window: 10m, count: 3}" in text and 'share: "0.90"' in text
    path = tmp_path / "catalog.yaml"
    path.write_text(text.replace("parameters: {window: 10m, count: 3}", "parameters: {window: 10m, count: 2}")
                    .replace('share: "0.90"', 'share: "0.50"'), encoding="utf-8")
    return path


def test_the_catalogue_replayed_alerts_as_the_oracle_says_for_every_rule():
    fired = {rule: 0 for rule in (oracle.RAPID, oracle.BURST, oracle.DRAIN, oracle.DORMANT)}
    for seed in range(30):
        txns = ledger(seed)
        want = expected(txns)
        assert replayed(None, txns) == want, f"seed {seed}"
        for rule in want.values():
            fired[rule] += 1
    assert min(fired.values()) >= 20, f"the ledgers should fire every rule: {fired}"


def test_changed_thresholds_alert_as_the_oracle_with_those_thresholds(tmp_path):
    path = changed_catalog(tmp_path)
    definitions = oracle.RuleDefinitions(count=2, drain_share=Decimal("0.50"))
    differs = 0
    for seed in range(20):
        txns = ledger(seed)
        assert replayed(path, txns) == expected(txns, definitions), f"seed {seed}"
        differs += expected(txns, definitions) != expected(txns)
    assert differs >= 15, "the changed thresholds should change the alerts"


def test_one_rule_of_the_catalogue_raises_only_its_alerts():
    txns = ledger(7)
    assert replayed(None, txns, rules={oracle.BURST}) == expected(txns, rules={oracle.BURST}) != {}


def test_a_redelivered_stretch_changes_no_alert():
    txns = ledger(3)
    assert replayed(None, txns[:250] + txns[180:250] + txns[250:]) == expected(txns)


def run_cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_an_unknown_rule_is_one_sentence_naming_the_rules():
    code, out, err = run_cli("--rule", "no-such-rule")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "no-such-rule" in err and oracle.RAPID in err


def test_a_bad_time_is_one_sentence_with_an_example():
    code, _, err = run_cli("--since", "yesterday")
    assert code == 2 and err.count("\n") == 1 and "2026-03-01T00:00Z" in err


def test_a_broker_that_is_not_there_is_one_sentence_saying_what_to_do():
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run_cli("--bootstrap", f"127.0.0.1:{port}", "--quiet")
    assert code == 2 and err.count("\n") == 1
    assert f"127.0.0.1:{port}" in err and "make up" in err


@pytest.mark.parametrize("text", ["2026-03-01T00:00Z", "2026-03-01T00:00:00+00:00", "2026-03-01"])
def test_times_are_read_as_utc_unless_they_say_otherwise(text):
    assert option_time(text, "--since") == datetime(2026, 3, 1, tzinfo=timezone.utc)
