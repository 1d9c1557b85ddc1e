"""Telemetry of a worker: Prometheus metrics, readiness, JSON logs with record context, trace context."""
