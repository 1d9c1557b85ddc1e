"""Change data capture, the worker's side: Debezium records decoded exactly into typed changes."""
