"""The rule catalogue: the shipped file gives the rules their documented results; a bad one is one sentence
naming the rule and the field; a change the kept state cannot serve is refused; output rate limiting."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import yaml

from agents.rule_book import MANIFEST, start_rules
from detection.catalog import (
    DEFAULT_CATALOG,
    FIRST_EVERY,
    KINDS,
    CatalogError,
    parse_catalog,
    parse_duration,
    read_catalog,
)
from detection.rate_limit import first_every
from detection.rulebook import check_change, limited, manifest_of, rule_book
from detection.withdrawals import Alert, RuleSettings
from settings import Settings
from tests.support import oracle

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc)
SHIPPED = yaml.safe_load(DEFAULT_CATALOG.read_text())


def catalog_with(rule_id: str, **changes) -> str:
    """The shipped catalogue with one rule's fields changed (None removes a field)."""
    rules = []
    for rule in SHIPPED["rules"]:
        rule = dict(rule)
        if rule["id"] == rule_id:
            for name, value in changes.items():
                if value is None:
                    rule.pop(name, None)
                else:
                    rule[name] = value
        rules.append(rule)
    return yaml.safe_dump({"rules": rules})


def refused(text: str) -> str:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, "catalog.yaml")
    message = str(caught.value)
    assert message.count(". ") == 0 and message.endswith(".") and "\n" not in message, message
    return message


def test_the_shipped_catalogue_gives_the_window_rules_their_former_settings():
    # The results of the two existing rules are the oracle's defaults: nothing changed but where they are declared.
    assert read_catalog().withdrawal_settings() == RuleSettings()
    definitions = oracle.RuleDefinitions()
    catalog = read_catalog()
    assert [r.id for r in catalog.rules] == [oracle.RAPID, oracle.BURST, oracle.DRAIN, oracle.DORMANT]
    drain, dormant = catalog.rule(oracle.DRAIN), catalog.rule(oracle.DORMANT)
    assert (drain.filter.min_amount, drain.parameters["within"], drain.parameters["share"]) == (
        definitions.drain_deposit, definitions.drain_within, definitions.drain_share)
    assert (dormant.filter.min_amount, dormant.parameters["silence"]) == (definitions.large,
                                                                          definitions.dormant_silence)
    assert all(rule.first_every is None for rule in catalog.rules), "output rate limiting is off by default"


def test_every_number_parameter_has_a_range():
    for kind, params in KINDS.items():
        for name, param in params.items():
            assert param.choices or (param.low is not None and param.high is not None), f"{kind}.{name}"
    assert FIRST_EVERY.low is not None and FIRST_EVERY.high is not None


@pytest.mark.parametrize("rule_id, changes, says", [
    (oracle.DRAIN, {"parameters": {"then": "withdrawal", "within": "30m", "share": "1.5"}},
     "rule deposit-then-drain: parameters.share is '1.5'; give a decimal above 0 and at most 1"),
    (oracle.DRAIN, {"parameters": {"then": "withdrawal", "within": "2d", "share": "0.9"}},
     "rule deposit-then-drain: parameters.within is '2d'; give a duration from 1s to 1d"),
    (oracle.DRAIN, {"parameters": {"then": "withdrawal", "share": "0.9"}},
     "rule deposit-then-drain: parameters.within is missing; a followed-by rule takes then, within, share"),
    (oracle.DORMANT, {"parameters": {"silence": "30 days"}}, "rule dormant-reactivation: parameters.silence is "),
    (oracle.DORMANT, {"parameters": {"silence": "30d", "grace": "1d"}},
     "rule dormant-reactivation: parameters has unknown field 'grace'; an absence rule takes silence"),
    (oracle.RAPID, {"parameters": {"window": "10m", "count": 0}},
     "rule rapid-large-withdrawals: parameters.count is 0; give a whole number from 1 to 1000"),
    (oracle.BURST, {"parameters": {"length": 5, "total": 5000.5}},
     "rule large-withdrawal-burst: parameters.total is 5000.5; give quoted decimal text"),
    (oracle.BURST, {"filter": {"kind": "deposit", "min_amount": "200.00"}},
     "rule large-withdrawal-burst: filter.kind is 'deposit'; a count-window rule looks at withdrawals"),
    (oracle.BURST, {"filter": {"kind": "withdrawal", "min_amount": "300.00"}},
     "rule large-withdrawal-burst has another filter than rapid-large-withdrawals"),
    (oracle.RAPID, {"severity": "urgent"}, "rule rapid-large-withdrawals: severity is 'urgent'; give one of low, "),
    (oracle.RAPID, {"version": 0}, "rule rapid-large-withdrawals: version is 0; give a whole number from 1"),
    (oracle.RAPID, {"kind": "sliding"}, "rule rapid-large-withdrawals: kind is 'sliding'; give one of time-window"),
    (oracle.RAPID, {"severity": None}, "rule rapid-large-withdrawals has no severity; every rule declares"),
    (oracle.RAPID, {"thresholds": {}}, "rule rapid-large-withdrawals has unknown field 'thresholds'"),
    (oracle.RAPID, {"output": {"first_every": "0s"}}, "rule rapid-large-withdrawals: output.first_every is '0s'"),
    (oracle.RAPID, {"output": {"last_every": "1h"}}, "rule rapid-large-withdrawals: output is "),
    (oracle.RAPID, {"id": "Rapid Withdrawals"}, "rule #1 has id 'Rapid Withdrawals'; give it an id of lower-case"),
])
def test_a_bad_rule_is_one_sentence_naming_the_rule_and_the_field(rule_id, changes, says):
    assert says in refused(catalog_with(rule_id, **changes))


