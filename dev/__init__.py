"""Developer tooling, never shipped in the image: the local stack, the demo ledger, the benchmark."""
