"""Where batch agents hook into Faust's consumer: each fetch, before Faust's per-message loop."""

from __future__ import annotations

from typing import Any, Optional, Set, Tuple

from faust.types import TP

__all__ = ["BatchingConsumerMixin"]


class BatchingConsumerMixin:
    """For a Faust Consumer: records of batch-agent topics leave each fetch as per-partition batches.

    Faust's fetch loop (`Consumer.getmany` and `_drain_messages`) takes every record through a
    message object, the conductor, a queue and a stream. Here the fetched records of topics with
    a batch agent are taken out first and handed over in one call per partition; the rest of the
    fetch goes on through Faust's loop unchanged. Due flushes run after every fetch, and a fetch
    returns at least once a second (getmany's timeout), so an idle partition is flushed too.
    """

    async def _wait_next_records(self, timeout: float) -> Tuple[Optional[Any], Optional[Set[TP]]]:
        records, active_partitions = await super()._wait_next_records(timeout)
        agents = self.app.batch_agents
        if not agents.topics:
            return records, active_partitions
        if records:
            batches = {tp: rs for tp, rs in records.items() if tp.topic in agents.topics and rs}
            if batches:
                records = {tp: rs for tp, rs in records.items() if tp not in batches}
                await agents.deliver(self, batches, self.app.consumer_generation_id)
        await agents.flush_due(self)
        return records, active_partitions

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        agents = self.app.batch_agents
        async with agents.lock:  # a running batch finishes first; none starts until this is done
            await agents.on_revoked(self, revoked)
            await super().on_partitions_revoked(revoked)

    async def on_stop(self) -> None:
        # Flush what is cached before Faust's last commit (Consumer.on_stop commits).
        try:
            await self.app.batch_agents.flush_due(self, force=True)
        except Exception as exc:
            self.log.warning("Could not flush batch agents' state on stop: %r", exc)
        await super().on_stop()