def test_a_bad_file_is_one_sentence_too(tmp_path):
    assert "catalog.yaml is not valid YAML at line 3" in refused("rules:\n  - id: [unclosed\n")
    assert "has no `rules:` list" in refused("rule: []\n")
    assert "rule rapid-large-withdrawals is declared twice" in refused(
        yaml.safe_dump({"rules": [SHIPPED["rules"][0], SHIPPED["rules"][0]]}))
    assert "is a second time-window rule after" in refused(yaml.safe_dump({"rules": [
        SHIPPED["rules"][0], {**SHIPPED["rules"][0], "id": "rapid-two"}]}))
    with pytest.raises(CatalogError, match="cannot be read .*; set RULE_CATALOG to a readable file or unset it"):
        read_catalog(str(tmp_path / "missing.yaml"))


def test_durations():
    assert parse_duration("29d23h59m59s") == timedelta(days=30) - timedelta(seconds=1)
    assert parse_duration("90s") == timedelta(seconds=90) and parse_duration("10m") == timedelta(minutes=10)
    assert [parse_duration(v) for v in ("", "10", "10 m", "1w", 600, "m")] == [None] * 6


def test_a_catalogue_may_leave_rules_out_and_the_window_rules_then_raise_nothing():
    only_burst = parse_catalog(yaml.safe_dump({"rules": [SHIPPED["rules"][1]]}))
    settings = only_burst.withdrawal_settings()
    assert (settings.rapid_rule, settings.burst_rule) == (None, oracle.BURST)
    assert rule_book(parse_catalog("rules: []\n"), timedelta(0)).windows is None


def test_a_kind_the_worker_does_not_run_yet_is_refused_when_it_starts():
    keyed = {"id": "customer-velocity", "version": 1, "kind": "keyed-sum", "severity": "high",
             "filter": {"kind": "withdrawal", "min_amount": "0.00"},
             "parameters": {"key": "customer", "window": "1h", "total": "10000.00"}}
    catalog = parse_catalog(yaml.safe_dump({"rules": [keyed]}), "catalog.yaml")
    with pytest.raises(CatalogError, match="rule customer-velocity is of kind keyed-sum, which this worker does not "
                                           "evaluate yet; remove the rule"):
        rule_book(catalog, timedelta(0))


# --- Changing thresholds against the kept state -------------------------------------------------

SHIPPED_MANIFEST = manifest_of(read_catalog())


def test_thresholds_that_need_no_more_history_keep_the_state():
    for rule_id, changes in [(oracle.DRAIN, {"parameters": {"then": "withdrawal", "within": "20m", "share": "0.5"}}),
                             (oracle.RAPID, {"parameters": {"window": "5m", "count": 2}}),
                             (oracle.BURST, {"parameters": {"length": 3, "total": "100.00"}}),
                             (oracle.DORMANT, {"parameters": {"silence": "3650d"}}),
                             (oracle.DRAIN, {"filter": {"kind": "deposit", "min_amount": "10.00"}})]:
        check_change(SHIPPED_MANIFEST, parse_catalog(catalog_with(rule_id, **changes)))


