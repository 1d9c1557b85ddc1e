"""Unit-tier fixtures: the app's agents in process (tests/support/agent_driver.py)."""

from __future__ import annotations

import pytest

from tests.support.agent_driver import AgentDriver
from tests.support.debezium_records import LedgerChanges


@pytest.fixture
def driver():
    """The app's agents and tables with empty tables, a memory store and no broker."""
    with AgentDriver.open() as agent_driver:
        yield agent_driver


@pytest.fixture
def changes():
    """Builds ledger change records, each with the next source position."""
    return LedgerChanges()
