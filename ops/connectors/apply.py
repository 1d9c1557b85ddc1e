"""Bring live connectors in line with their files: create or update, then wait for RUNNING."""

from __future__ import annotations

from typing import Callable, List

from .connect_client import ConnectClient
from .connector_files import ConnectorDefinition
from .diffing import diff_configs

__all__ = ["apply_connectors", "SETTLE_SECONDS", "UPDATE_SETTLE_SECONDS"]

#: After a change, RUNNING must hold this long before apply believes it: a task that cannot
#: start fails within it.
SETTLE_SECONDS = 3.0
#: After an update, longer: Connect answers the PUT at once but restarts the tasks with the new
#: config only after a rebalance (about 5 s on the local broker), and until then their status
#: still says RUNNING for the old config. Connect's REST API shows no generation to wait on.
UPDATE_SETTLE_SECONDS = 10.0


def apply_connectors(client: ConnectClient, definitions: List[ConnectorDefinition], *,
                     timeout: float = 90.0, dry_run: bool = False,
                     say: Callable[[str], None] = print) -> List[str]:
    """PUT each definition whose live config differs; return the names that changed (or would)."""
    changed = []
    for definition in definitions:
        diff = diff_configs(definition.name, definition.config, client.config(definition.name))
        if not diff.differs:
            say(f"{definition.name}: unchanged")
        else:
            changed.append(definition.name)
            verb = "updated" if diff.exists else "created"
            if dry_run:
                say(f"{definition.name}: would be {verb}")
            else:
                client.put_config(definition.name, definition.config)
                say(f"{definition.name}: {verb}")
            # An update shows what it changes; a creation lists its keys on a dry run only.
            for change in diff.changes if (diff.exists or dry_run) else []:
                say(f"  {change.render()}")
        if dry_run:
            continue
        # A connector someone paused or stopped stays so through an apply: say so, do not wait.
        settle = 0.0 if not diff.differs else UPDATE_SETTLE_SECONDS if diff.exists else SETTLE_SECONDS
        client.wait_running(definition.name, timeout=timeout, held=("PAUSED", "STOPPED"), settle=settle)
        say(f"{definition.name}: RUNNING")
    return changed
