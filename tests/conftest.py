"""Fixtures shared by the test tiers: the real local stack and workers (tests/support)."""

pytest_plugins = ["tests.support.stack_fixtures"]
