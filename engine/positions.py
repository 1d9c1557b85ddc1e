"""How far each source partition is reflected in this worker's tables: a checkpoint per heartbeat.

A checkpoint is (heartbeat position, end offset of a topic partition captured after the heartbeat
was read). Once the partition's batch agent has handed every record before that end offset to its
agent (the rows are then in the batch agents' cache, which the views read through), the partition
has *reached* the heartbeat's position: every change to its keys committed before that WAL
position is visible. docs/consistency.md states the assumptions this rests on.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Iterable, List, Mapping, Optional, Tuple

from faust.types import TP

__all__ = ["Position", "SourcePositions", "MAX_PENDING"]

#: Checkpoints kept per partition while its consumer catches up; a newer one replaces the last.
MAX_PENDING = 64


@dataclass(frozen=True)
class Position:
    """A WAL position (LSN) and the database's time there (epoch milliseconds, None if unknown)."""

    lsn: int
    ts_ms: Optional[int]


class SourcePositions:
    """Per topic partition held here: the position reached, and checkpoints not reached yet."""

    def __init__(self, *, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self._pending: Dict[TP, Deque[Tuple[Position, int]]] = {}
        self._reached: Dict[TP, Position] = {}
        #: Positions relayed into a partition of a derived topic, per source partition (relay()).
        self._relayed: Dict[TP, Dict[int, Position]] = {}
        self._changed = asyncio.Event()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Requests waiting for a position: the heartbeat watch checkpoints every heartbeat then."""
        return self._waiting

    def checkpoint(self, position: Position, ends: Mapping[TP, int],
                   consumed: Callable[[TP], Optional[int]]) -> None:
        """A heartbeat at `position` was read, after which `ends` were the partitions' end offsets.

        `consumed(tp)` is the next offset the batch agents will read (every record before it is
        visible), None when the partition is not read here.
        """
        for tp, end in ends.items():
            offset = consumed(tp)
            if offset is None:
                continue
            queue = self._pending.setdefault(tp, deque())
            if len(queue) >= self.max_pending:
                # The newer checkpoint only asks for more: replacing the newest pending one delays
                # nothing that is due, and keeps memory bounded while a partition lags.
                queue.pop()
            queue.append((position, end))
            self._advance(tp, offset)
        self._wake()

    def consumed(self, tp: TP, offset: int) -> None:
        """The batch agents handed `tp`'s records before `offset` to its agent."""
        if tp in self._pending:
            self._advance(tp, offset)
            self._wake()

    def relay(self, tp: TP, source: int, position: Position, *, sources: int) -> None:
        """A partition of a derived topic (fed by `sources` partitions of a source topic) has folded a
        marker: source partition `source` had reached `position` when it sent it, and sent every record
        derived from the changes before it first. `tp` has reached the lowest position relayed from all."""
        relayed = self._relayed.setdefault(tp, {})
        known = relayed.get(source)
        if known is None or position.lsn > known.lsn:
            relayed[source] = position
        if len(relayed) >= sources:
            self._reached[tp] = min(relayed.values(), key=lambda p: p.lsn)
            self._wake()

    def reached_in(self, topic: str) -> Dict[int, Position]:
        """Partition -> position reached, for the partitions of `topic` held here."""
        return {tp.partition: position for tp, position in self._reached.items() if tp.topic == topic}

    async def next_change(self, timeout_s: float) -> None:
        """Return at the next change of any position, or after `timeout_s`."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=timeout_s)
        except asyncio.TimeoutError:
            pass

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions revoked: what they reached here says nothing about their next owner."""
        for tp in tps:
            self._pending.pop(tp, None)
            self._reached.pop(tp, None)
            self._relayed.pop(tp, None)
        self._wake()

    def reached(self, tp: TP) -> Optional[Position]:
        return self._reached.get(tp)

    def least_reached(self, tps: Iterable[TP]) -> Optional[Position]:
        """The position every one of `tps` has reached (the lowest), None if one has none."""
        reached: List[Position] = []
        for tp in tps:
            position = self._reached.get(tp)
            if position is None:
                return None
            reached.append(position)
        return min(reached, key=lambda p: p.lsn) if reached else None

    async def wait_for(self, tps: List[TP], lsn: int, timeout_s: float) -> Optional[Position]:
        """Wait until every one of `tps` reached `lsn` (returns the least position reached), or the timeout
        (returns None)."""
        deadline = time.monotonic() + timeout_s
        self._waiting += 1
        try:
            while True:
                least = self.least_reached(tps)
                if least is not None and least.lsn >= lsn:
                    return least
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                changed = self._changed
                try:
                    await asyncio.wait_for(changed.wait(), timeout=left)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._waiting -= 1

    def _advance(self, tp: TP, offset: int) -> None:
        queue = self._pending[tp]
        while queue and queue[0][1] <= offset:
            self._reached[tp] = queue.popleft()[0]

    def _wake(self) -> None:
        # A fresh event per change: waiters of the old one wake and re-check.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
