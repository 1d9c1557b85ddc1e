"""Kafka Connect connectors as code: the connector files (*.yaml) beside the CLI that applies them.

`python -m ops.connectors COMMAND` (or `ledgerstream-connectors`): list, diff, apply, status, pause,
resume, restart, stop over the Kafka Connect REST API.
"""
