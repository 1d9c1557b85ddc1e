"""Output rate limiting per rule and account, as Esper's `output first every T`: the first alert, then none for T.

Time is event time (the alert's window_end), so a replay decides as the first run did. The state per
rule and account is the last alert let through: [its window_end, its id]. An alert passes when it is
that alert again (a redelivery sends its first verdict again), or when it ends at least T after it.
One ending before it that is not it (an earlier trigger replayed) is held back: it passed or not the
first time, and holding it back sends nothing new either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional, Sequence, Tuple

__all__ = ["first_every", "LastPassed"]

#: The last alert let through: its window_end (ISO text, as stored) and its id.
LastPassed = Optional[Sequence[str]]


def first_every(last: LastPassed, alert_id: str, at: datetime, every: Optional[timedelta]
                ) -> Tuple[bool, LastPassed]:
    """Whether the alert `alert_id` ending `at` goes out, and the state after it. `every` None: off."""
    if every is None:
        return True, last
    if last is not None:
        last_at, last_id = datetime.fromisoformat(last[0]), last[1]
        if alert_id == last_id:
            return True, last
        if at < last_at + every:
            return False, last
    return True, [at.isoformat(), alert_id]
