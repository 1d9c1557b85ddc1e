"""Unit tests of projections.accounts: an accounts change into the balance_by_account row."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cdc.changes import Change, DecodeError, Op, SourcePosition
from cdc.decode import decode_change
from projections.accounts import (
    REDELIVERY_WINDOW_LSN,
    account_key,
    account_key_and_view,
    account_view,
    already_applied,
)

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
    "source_position": None,  # these changes carry no commit position
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
    assert account_view(decoded) == {**VIEW, "customer_id": 1, "source_position": [26501040, 26501168]}


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


# --- redeliveries ------------------------------------------------------------------------

def _account_change(commit_lsn, lsn, balance="10.00", op=Op.UPDATE, snapshot=False):
    row = {"id": 5, "customer_id": 2, "currency": "EUR", "balance": balance, "status": "open",
           "updated_at": "2026-11-22T01:06:18.490429Z"}
    return Change(op=op, schema="public", table="accounts", key=5, before=None, after=row,
                  source=SourcePosition(lsn=lsn, tx_id=1, commit_ts_ms=1, snapshot=snapshot, commit_lsn=commit_lsn))


def test_a_change_at_or_before_the_stored_position_is_already_applied():
    stored = account_view(_account_change(200, 250))
    assert stored["source_position"] == [200, 250]
    assert already_applied(_account_change(200, 250), stored)   # the same change again
    assert already_applied(_account_change(100, 300), stored)   # an earlier transaction
    assert not already_applied(_account_change(200, 260), stored)  # later in the same transaction
    assert not already_applied(_account_change(300, 310), stored)  # a later transaction


def test_snapshot_reads_and_rows_without_position_are_always_applied():
    stored = account_view(_account_change(200, 250))
    assert not already_applied(_account_change(None, 100, op=Op.READ, snapshot=True), stored)
    assert not already_applied(_account_change(100, 150), None)
    snapshot_row = account_view(_account_change(None, 100, op=Op.READ, snapshot=True))
    assert snapshot_row["source_position"] is None
    assert not already_applied(_account_change(50, 60), snapshot_row)


# --- bad-input catalogue II: a position far in the future, a key that is not the row's id ---------

FAR_FUTURE = 1 << 62


def test_a_change_from_far_in_the_future_does_not_pin_the_row():
    forged = account_view(_account_change(FAR_FUTURE, FAR_FUTURE, balance="999999.00"))
    real_next = _account_change(300, 310, balance="11.00")
    assert not already_applied(real_next, forged)
    # Only the commit half forged, or only the LSN half: the same.
    assert not already_applied(real_next, account_view(_account_change(FAR_FUTURE, 5)))
    assert not already_applied(real_next, account_view(_account_change(290, FAR_FUTURE)))


def test_a_redelivery_within_the_window_is_still_skipped():
    newest = account_view(_account_change(10 * REDELIVERY_WINDOW_LSN, 10 * REDELIVERY_WINDOW_LSN + 50))
    assert already_applied(_account_change(10 * REDELIVERY_WINDOW_LSN - 1000, 9 * REDELIVERY_WINDOW_LSN + 100),
                           newest)
    assert not already_applied(_account_change(8 * REDELIVERY_WINDOW_LSN, 8 * REDELIVERY_WINDOW_LSN + 10), newest)


def test_a_record_keyed_by_another_account_is_refused():
    change = _account_change(200, 250)
    assert account_key_and_view(change)[0] == 5
    wrong = Change(op=change.op, schema="public", table="accounts", key=6, before=None, after=change.after,
                   source=change.source)
    with pytest.raises(DecodeError, match="accounts change keyed 6 is of the row with id 5; a record's key must be "
                                          "its row's id"):
        account_key_and_view(wrong)
    deleted = Change(op=Op.DELETE, schema="public", table="accounts", key=6, before=change.after, after=None,
                     source=change.source)
    with pytest.raises(DecodeError, match="keyed 6 is of the row with id 5"):
        account_key_and_view(deleted)
