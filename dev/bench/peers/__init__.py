"""The same job as ledgerstream's transactions agent, run by other engines (and by a bare loop) for comparison."""
