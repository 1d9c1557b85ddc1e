"""`python -m ops.shadow`: the comparison of shadow and live alerts over a period, and the command's errors.
On the real stack: tests/e2e/test_shadow_and_backtest.py."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from agents.publishing import SOURCE
from detection.catalog import DEFAULT_CATALOG
from ops.alert_diff import alert_payloads
from ops.shadow.cli import main
from ops.shadow.report import compare
from schemas.codec.envelope import encode_envelope, wrap
from schemas.records import BalanceLowV1
from tests.support.alert_records import alert_record
from tests.support.shadow_catalog import catalog_text, catalog_with_shadow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
RAPID = "rapid-large-withdrawals"
SHADOW = catalog_with_shadow().shadow_rules


def alert(txn_id: int, minutes: float, version: int, rule: str = RAPID):
    return SimpleNamespace(alert_id=f"{rule}:{txn_id}", rule=rule, rule_version=version,
                           detected_at=T0 + timedelta(minutes=minutes))


def test_ids_are_sorted_into_only_shadow_only_live_and_both_from_the_shadows_first_alert():
    shadow = [alert(5, 10, 2), alert(6, 11, 2), alert(6, 12, 2), alert(9, 30, 1)]   # a re-sent copy; another version
    live = [alert(1, 0, 1), alert(6, 11, 1), alert(7, 20, 1), alert(7, 20, 1, rule="large-withdrawal-burst")]
    report = compare(shadow, live, SHADOW)
    diff = report.rules[RAPID]
    assert report.starts[RAPID] == T0 + timedelta(minutes=10)   # live alert 1 came before the shadow ran
    assert (diff.only_tried, diff.only_live, diff.both) == ({f"{RAPID}:5"}, {f"{RAPID}:7"}, {f"{RAPID}:6"})


def test_a_period_given_bounds_both_sides():
    shadow = [alert(5, 10, 2), alert(6, 50, 2)]
    live = [alert(1, 0, 1), alert(5, 10, 1), alert(8, 49, 1)]
    diff = compare(shadow, live, SHADOW, since=T0, until=T0 + timedelta(minutes=30)).rules[RAPID]
    assert (diff.tried, diff.live) == ({f"{RAPID}:5"}, {f"{RAPID}:1", f"{RAPID}:5"})


def test_no_shadow_alert_and_no_since_compares_nothing():
    report = compare([], [alert(1, 0, 1)], SHADOW)
    assert report.starts[RAPID] is None and report.rules[RAPID].live == set()


def run_cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_a_catalogue_without_shadow_rules_is_one_sentence_saying_how_to_mark_one():
    code, out, err = run_cli("--catalog", str(DEFAULT_CATALOG))
    assert code == 2 and out == "" and err.count("\n") == 1 and "mode: shadow" in err


def test_an_until_before_the_since_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(catalog_text(), encoding="utf-8")
    code, _, err = run_cli("--catalog", str(path), "--since", "2026-03-02", "--until", "2026-03-01")
    assert code == 2 and "--until must be later" in err
    code, _, err = run_cli("--catalog", str(path), "--rule", "dormant-reactivation")
    assert code == 2 and "no shadow rule dormant-reactivation" in err and RAPID in err


def test_only_alerts_are_compared_other_events_and_bad_bytes_on_the_topic_are_skipped_and_counted():
    alert_id, alert = alert_record(7)
    low = encode_envelope(wrap(BalanceLowV1(account_id=7, customer_id=1, balance="5.00", threshold="100.00",
                                            currency="EUR", crossed_at=T0), "BalanceLow", 1, source=SOURCE,
                               partition_key="7", occurred_at=T0))
    payloads, skipped = alert_payloads([alert, low, b"\x00not avro", alert])
    assert [p.alert_id for p in payloads] == [alert_id, alert_id] and skipped == 2