@pytest.mark.parametrize("rule_id, changes, says", [
    (oracle.DRAIN, {"parameters": {"then": "withdrawal", "within": "1h", "share": "0.9"}},
     "rule deposit-then-drain: parameters.within grew from 30m to 1h, more history than its state holds; keep it at "
     "30m or less, or raise its version to 2 to start it fresh."),
    (oracle.RAPID, {"parameters": {"window": "15m", "count": 3}},
     "rule rapid-large-withdrawals: parameters.window grew from 10m to 15m"),
    (oracle.BURST, {"parameters": {"length": 6, "total": "5000.00"}},
     "rule large-withdrawal-burst: parameters.length grew from 5 to 6"),
])
def test_a_longer_window_is_refused_unless_the_rule_starts_fresh(rule_id, changes, says):
    longer = parse_catalog(catalog_with(rule_id, **changes), "catalog.yaml")
    with pytest.raises(CatalogError) as caught:
        check_change(SHIPPED_MANIFEST, longer)
    assert says in str(caught.value)
    check_change(SHIPPED_MANIFEST, parse_catalog(catalog_with(rule_id, version=2, **changes)))


def test_a_changed_filter_of_the_window_rules_is_refused_their_history_holds_what_it_admitted():
    both = yaml.safe_load(catalog_with(oracle.RAPID, filter={"kind": "withdrawal", "min_amount": "100.00"}))
    both["rules"][1]["filter"] = both["rules"][0]["filter"]
    with pytest.raises(CatalogError, match="filter.min_amount changed from 200.00 to 100.00"):
        check_change(SHIPPED_MANIFEST, parse_catalog(yaml.safe_dump(both)))


def test_the_worker_checks_at_start_against_what_it_recorded_last_time(tmp_path):
    shipped = tmp_path / "catalog.yaml"
    shipped.write_text(DEFAULT_CATALOG.read_text())
    start_rules(Settings(rule_catalog=str(shipped)), str(tmp_path / "data"))
    assert json.loads((tmp_path / "data" / MANIFEST).read_text()) == SHIPPED_MANIFEST
    longer = tmp_path / "longer.yaml"
    longer.write_text(catalog_with(oracle.DRAIN, parameters={"then": "withdrawal", "within": "1h", "share": "0.9"}))
    with pytest.raises(CatalogError, match="parameters.within grew from 30m to 1h"):
        start_rules(Settings(rule_catalog=str(longer)), str(tmp_path / "data"))


# --- Output rate limiting ----------------------------------------------------------------------

def alert(txn_id: int, minutes: float, rule: str = oracle.DORMANT) -> Alert:
    at = T0 + timedelta(minutes=minutes)
    return Alert(f"{rule}:{txn_id}", rule, 7, txn_id, 1, Decimal("1.00"), at, at, (txn_id,), at)


def test_first_every_lets_the_first_through_then_none_until_t_has_passed():
    every = timedelta(hours=1)
    state = None
    passed = []
    for txn_id, minutes in [(1, 0), (2, 30), (3, 59.99), (4, 60), (5, 61), (6, 120)]:
        goes, state = first_every(state, f"r:{txn_id}", T0 + timedelta(minutes=minutes), every)
        passed += [txn_id] if goes else []
    assert passed == [1, 4, 6]


def test_first_every_sends_a_redelivered_alert_again_and_a_held_back_one_never():
    every = timedelta(hours=1)
    _, state = first_every(None, "r:1", T0, every)
    _, state = first_every(state, "r:2", T0 + timedelta(minutes=5), every)
    assert first_every(state, "r:1", T0, every) == (True, state)
    assert first_every(state, "r:2", T0 + timedelta(minutes=5), every) == (False, state)


def test_rate_limiting_is_off_by_default_and_per_rule_when_on():
    book = rule_book(read_catalog(), timedelta(minutes=5))
    alerts = [alert(1, 0), alert(2, 1), alert(3, 2, rule=oracle.RAPID)]
    assert limited(None, alerts, book) == ({}, alerts)
    limiting = parse_catalog(catalog_with(oracle.DORMANT, output={"first_every": "1h"}))
    state, passed = limited(None, alerts, rule_book(limiting, timedelta(minutes=5)))
    assert [a.alert_id for a in passed] == [alerts[0].alert_id, alerts[2].alert_id]
    assert state == {oracle.DORMANT: [T0.isoformat(), alerts[0].alert_id]}


def test_severity_and_version_are_stamped_from_the_catalogue():
    book = rule_book(parse_catalog(catalog_with(oracle.DORMANT, version=4, severity="critical")), timedelta(0))
    stamped = book.stamped(alert(1, 0))
    assert (stamped.severity, stamped.rule_version) == ("critical", 4)
