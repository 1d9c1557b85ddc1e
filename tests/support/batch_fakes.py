"""Stand-ins for the Faust consumer and table that the batch agents' unit tests share.

FakeConsumer has the fields of Faust's Consumer that BatchAgents reads and writes
(engine.faust_internals.BatchConsumer; tests/unit/test_faust_contract.py holds those to the real
class); FakeTable is a dict with a changelog topic that serializes rows as Faust's does (JSON).
"""

from __future__ import annotations

import json
from collections import defaultdict
from types import SimpleNamespace

from faust.streams import current_event

__all__ = ["FakeConsumer", "FakeTable"]


class FakeTable(dict):
    """A dict that counts reads and writes and notes the current event's partition on each."""

    def __init__(self, name: str = "turnover", **rows):
        super().__init__(**rows)
        self.name = name
        self.reads, self.writes = [], []
        # As Faust's changelog topic serializes rows (JSON key and value).
        self.changelog_topic = SimpleNamespace(
            prepare_key=lambda key, _: (json.dumps(key).encode(), None),
            prepare_value=lambda value, _: (json.dumps(value).encode(), None),
            get_topic_name=lambda: f"app-{name}-changelog")

    def get(self, key, default=None):
        self.reads.append((key, current_event().message.partition))
        return super().get(key, default)

    def __setitem__(self, key, value):
        self.writes.append((key, value, current_event().message.partition))
        super().__setitem__(key, value)


class FakeConsumer:
    """The fields of faust's Consumer that batch agents use, with the same defaults."""

    def __init__(self, app, active=()):
        self.app = app
        self.flow_active = True
        self._read_offset = defaultdict(lambda: None)
        self._committed_offset = defaultdict(lambda: None)
        self._acked = defaultdict(list)
        self._acked_index = defaultdict(set)
        self._n_acked = 0
        self._commit_every = None
        self.active = set(active)
        self.commits = 0

    def _get_active_partitions(self):
        return self.active

    def _to_message(self, tp, record):
        return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=record.offset, key=record.key,
                               value=record.value, headers=record.headers, tp=tp)

    async def commit(self):
        self.commits += 1
