"""Unit tests of LSN text (cdc/lsn.py) and of reading the connector's heartbeat messages (cdc/heartbeat.py)."""

from __future__ import annotations

import json

import pytest

from cdc.heartbeat import HEARTBEAT_PREFIX, Heartbeat, heartbeat_of
from cdc.lsn import format_lsn, parse_lsn


@pytest.mark.parametrize("text, value", [("0/0", 0), ("0/19E5B48", 27155272), ("16/B374D848", 0x16_B374D848),
                                         ("FFFFFFFF/FFFFFFFF", 2**64 - 1)])
def test_lsn_text_round_trips(text, value):
    assert parse_lsn(text) == value and format_lsn(value) == text
    assert parse_lsn(text.lower()) == value


@pytest.mark.parametrize("text", ["", "16", "/1", "1/", "G/1", "1/123456789", "1/2/3", "-1/0", " 1/0", "1/0 "])
def test_a_bad_lsn_is_refused(text):
    with pytest.raises(ValueError):
        parse_lsn(text)


def _message(prefix=HEARTBEAT_PREFIX, lsn=26510408, ts_ms=1796112039081, op="m"):
    # As Debezium 3.0 writes a logical decoding message (schemas disabled), taken from the local stack.
    return json.dumps({"op": op, "ts_ms": 1796112051524, "source": {
        "version": "3.0.7.Final", "connector": "postgresql", "name": "ledger", "ts_ms": ts_ms, "snapshot": "false",
        "db": "ledger", "sequence": f'["{lsn}","{lsn}"]', "schema": "", "table": "", "txId": None, "lsn": lsn,
        "xmin": None}, "transaction": None, "message": {"prefix": prefix, "content": ""}}).encode()


def test_a_heartbeat_message_gives_its_position():
    assert heartbeat_of(_message()) == Heartbeat(26510408, 1796112039081)


@pytest.mark.parametrize("value", [None, b"", b"not json", b"[]", _message(prefix="other"), _message(op="c"),
                                   _message(lsn="12"), _message(lsn=-1), _message(lsn=True)])
def test_anything_else_is_no_heartbeat(value):
    assert heartbeat_of(value) is None
