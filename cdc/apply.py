"""Bring live connectors in line with their files: create or update, then wait for RUNNING."""

from __future__ import annotations

from typing import Callable, List

from .connect_client import ConnectClient
from .connector_files import ConnectorDefinition

__all__ = ["apply_connectors"]


def apply_connectors(client: ConnectClient, definitions: List[ConnectorDefinition], *,
                     timeout: float = 90.0, say: Callable[[str], None] = print) -> List[str]:
    """PUT each definition whose live config differs; return the names that changed."""
    changed = []
    for definition in definitions:
        live = client.config(definition.name)
        if live is not None:
            live = {k: v for k, v in live.items() if k != "name"}
        if live == definition.config:
            say(f"{definition.name}: unchanged")
        else:
            client.put_config(definition.name, definition.config)
            changed.append(definition.name)
            say(f"{definition.name}: {'created' if live is None else 'updated'}")
        client.wait_running(definition.name, timeout=timeout)
        say(f"{definition.name}: RUNNING")
    return changed
