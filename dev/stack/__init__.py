"""The local stack: broker, PostgreSQL and Kafka Connect with Debezium, as plain processes."""
