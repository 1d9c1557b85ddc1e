"""A peer's progress, written to a small JSON file a few times a second for the benchmark to read."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

__all__ = ["Progress"]


class Progress:
    """Counts processed records; a daemon thread writes {count, first, last, ready, pid} to `path`."""

    def __init__(self, path: Path, ready: Optional[Callable[[], bool]] = None, interval: float = 0.2):
        self.path = Path(path)
        self.count = 0
        self.first: Optional[float] = None
        self.last: Optional[float] = None
        self.ready = ready or (lambda: True)
        self.interval = interval
        threading.Thread(target=self._run, name="bench-progress", daemon=True).start()

    def tick(self, n: int = 1) -> None:
        now = time.time()
        if self.first is None:
            self.first = now
        self.last = now
        self.count += n

    def write(self) -> None:
        try:
            ready = bool(self.ready())
        except Exception:  # the engine is still starting
            ready = False
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"count": self.count, "first": self.first, "last": self.last, "ready": ready,
                                   "pid": os.getpid()}))
        tmp.replace(self.path)

    def _run(self) -> None:
        while True:
            self.write()
            time.sleep(self.interval)
