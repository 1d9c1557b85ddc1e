"""Wait for a condition with a deadline, never a bare sleep; fail with the last thing seen."""

from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")

__all__ = ["eventually"]


def eventually(probe: Callable[[], T], accept: Callable[[T], bool], *, timeout: float = 60.0,
               interval: float = 0.25, what: str = "condition") -> T:
    """Call `probe` until `accept` holds for its result; return that result."""
    deadline = time.monotonic() + timeout
    last: Optional[T] = None
    while True:
        last = probe()
        if accept(last):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout:.0f} s; last seen: {last!r}")
        time.sleep(interval)
