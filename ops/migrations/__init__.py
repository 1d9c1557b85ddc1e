"""The ledger's SQL migrations and the runner that applies them once each, in order."""
