"""Dead letters: a record an agent cannot decode goes to <topic>.dlq with the reason, and the stream goes on."""

from __future__ import annotations

import time
from functools import lru_cache

from faust.types import EventT

from app import app
from topics import PARTITIONS

__all__ = ["dead_letter", "dead_letter_topic_name"]


def dead_letter_topic_name(source_topic: str) -> str:
    return f"{source_topic}.dlq"


_declared: set = set()


@lru_cache(maxsize=None)
def _dead_letter_topic(source_topic: str):
    return app.topic(dead_letter_topic_name(source_topic), partitions=PARTITIONS,
                     key_serializer="raw", value_serializer="raw", allow_empty=True,
                     internal=True)  # internal: the worker creates it, with the pipeline's partitions


async def dead_letter(event: EventT, error: Exception, *, agent: str) -> None:
    """Send the original bytes, untouched, with headers that say what went wrong and where."""
    message = event.message
    headers = [
        ("dlq.error.class", type(error).__name__.encode()),
        ("dlq.error.reason", str(error).encode("utf-8", "replace")[:4000]),
        ("dlq.source.topic", message.topic.encode()),
        ("dlq.source.partition", str(message.partition).encode()),
        ("dlq.source.offset", str(message.offset).encode()),
        ("dlq.agent", agent.encode()),
        ("dlq.timestamp_ms", str(int(time.time() * 1000)).encode()),
    ]
    topic = _dead_letter_topic(message.topic)
    if topic.get_topic_name() not in _declared:  # created on first use, with the pipeline's partitions
        await topic.maybe_declare()
        _declared.add(topic.get_topic_name())
    await topic.send(key=message.key, value=message.value, headers=headers)
