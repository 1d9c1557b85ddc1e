"""Domain events from the ledger's outbox: decoding, and handlers subscribed by type and version."""
