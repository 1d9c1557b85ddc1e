"""Provenance of derived events: the rule history keeps each withdrawal's source position; headers."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

from agents.provenance import as_source_position, source_of, trace_headers
from cdc.changes import Change, Op, SourcePosition
from detection.withdrawals import History, Withdrawal
from engine.telemetry.trace import parse_traceparent
from schemas.codec.envelope import decode_envelope, encode_envelope, wrap
from schemas.records import WithdrawalAlertV1, WithdrawalAlertV2
from tables.rule_state import history_from_rows, history_to_rows

AT = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def change(lsn=500, tx_id=77) -> Change:
    return Change(Op.CREATE, "public", "transactions", 7, None, {"id": 9},
                  SourcePosition(lsn=lsn, tx_id=tx_id, commit_ts_ms=1, snapshot=False))


def test_the_history_keeps_each_source_and_reads_rows_written_before_it():
    source = source_of(SimpleNamespace(partition=2, offset=41), "ledger.public.transactions", change(), 9)
    history = History((Withdrawal(9, 7, Decimal("250.00"), AT, source=source),
                       Withdrawal(10, 7, Decimal("300.00"), AT)))
    rows = history_to_rows(history)["held"]
    assert rows[0][4] == ["ledger.public.transactions", 2, 41, 500, 77, 9] and len(rows[1]) == 3
    assert [w.source for w in history_from_rows(7, {"held": rows, "pruned_through": None})] == [source, None]
    # The source is not part of a withdrawal's identity: a redelivery with another position is the same one.
    assert history_from_rows(7, {"held": rows, "pruned_through": None}) == \
        history_from_rows(7, {"held": [row[:3] for row in rows], "pruned_through": None})


def test_an_alert_v2_carries_its_sources_and_a_v1_reader_still_reads_it():
    position = as_source_position(["ledger.public.transactions", 2, 41, 500, 77, 9])
    payload = WithdrawalAlertV2(alert_id="rapid-large-withdrawals:9", rule="rapid-large-withdrawals", account_id=7,
                                trigger_txn_id=9, count=1, total="250.00", window_start=AT, window_end=AT,
                                txn_ids=[9], detected_at=AT, sources=[position])
    data = encode_envelope(wrap(payload, "WithdrawalAlert", 2, source="test", partition_key="7"))
    assert decode_envelope(data).payload.sources == [position]
    old = decode_envelope(data, {"WithdrawalAlert": 1}).payload
    assert isinstance(old, WithdrawalAlertV1) and old.txn_ids == [9]


def test_trace_headers_follow_the_sql_commit():
    (name, value), = trace_headers(event_id="e", cause=change(tx_id=77))
    assert name == "traceparent" and parse_traceparent(value.decode()) is not None
    (_, other), = trace_headers(event_id="f", cause=change(lsn=900, tx_id=77))
    assert value.split(b"-")[1] == other.split(b"-")[1]        # one commit, one trace id
