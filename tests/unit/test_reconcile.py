"""The reconciliation's comparison and command line (the real ledger and views: tests/integration)."""

from __future__ import annotations

import io

import pytest

from ops.reconcile.cli import _ids, main
from ops.reconcile.compare import Difference, account_differences, customer_differences, turnover_differences
from ops.reconcile.reconciler import lsn_number

LEDGER_ACCOUNT = {"customer_id": 4, "balance": "100.50", "currency": "EUR", "status": "open"}


def test_an_account_that_agrees_has_no_difference_whatever_the_money_is_written_as():
    view = {"account_id": 7, "customer_id": 4, "balance": "100.5", "currency": "EUR", "status": "open",
            "updated_at": "2026-12-01T00:00:00Z"}
    assert list(account_differences(7, LEDGER_ACCOUNT, view)) == []
    assert list(account_differences(7, {**LEDGER_ACCOUNT, "currency": "EUR"}, {**view, "currency": "EUR "})) == []


def test_each_field_that_differs_is_named_with_both_values():
    view = {"customer_id": 5, "balance": "90.50", "currency": "EUR", "status": "frozen"}
    found = list(account_differences(7, LEDGER_ACCOUNT, view))
    assert [(d.field, d.ledger, d.view) for d in found] == [
        ("balance", "100.50", "90.50"), ("status", "open", "frozen"), ("customer_id", 4, 5)]
    assert str(found[0]) == "account 7 balance: ledger '100.50', view '90.50'"


def test_a_key_on_one_side_only_is_one_difference_and_on_neither_none():
    assert [str(d) for d in account_differences(7, LEDGER_ACCOUNT, None)] == [
        "account 7 exists: ledger present, view absent"]
    assert [(d.ledger, d.view) for d in account_differences(7, None, {"balance": "1"})] == [(False, True)]
    assert list(account_differences(7, None, None)) == []


def test_money_as_a_float_on_either_side_is_a_difference():
    as_float = {**LEDGER_ACCOUNT, "balance": 100.5}
    assert [d.field for d in account_differences(7, LEDGER_ACCOUNT, as_float)] == ["balance"]


def test_customer_totals_compare_per_currency_as_decimals():
    ledger = {"name": "Ada", "email": None, "account_count": 2, "total_balance": {"EUR": "10.00", "USD": "0"}}
    assert list(customer_differences(3, ledger, {**ledger, "total_balance": {"EUR": "10", "USD": "0.00"}})) == []
    found = list(customer_differences(3, ledger, {**ledger, "account_count": 1, "total_balance": {"EUR": "10"}}))
    assert [d.field for d in found] == ["account_count", "total_balance"]


def test_a_day_without_transactions_equals_a_view_of_zeros():
    zeros = {"deposits": "0", "withdrawals": "0", "count": 0}
    assert list(turnover_differences(7, "2026-12-01", None, zeros)) == []
    assert list(turnover_differences(7, "2026-12-01", None, None)) == []
    found = list(turnover_differences(7, "2026-12-01", {"deposits": "5.00", "withdrawals": "0", "count": 1}, zeros))
    assert [d.key for d in found] == ["7:2026-12-01", "7:2026-12-01"]
    assert {d.field for d in found} == {"deposits", "count"}


def test_difference_as_a_dict_keeps_both_values():
    difference = Difference("turnover", "7:2026-12-01", "count", 2, 1)
    assert difference.as_dict() == {"model": "turnover", "key": "7:2026-12-01", "field": "count", "ledger": 2,
                                    "view": 1}


def test_lsn_text_is_the_number_debezium_reports():
    assert lsn_number("0/0") == 0
    assert lsn_number("16/B374D848") == (0x16 << 32) | 0xB374D848


@pytest.mark.parametrize("text, ids", [("3", [3]), ("3,10-12", [3, 10, 11, 12]), (" 4 , 5", [4, 5])])
def test_ids_and_ranges(text, ids):
    assert _ids(text, "--accounts") == ids


@pytest.mark.parametrize("argv, says", [
    (["--accounts", "1-x"], "--accounts takes ids and ranges like 3,10-20, not '1-x'."),
    (["--customers", "9-3"], "--customers takes ids and ranges like 3,10-20, not '9-3'."),
    (["--accounts", "0-2000000"], "over a million ids"),
    (["--rounds", "0"], "--rounds must be from 1 to 10."),
])
def test_a_bad_command_line_is_one_sentence_and_exit_2(argv, says):
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 2
    assert says in err.getvalue() and err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()


def test_an_unreachable_ledger_is_one_sentence_without_the_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://ledger:s3cret-pw@127.0.0.1:1/ledger?connect_timeout=2")
    err = io.StringIO()
    assert main(["--accounts", "1"], out=io.StringIO(), err=err) == 2
    assert "ledger database is unreachable" in err.getvalue() and "s3cret-pw" not in err.getvalue()


def test_the_gauges_show_what_the_last_run_found():
    from prometheus_client import CollectorRegistry

    from ops.reconcile.gauges import ReconcileGauges
    from ops.reconcile.reconciler import Report

    registry = CollectorRegistry()
    gauges = ReconcileGauges(registry)
    found = Report(lsn="0/10", checked={"accounts": 5, "customers": 2, "turnover_days": 9},
                   differences=[Difference("account", "7", "balance", "1", "2"),
                                Difference("turnover", "7:2026-12-01", "count", 1, 2),
                                Difference("turnover", "7:2026-12-01", "deposits", "1", "2")],
                   unsettled=[("account", "8")])
    gauges.report(found, ended_at=1_700_000_000.0, seconds=1.5)

    def value(name, **labels):
        return registry.get_sample_value(f"ledgerstream_reconcile_{name}", labels)

    assert (value("differences", model="account"), value("differences", model="turnover"),
            value("differences", model="customer")) == (1, 2, 0)
    assert value("checked_keys", model="turnover") == 9 and value("unsettled_keys") == 1
    assert value("runs_total", outcome="differences") == 1 and value("duration_seconds") == 1.5
    gauges.report(Report(lsn="0/20", checked=found.checked), ended_at=1_700_000_060.0, seconds=1.0)
    assert value("differences", model="turnover") == 0 and value("runs_total", outcome="consistent") == 1
    assert value("last_success_timestamp_seconds") == 1_700_000_060.0
    gauges.failed()
    assert value("runs_total", outcome="failed") == 1
