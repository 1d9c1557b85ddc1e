"""Kafka Connect's connectors and their tasks, as the console shows them: read-only, with a timeout."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import aiohttp

__all__ = ["connectors_of", "connect_status", "CONNECT_TIMEOUT_SECONDS"]

#: The console polls every few seconds: a slow Connect must not hold its answer.
CONNECT_TIMEOUT_SECONDS = 3.0


def connectors_of(body: Any) -> List[Dict[str, Any]]:
    """Connectors and task states from the body of GET /connectors?expand=status (pure)."""
    if not isinstance(body, dict):
        raise ValueError("Kafka Connect's answer is not a JSON object")
    connectors = []
    for name, entry in sorted(body.items()):
        status = (entry or {}).get("status") or {}
        connectors.append({
            "name": name,
            "type": status.get("type"),
            "state": (status.get("connector") or {}).get("state", "UNKNOWN"),
            "worker_id": (status.get("connector") or {}).get("worker_id"),
            # The trace of a failed task is a Java stack: its first line says what went wrong.
            "tasks": [{"id": task.get("id"), "state": task.get("state", "UNKNOWN"), "worker_id": task.get("worker_id"),
                       "error": (task.get("trace") or "").split("\n", 1)[0][:300] or None}
                      for task in status.get("tasks") or []],
        })
    return connectors


async def connect_status(http_client: aiohttp.ClientSession, connect_url: str) -> Dict[str, Any]:
    """{"reachable": true, "connectors": [...]} or {"reachable": false, "error": why} (never raises).

    The error never names the URL: a CONNECT_URL may carry credentials.
    """
    timeout = aiohttp.ClientTimeout(total=CONNECT_TIMEOUT_SECONDS)
    try:
        async with http_client.get(f"{connect_url.rstrip('/')}/connectors", params={"expand": "status"},
                                   timeout=timeout) as response:
            if response.status != 200:
                return {"reachable": True, "error": f"Kafka Connect answered HTTP {response.status}"}
            return {"reachable": True, "connectors": connectors_of(await response.json(content_type=None))}
    except asyncio.TimeoutError:
        return {"reachable": False, "error": f"Kafka Connect did not answer within {CONNECT_TIMEOUT_SECONDS:.0f} s"}
    except aiohttp.ClientError as exc:
        return {"reachable": False, "error": f"Kafka Connect is unreachable ({type(exc).__name__})"}
    except ValueError as exc:
        return {"reachable": True, "error": f"Kafka Connect's answer was not understood: {exc}"}
