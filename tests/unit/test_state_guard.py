"""The marker of table writes the changelogs may not hold (engine/state_guard.py): kept while a write is not
delivered, and a start that finds it discards the local tables (Faust then restores them from the changelogs)."""

from __future__ import annotations

from engine.state_guard import MARKER, StateGuard


def test_the_marker_stands_from_a_write_until_a_producer_flush_that_began_after_it_ends(tmp_path):
    guard = StateGuard(tmp_path)
    guard.discard_if_unclean(tmp_path / "tables")
    assert not (tmp_path / MARKER).exists()
    guard.before_write()
    assert (tmp_path / MARKER).exists()
    began = guard.writes
    guard.delivered(began)
    assert not (tmp_path / MARKER).exists()


def test_a_write_during_the_flush_keeps_the_marker_until_a_later_flush(tmp_path):
    guard = StateGuard(tmp_path)
    guard.before_write()
    began = guard.writes
    guard.before_write()          # its records may have been put after the flush's drain
    guard.delivered(began)
    assert (tmp_path / MARKER).exists()
    guard.delivered(guard.writes)
    assert not (tmp_path / MARKER).exists()


def test_a_start_after_a_kill_discards_the_local_tables_and_a_clean_one_keeps_them(tmp_path):
    tables = tmp_path / "v1" / "tables"
    (tables / "balance_by_account-0.db").mkdir(parents=True)
    StateGuard(tmp_path).before_write()          # the run that was killed: no flush after its write
    assert StateGuard(tmp_path).discard_if_unclean(tables) is True
    assert not tables.exists() and not (tmp_path / MARKER).exists()

    (tables / "balance_by_account-0.db").mkdir(parents=True)
    clean = StateGuard(tmp_path)
    clean.before_write()
    clean.delivered(clean.writes)                # the run that stopped cleanly delivered everything
    assert StateGuard(tmp_path).discard_if_unclean(tables) is False
    assert (tables / "balance_by_account-0.db").exists()
