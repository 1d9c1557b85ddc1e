"""Faust agents: thin loops that decode, call the pure logic, and write tables and topics."""
