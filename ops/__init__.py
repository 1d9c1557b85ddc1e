"""Operator commands: connectors as code, dead letters, and the ledger's SQL migrations."""
