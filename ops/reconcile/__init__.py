"""Reconciliation: the read models compared with the ledger at a consistent point (`python -m ops.reconcile`)."""
