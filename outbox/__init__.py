"""Domain events from the ledger's outbox: their types and versions, decoding, and the handler registry."""
