"""Change data capture: decoding Debezium records, and managing the connectors that produce them."""
