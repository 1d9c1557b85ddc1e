"""Shared test helpers: waiting on conditions with deadlines, HTTP, Kafka."""
