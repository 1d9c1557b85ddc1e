"""Create the pipeline's source topics up front, so workers can subscribe before the first change."""

from __future__ import annotations

import asyncio
from typing import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from topics import TopicSpec

__all__ = ["ensure_topics"]


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> None:
    asyncio.run(_ensure_topics(bootstrap, list(specs)))


async def _ensure_topics(bootstrap: str, specs) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1)
                   for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()
