"""True end offsets for brokers whose ListOffsets undercounts (the local Tansu broker).

Tansu 0.6 answers ListOffsets(latest) with the base offset of the partition's last record batch
plus one, not the last offset plus one: after a batch of three records at offsets 0-2 it says 1.
Faust reads that "highwater" to recover tables from their changelogs; an undercount makes it stop
recovery early (losing the tail of a changelog) or refuse to start (ConsistencyError: persisted
offset above highwater). A fetch response carries the correct high watermark, so we read the
partition's last batch once and take the larger of the two. Apache Kafka needs none of this,
and the probe is off unless BROKER_END_OFFSETS_PROBE is set.

The probe never falls back to the listed undercount: a partition whose fetch does not answer in time
raises EndOffsetsUnknown. Recovering up to an undercount loses the changelog's last batch for good
(the source offsets committed after it are not replayed), which a busy machine once did silently;
a recovery that fails loudly is restarted instead.
"""

from __future__ import annotations

import asyncio
import time
from typing import Dict, Mapping, Optional

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

__all__ = ["EndOffsetsUnknown", "true_end_offsets"]


class EndOffsetsUnknown(RuntimeError):
    """No fetch answered for some partitions in time: their true end offsets are not known."""


async def true_end_offsets(bootstrap_servers, listed: Mapping[TopicPartition, Optional[int]], *,
                           timeout: float = 30.0) -> Dict[TopicPartition, Optional[int]]:
    """`listed` corrected by the high watermark of a fetch at each partition's last batch.

    Raises EndOffsetsUnknown when a partition to probe has no answer within `timeout` seconds.
    """
    ends = {tp: end for tp, end in listed.items() if end}  # an empty partition needs no probe
    probe_tps = list(ends)
    if not probe_tps:
        return dict(listed)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False,
                             isolation_level="read_uncommitted")
    await probe.start()
    try:
        probe.assign(probe_tps)
        for tp in probe_tps:
            probe.seek(tp, ends[tp] - 1)
        seen: Dict[TopicPartition, int] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < len(probe_tps) and time.monotonic() < deadline:
            await probe.getmany(*[tp for tp in probe_tps if tp not in seen], timeout_ms=200, max_records=1)
            for tp in probe_tps:
                highwater = probe.highwater(tp)
                if highwater is not None:
                    seen[tp] = highwater
    finally:
        await asyncio.shield(probe.stop())
    missing = sorted(f"{tp.topic}[{tp.partition}]" for tp in probe_tps if tp not in seen)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise EndOffsetsUnknown(f"no fetch answered within {timeout:.0f} s for {shown}: "
                                "their end offsets are unknown (is the broker overloaded or unreachable?)")
    return {tp: max(end, seen[tp]) if end else end for tp, end in listed.items()}
