"""Local table state its changelogs may not hold: discarded after a crash, and restored from the changelogs.

A flush of the batch agents writes its rows to RocksDB at once, and to the changelogs through the producer,
which delivers them a moment later. A worker killed in between leaves local rows its changelogs never got.
Its next run would take them as applied: every effect is idempotent, so a replayed record that finds its
effect already in a row changes nothing and writes nothing, and the changelogs never get those rows. The
next recovery from the changelogs (local state lost, or the partition moved to another worker) then goes
back to rows older than the committed source offsets, and the difference is lost for good (turnover
counts and rule histories came out short in the crash and failover tests).

So a marker file in the data folder says "local writes the changelogs may not hold": it is created before
a flush writes rows, and removed once the producer has delivered everything sent up to then (the batch
agents flush the producer right after their writes). A worker that starts and finds the marker discards
its local tables, and Faust restores them from their changelogs: after a kill in that short window the
restart takes longer, never the wrong state. A clean stop delivers everything, so the next start keeps its
local state.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Optional

__all__ = ["StateGuard", "MARKER"]

log = logging.getLogger(__name__)

MARKER = "unconfirmed-table-writes"


class StateGuard:
    """The marker of one worker's data folder; `before_write` and `delivered` keep it, `discard_if_unclean` reads it."""

    def __init__(self, datadir: Path) -> None:
        self.marker = Path(datadir) / MARKER
        self._writes = 0                  # write-backs begun in this run
        self._marked: Optional[bool] = None

    def before_write(self) -> None:
        """A flush is about to write rows to the local tables."""
        self._writes += 1
        if not self._marked:
            self.marker.parent.mkdir(parents=True, exist_ok=True)
            self.marker.touch()
            self._marked = True

    @property
    def writes(self) -> int:
        """Write-backs begun so far: taken when a producer flush begins, given back to `delivered` after it."""
        return self._writes

    def delivered(self, writes_before: int) -> None:
        """The producer delivered everything sent before a flush that began after `writes_before` write-backs."""
        if self._marked and self._writes == writes_before:  # no write-back began during the flush
            self.marker.unlink(missing_ok=True)
            self._marked = False

    def discard_if_unclean(self, tabledir: Path) -> bool:
        """At start, before the tables open: discard the local tables if the last run left the marker."""
        if not self.marker.exists():
            self._marked = False
            return False
        log.warning("The last run stopped with table writes its changelogs may not hold (it was killed or crashed): "
                    "discarding the local tables in %s; they are restored from their changelogs", tabledir)
        shutil.rmtree(tabledir, ignore_errors=True)
        self.marker.unlink(missing_ok=True)
        self._marked = False
        return True
