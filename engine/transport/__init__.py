"""Faust's Kafka transport, with the corrections the brokers we run on need."""
