"""A live feed's position in alerts.withdrawals: the next offset per partition, as an SSE event id.

Written `0@12,1@5,2@0,3@7` (partition@offset, every partition): a client that reconnects sends the
last one it saw as `Last-Event-ID`, and the feed reads on from exactly there. Pure, no I/O.
"""

from __future__ import annotations

from typing import Dict, Mapping

__all__ = ["Position", "format_position", "parse_position"]

#: partition -> the next offset to deliver.
Position = Dict[int, int]
#: More partitions than any topic of ours has: a longer id is not one we wrote.
_MAX_PARTITIONS = 1024


def format_position(position: Mapping[int, int]) -> str:
    return ",".join(f"{partition}@{offset}" for partition, offset in sorted(position.items()))


def parse_position(text: str) -> Position:
    """The position an id names; ValueError (saying what is wrong) when it is not one we wrote."""
    position: Position = {}
    parts = text.strip().split(",") if text.strip() else []
    if not parts or len(parts) > _MAX_PARTITIONS:
        raise ValueError("Last-Event-ID must be a feed position such as `0@12,1@5` (partition@offset, comma separated)")
    for part in parts:
        partition, at, offset = part.partition("@")
        if not at or not _is_count(partition) or not _is_count(offset) or int(partition) in position:
            raise ValueError(f"Last-Event-ID part {part[:40]!r} is not partition@offset; "
                             "send an id the feed gave, or none to start from now")
        position[int(partition)] = int(offset)
    return position


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 19
