"""Unit tests of the bounded per-account history (projections/history.py) and as-of reads of it."""

from __future__ import annotations

import pytest

from cdc.changes import Change, Op, SourcePosition
from projections.history import record_change, state_at

HOUR_US = 3600 * 1_000_000


def _change(op: Op, at_us: int, lsn: int) -> Change:
    return Change(op=op, schema="public", table="accounts", key=1, before=None, after=None,
                  source=SourcePosition(lsn=lsn, tx_id=1, commit_ts_ms=at_us // 1000, snapshot=False,
                                        commit_lsn=lsn - 8, commit_ts_us=at_us))


def _history(*steps, now_us=10 * HOUR_US, retention_us=100 * HOUR_US, max_entries=100):
    history = None
    for op, at, lsn, balance in steps:
        history = record_change(history, _change(op, at, lsn), None if balance is None else {"balance": balance},
                                now_us=now_us, retention_us=retention_us, max_entries=max_entries)
    return history


def test_as_of_a_time_is_the_row_after_every_change_committed_at_or_before_it():
    history = _history((Op.CREATE, 100, 1000, "0"), (Op.UPDATE, 200, 2000, "5"), (Op.UPDATE, 300, 3000, "7"))
    assert state_at(history, at_us=99).row is None and not state_at(history, at_us=99).too_old  # not born yet
    assert state_at(history, at_us=100).row == {"balance": "0"}
    assert state_at(history, at_us=299).row == {"balance": "5"}
    assert state_at(history, at_us=10**18).row == {"balance": "7"}
    assert state_at(history, at_lsn=2999).row == {"balance": "5"}
    assert state_at(history, at_lsn=3000).lsn == 3000


def test_a_deleted_account_has_no_row_after_its_delete():
    history = _history((Op.CREATE, 100, 1000, "0"), (Op.DELETE, 200, 2000, None))
    assert state_at(history, at_us=150).row == {"balance": "0"}
    assert state_at(history, at_us=250).row is None


def test_pruning_keeps_the_state_at_the_cut_and_then_says_how_far_back_it_goes():
    steps = [(Op.CREATE, 1 * HOUR_US, 1000, "0"), (Op.UPDATE, 2 * HOUR_US, 2000, "1"),
             (Op.UPDATE, 5 * HOUR_US, 3000, "2"), (Op.UPDATE, 9 * HOUR_US, 4000, "3")]
    history = _history(*steps, now_us=10 * HOUR_US, retention_us=6 * HOUR_US)   # cut at 4 h
    assert [e[0] for e in history["entries"]] == [2 * HOUR_US, 5 * HOUR_US, 9 * HOUR_US]
    assert state_at(history, at_us=3 * HOUR_US).row == {"balance": "1"}        # the state at the cut is kept
    old = state_at(history, at_us=int(1.5 * HOUR_US))
    assert old.too_old and old.history_from[0] == 2 * HOUR_US


def test_at_most_max_entries_are_kept():
    history = _history(*[(Op.UPDATE, 100 + i, 1000 + 8 * i, str(i)) for i in range(10)], max_entries=4)
    assert [e[2]["balance"] for e in history["entries"]] == ["6", "7", "8", "9"]
    assert state_at(history, at_us=101).too_old


def test_a_redelivered_change_is_recorded_once():
    once = _history((Op.CREATE, 100, 1000, "0"), (Op.UPDATE, 200, 2000, "5"))
    again = _history((Op.CREATE, 100, 1000, "0"), (Op.UPDATE, 200, 2000, "5"), (Op.UPDATE, 200, 2000, "5"))
    assert once == again


def test_history_that_began_with_a_snapshot_read_does_not_reach_before_it():
    history = _history((Op.READ, 100, 1000, "3"))
    assert state_at(history, at_us=50).too_old


def test_exactly_one_of_time_and_lsn():
    with pytest.raises(ValueError):
        state_at(None, at_us=1, at_lsn=1)
