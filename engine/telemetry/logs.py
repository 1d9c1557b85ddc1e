"""Worker logs: LOG_LEVEL everywhere, LOG_FORMAT=json (one JSON object per line), and record context.

Records logged while a batch agent handles a batch carry its agent, topic, partition and first
offset (`record_context`); a dead letter's log names its own offset. The configuration goes
through Faust's `logging_config` setting, which the worker hands to logging.config.dictConfig.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from contextvars import ContextVar
from typing import Any, Dict, Iterator, Optional, Tuple

__all__ = ["LOG_FORMATS", "record_context", "RecordContextFilter", "logging_config"]

LOG_FORMATS = ("text", "json")

_context: ContextVar[Optional[Tuple[str, str, int, int]]] = ContextVar("ledgerstream_record", default=None)


@contextlib.contextmanager
def record_context(agent: str, topic: str, partition: int, offset: int) -> Iterator[None]:
    """Log records within carry agent, topic, partition and offset (set once per batch)."""
    token = _context.set((agent, topic, partition, offset))
    try:
        yield
    finally:
        _context.reset(token)


class RecordContextFilter(logging.Filter):
    """Adds the current batch's agent, topic, partition and offset to a record that lacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _context.get()
        if current is not None:
            for name, value in zip(("agent", "topic", "partition", "offset"), current, strict=True):
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


def logging_config(level: str, log_format: str) -> Optional[Dict[str, Any]]:
    """A dictConfig for Faust's worker: None keeps Faust's own (colour text) logging."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT={log_format!r} is not one of {', '.join(LOG_FORMATS)}; set one of them.")
    if log_format == "text":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"record_context": {"()": RecordContextFilter}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",  # ISO 8601, UTC
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                # stdout: what the worker writes goes to one stream, line by line.
                "stream": sys.stdout,
                "formatter": "json",
                "filters": ["record_context"],
                "level": level.upper(),
            },
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
