"""Faust tables: the read models and rule state, changelog-backed and stored in RocksDB."""
