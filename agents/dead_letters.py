"""Dead letters: a record an agent cannot decode goes to <topic>.dlq with the reason, and the stream goes on."""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from faust.types import EventT, Message

from app import app
from engine.limits import Refusal
from ops.deadletters.letters import dead_letter_headers, dead_letter_topic_name, fit_record
from topics import PARTITIONS

__all__ = ["dead_letter", "dead_letter_message", "dead_letter_topic_name", "dead_letter_refused"]

log = logging.getLogger(__name__)

_declared: set = set()


@lru_cache(maxsize=None)
def _dead_letter_topic(source_topic: str):
    return app.topic(dead_letter_topic_name(source_topic), partitions=PARTITIONS,
                     key_serializer="raw", value_serializer="raw", allow_empty=True,
                     internal=True)  # internal: the worker creates it, with the pipeline's partitions


async def dead_letter(event: EventT, error: Exception, *, agent: str) -> None:
    """Send the event's record to its dead-letter topic (see dead_letter_message)."""
    await dead_letter_message(event.message, error, agent=agent)


async def dead_letter_message(message: Message, error: Exception, *, agent: str) -> None:
    """Send the original bytes, untouched, with headers that say what went wrong and where.

    The original headers are kept (a replay needs them, e.g. an outbox event's `id` and
    `eventType`). A record too large for the producer keeps its headers and loses its value
    (and key, if need be), with a `dlq.omitted` header saying so, rather than stopping the agent.
    """
    headers = dead_letter_headers(_header_pairs(message.headers), error, topic=message.topic,
                                  partition=message.partition, offset=message.offset, agent=agent,
                                  now_ms=int(time.time() * 1000))
    key, value, headers = fit_record(message.key, message.value, headers, app.conf.producer_max_request_size)
    await _send_dead_letter(message.topic, key, value, headers)
    app.metrics.dead_lettered(agent, message.topic, message.partition, message.offset, str(error))
    log.warning("Dead-lettered %s[%s]@%s to %s: %s", message.topic, message.partition, message.offset,
                dead_letter_topic_name(message.topic), error,
                extra={"agent": agent, "topic": message.topic, "partition": message.partition,
                       "offset": message.offset})


class RecordRefused(Exception):
    """A row or event over its size limit: not written, so that every other key keeps flowing."""


@app.batch_agents.refused.on_refused
async def dead_letter_refused(refusal: Refusal) -> None:
    """A refused row or event (engine/limits.py) goes to <its topic>.dlq: its key and the reason.

    The value is left out (it is what was too large); the key says which row or event failed.
    """
    headers = dead_letter_headers([], RecordRefused(refusal.reason), topic=refusal.topic,
                                  partition=-1 if refusal.partition is None else refusal.partition, offset=-1,
                                  agent="size-limit", now_ms=int(time.time() * 1000))
    key, _, headers = fit_record(refusal.key, None, headers, app.conf.producer_max_request_size)
    await _send_dead_letter(refusal.topic, key, None, headers)


async def _send_dead_letter(source_topic: str, key, value, headers) -> None:
    topic = _dead_letter_topic(source_topic)
    if topic.get_topic_name() not in _declared:  # created on first use, with the pipeline's partitions
        await topic.maybe_declare()
        _declared.add(topic.get_topic_name())
    await topic.send(key=key, value=value, headers=headers)


def _header_pairs(headers):
    if not headers:
        return []
    return list(headers.items()) if isinstance(headers, dict) else list(headers)
