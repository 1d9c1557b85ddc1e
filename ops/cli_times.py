"""Times on the commands' command lines: ISO 8601, UTC unless the text says otherwise."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

__all__ = ["UsageError", "option_time"]


class UsageError(Exception):
    """A command line that cannot be carried out; the message says what to do instead."""


def option_time(text: Optional[str], option: str) -> Optional[datetime]:
    """The time `text` given to `option` (None when not given); UsageError with an example when it is not one."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} takes an ISO 8601 time like 2026-03-01T00:00Z, not {text!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
