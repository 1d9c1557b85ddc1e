"""Unit tests of projections.accounts: an accounts change into the balance_by_account row."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cdc.changes import Change, DecodeError, Op, SourcePosition
from cdc.decode import decode_change
from projections.accounts import account_key, account_view

ROW = {
    "id": 1,
    "customer_id": 7,
    "currency": "EUR",
    "balance": "100.50",
    "status": "open",
    "opened_at": "2026-11-22T01:06:18.490429Z",
    "updated_at": "2026-11-22T01:06:18.490429Z",
}

VIEW = {
    "account_id": 1,
    "customer_id": 7,
    "balance": "100.50",
    "currency": "EUR",
    "status": "open",
    "updated_at": "2026-11-22T01:06:18.490429Z",
    "source_lsn": 26501168,
}


def change(op: Op, *, before=None, after=None, lsn: int = 26501168) -> Change:
    position = SourcePosition(lsn=lsn, tx_id=730, commit_ts_ms=1795309578491, snapshot=op is Op.READ)
    return Change(op=op, schema="public", table="accounts", key=1, before=before, after=after, source=position)


@pytest.mark.parametrize("op", [Op.CREATE, Op.READ])
def test_create_and_snapshot_read_give_the_row(op):
    assert account_view(change(op, after=ROW)) == VIEW


def test_update_gives_the_new_row():
    after = {**ROW, "balance": "75.25", "status": "frozen", "updated_at": "2026-11-22T01:07:00.000001Z"}

    view = account_view(change(Op.UPDATE, before=ROW, after=after, lsn=26501300))

    assert view == {
        **VIEW,
        "balance": "75.25",
        "status": "frozen",
        "updated_at": "2026-11-22T01:07:00.000001Z",
        "source_lsn": 26501300,
    }


def test_delete_gives_none():
    assert account_view(change(Op.DELETE, before=ROW)) is None


def test_real_debezium_record_end_to_end():
    value = (
        b'{"before":null,"after":{"id":1,"customer_id":1,"currency":"EUR","balance":"100.50",'
        b'"status":"open","opened_at":"2026-11-22T01:06:18.490429Z","updated_at":"2026-11-22T01:06:18.490429Z"},'
        b'"source":{"version":"3.0.7.Final","connector":"postgresql","name":"ledger","ts_ms":1795309578491,'
        b'"snapshot":"false","db":"ledger","sequence":"[\\"26501040\\",\\"26501168\\"]","ts_us":1795309578491336,'
        b'"ts_ns":1795309578491336000,"schema":"public","table":"accounts","txId":730,"lsn":26501168,"xmin":null},'
        b'"transaction":null,"op":"c","ts_ms":1795309578567,"ts_us":1795309578567997,"ts_ns":1795309578567997312}'
    )
    decoded = decode_change(b"1", value)

    assert account_key(decoded.key) == 1
    assert account_view(decoded) == {**VIEW, "customer_id": 1}


@pytest.mark.parametrize("balance", ["100.50", "0.00", "-3.10", "9999999999999999.99", "-9999999999999999.99"])
def test_balance_stays_exact_text(balance):
    view = account_view(change(Op.CREATE, after={**ROW, "balance": balance}))

    assert view["balance"] == balance


def test_balance_already_decoded_as_decimal_stays_exact():
    # A schema-enabled record decodes numeric columns to Decimal.
    view = account_view(change(Op.CREATE, after={**ROW, "balance": Decimal("100.50")}))

    assert view["balance"] == "100.50"


@pytest.mark.parametrize("currency", ["EUR", "EUR ", " EUR", "EUR   "])
def test_currency_is_stripped(currency):
    assert account_view(change(Op.CREATE, after={**ROW, "currency": currency}))["currency"] == "EUR"


@pytest.mark.parametrize("balance", [100.5, 100, "NaN", "Infinity", "-Infinity", "sNaN", "abc", "", None])
def test_inexact_or_non_numeric_balance_is_an_error(balance):
    with pytest.raises(DecodeError, match="balance"):
        account_view(change(Op.CREATE, after={**ROW, "balance": balance}))


@pytest.mark.parametrize(
    "column, value",
    [("id", "1"), ("id", True), ("id", 1.0), ("customer_id", None), ("currency", None), ("status", 3),
     ("updated_at", None)],
)
def test_wrongly_typed_columns_are_errors_naming_the_column(column, value):
    with pytest.raises(DecodeError, match=column):
        account_view(change(Op.UPDATE, before=ROW, after={**ROW, column: value}))


def test_create_without_after_is_an_error():
    with pytest.raises(DecodeError, match="after"):
        account_view(change(Op.CREATE, after=None))


def test_account_key_of_an_int():
    assert account_key(1) == 1
    assert account_key(2**63 - 1) == 2**63 - 1


@pytest.mark.parametrize("bad", [True, False, "1", 1.0, None, {"id": 1}])
def test_account_key_rejects_non_int_and_bool(bad):
    with pytest.raises(DecodeError, match="not an integer"):
        account_key(bad)
