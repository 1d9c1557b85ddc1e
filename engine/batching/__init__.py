"""Batch agents: a topic's records handled a partition's batch at a time, table rows cached in between.

Faust hands every record to an agent one by one through queues, streams and acks (about 300 µs of
CPU each here, results/); a batch agent gets each fetched batch of a partition in one call and
reads and writes table rows through a write-back cache that is flushed to the tables (RocksDB and
changelog) every STATE_FLUSH_INTERVAL_MS, as Kafka Streams' record cache is flushed on commit.
Offsets are acknowledged only once the rows they produced are flushed, so a commit never gets
ahead of the tables. See batching/agents.py for the guarantees.
"""

from .agents import BatchAgents, PartitionBatch
from .state import CachedRows, PartitionState

__all__ = ["BatchAgents", "PartitionBatch", "PartitionState", "CachedRows"]
