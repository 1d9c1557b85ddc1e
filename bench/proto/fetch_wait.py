"""Prototype: ledgerstream's real worker, with its consumer's fetch wait at BENCH_FETCH_MAX_WAIT_MS (default 100).

    faust -A bench.proto.fetch_wait worker

Faust's aiokafka driver builds its consumer with a fixed `fetch_max_wait_ms=1500`
(faust/transport/drivers/aiokafka.py); nothing in settings changes it. This module changes only
that number, for consumers built with it, and is otherwise the product's app (`app.app`, with its
agents, tables and views).
"""

from __future__ import annotations

import functools
import os

import aiokafka

FETCH_MAX_WAIT_MS = int(os.environ.get("BENCH_FETCH_MAX_WAIT_MS", "100"))
_FAUST_DEFAULT = 1500
_init = aiokafka.AIOKafkaConsumer.__init__


@functools.wraps(_init)
def _init_with_wait(self, *args, **kwargs):
    if kwargs.get("fetch_max_wait_ms") == _FAUST_DEFAULT:
        kwargs["fetch_max_wait_ms"] = FETCH_MAX_WAIT_MS
    _init(self, *args, **kwargs)


aiokafka.AIOKafkaConsumer.__init__ = _init_with_wait

from app import app  # noqa: E402,F401  (the product's app, unchanged)
