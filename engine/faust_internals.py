"""Every private faust-streaming, mode and aiokafka member the worker uses, named and typed in one place.

Pinned: faust-streaming 0.15.3, mode-streaming 0.7.1, aiokafka 0.14.0. tests/unit/test_faust_contract.py
checks each member below against those classes and names the one an upgrade renamed or removed.

Read and written (through the functions here, which are the only code that touches them):
- `faust.transport.consumer.Consumer`, the members in `BatchConsumer`: the read position per
  partition (`_read_offset`), the committed offsets (`_committed_offset`), the acknowledgement
  bookkeeping (`_acked`, `_acked_index`, `_n_acked`, `_commit_every`), the active partitions
  (`_get_active_partitions`) and the record-to-message conversion (`_to_message`).
- `faust.streams._current_event`: the context variable behind `faust.current_event()`, set around a
  partition's table access (Faust's stores and changelogs take the partition from it).
- `aiokafka.AIOKafkaConsumer._fetch_max_wait_ms`: written before the consumer starts, which is when
  it is read (Faust has no setting for it).
- `aiokafka.AIOKafkaConsumer._client`: its metadata refreshed on demand (test and bench helpers).
- `faust.sensors.Monitor.stream_inbound_time`: public, but written per batch instead of per record.
- `faust.assignor.copartitioned_assignor.CopartitionedAssignor._client_assignments` (the assignment a
  subclass rewrites) and the module global `faust.assignor.partition_assignor.CopartitionedAssignor`
  (swapped for our subclass during one assignment; engine/assignment.py).

- `faust.web.drivers.aiohttp.Web._runner`: the aiohttp runner Faust made, replaced before it starts
  by one whose connections answer parser errors as JSON (engine/web_errors.py).
- `faust.transport.producer.ProducerBuffer.pending._getters` (asyncio.Queue's waiting getters): read to
  know that the buffer's sending task is idle, not in the middle of handing a record to the client
  (engine/transport/kafka.py drains the buffer before every commit).

Overridden (engine/transport/kafka.py, engine/batching/consumer.py, engine/startup.py, engine/app.py):
`Consumer._wait_next_records`, `Consumer.on_partitions_revoked`, `Consumer.on_stop`,
`aiokafka Consumer._new_consumer_thread`, `AIOKafkaConsumerThread._create_worker_consumer`,
`AIOKafkaConsumerThread._highwaters`, `BootStrategy.server` (calling `BootStrategy._chain`),
`App._new_transport` and `PartitionAssignor._perform_assignment`; `OVERRIDES` lists them with the
parameters we rely on.

Bypassed for the records of batch-agent topics (engine/batching/): they leave the fetch before
`Consumer.getmany`, so Faust does none of its per-record work for them:
- lag tracking: `Monitor.track_tp_end_offset` (Faust's monitor shows no end offset or lag for them);
- sensors: `on_message_in`, `on_stream_event_in/out`, `on_message_out` (message and event counts,
  per-topic rates); /health's `batch_agents` progress counts them instead;
- `Consumer.track_message` (`_unacked_messages`) and `Consumer.ack` one message at a time: offsets
  are acknowledged in bulk at the flush, so `wait_empty` never waits for them;
- gap tracking (`Consumer._add_gap`): offsets skipped between two batches are acknowledged as done;
- the conductor, the topic's queue, stream and `Event` per record, and the scheduler's round robin
  over partitions (batches go in fetch order);
- the livelock check's `stream_inbound_time` is set per batch, not per record.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, List, MutableMapping, Optional, Protocol, Set, Tuple

if TYPE_CHECKING:
    from faust.types import TP, AppT, EventT, Message

__all__ = [
    "BatchConsumer", "Override", "OVERRIDES", "active_partitions", "read_offset", "set_read_offset",
    "to_message", "committed_offset", "acknowledge", "commit_if_due", "mark_stream_inbound",
    "current_event_of", "set_fetch_max_wait", "refresh_metadata", "set_web_runner", "copartitioned_clients",
    "copartitioned_assignor", "producer_buffer_idle",
]


class BatchConsumer(Protocol):
    """The members of Faust's `Consumer` that batch agents read and write (engine/batching/agents.py)."""

    app: AppT
    flow_active: bool
    #: The next offset to read per partition (None before the first record or seek).
    _read_offset: MutableMapping[TP, Optional[int]]
    #: The last committed offset per partition (None before the first commit).
    _committed_offset: MutableMapping[TP, Optional[int]]
    #: Acknowledged offsets per partition, in order and as a set; the commit takes the first run.
    _acked: MutableMapping[TP, List[int]]
    _acked_index: MutableMapping[TP, Set[int]]
    #: Acknowledgements since the last commit, and after how many to commit (broker_commit_every).
    _n_acked: int
    _commit_every: Optional[int]

    def _get_active_partitions(self) -> Set[TP]: ...

    def _to_message(self, tp: TP, record: Any) -> Message: ...

    async def commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool: ...


@dataclass(frozen=True)
class Override:
    """A private (or hook) method of a pinned class that a subclass of ours overrides or calls."""

    owner: str                   #: "module:Class"
    member: str
    parameters: Tuple[str, ...]  #: named parameters after self, as our code passes them
    called_only: bool = False    #: called by our subclass, not overridden


OVERRIDES: Tuple[Override, ...] = (
    Override("faust.transport.consumer:Consumer", "_wait_next_records", ("timeout",)),
    Override("faust.transport.consumer:Consumer", "on_partitions_revoked", ("revoked",)),
    Override("faust.transport.consumer:Consumer", "on_stop", ()),
    Override("faust.transport.drivers.aiokafka:Consumer", "_new_consumer_thread", ()),
    Override("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread", "_create_worker_consumer", ("transport",)),
    Override("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread", "_highwaters", ("partitions",)),
    Override("faust.app.base:BootStrategy", "server", ()),
    Override("faust.app.base:BootStrategy", "_chain", (), called_only=True),  # (*arguments)
    Override("faust.app.base:App", "_new_transport", ()),
    Override("faust.assignor.partition_assignor:PartitionAssignor", "_perform_assignment",
             ("cluster", "member_metadata")),
    Override("aiohttp.web_runner:AppRunner", "_make_server", ()),  # engine/web_errors.py
)


# --------------------------------------------------------------------------- the consumer (batch agents)


def active_partitions(consumer: BatchConsumer) -> Set[TP]:
    """The partitions the consumer reads now (assigned and not paused)."""
    return consumer._get_active_partitions()


def read_offset(consumer: BatchConsumer, tp: TP) -> Optional[int]:
    """The next offset to read from `tp`: set after each batch, and by Faust when it seeks."""
    return consumer._read_offset[tp]


def set_read_offset(consumer: BatchConsumer, tp: TP, offset: int) -> None:
    consumer._read_offset[tp] = offset


def to_message(consumer: BatchConsumer, tp: TP, record: Any) -> Message:
    """The Faust message of a fetched record, as Faust's fetch loop makes it."""
    return consumer._to_message(tp, record)


def committed_offset(consumer: BatchConsumer, tp: TP) -> Optional[int]:
    return consumer._committed_offset[tp]


def acknowledge(consumer: BatchConsumer, tp: TP, offsets: range) -> int:
    """Acknowledge `offsets` of `tp` in bulk, as `Consumer.ack` does one message at a time."""
    consumer._acked[tp].extend(offsets)
    consumer._acked_index[tp].update(offsets)
    consumer._n_acked += len(offsets)
    return len(offsets)


async def commit_if_due(consumer: BatchConsumer) -> bool:
    """Commit once `broker_commit_every` acknowledgements are waiting, as Faust's fetch loop does."""
    if consumer._commit_every is None or consumer._n_acked < consumer._commit_every:
        return False
    consumer._n_acked = 0
    await consumer.commit()
    return True


def mark_stream_inbound(app: AppT, tp: TP, now: float) -> None:
    """Tell Faust's livelock check (verify_event_path) that `tp`'s records are being taken."""
    monitor = getattr(app, "monitor", None)
    if monitor is not None and monitor.stream_inbound_time is not None:
        monitor.stream_inbound_time[tp] = now


# --------------------------------------------------------------------------- streams


@contextmanager
def current_event_of(event: EventT) -> Iterator[None]:
    """Make `event` Faust's current event (what `faust.current_event()` returns) within the block."""
    from faust.streams import _current_event  # here: importing this module must not import Faust

    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


# --------------------------------------------------------------------------- aiokafka


def set_fetch_max_wait(consumer: Any, wait_ms: int) -> None:
    """Set an AIOKafkaConsumer's fetch_max_wait_ms before it starts (it is read at start)."""
    consumer._fetch_max_wait_ms = wait_ms


async def refresh_metadata(consumer: Any) -> None:
    """Ask the broker for fresh metadata now (an AIOKafkaConsumer learns new partitions otherwise only
    every metadata_max_age_ms)."""
    await consumer._client.force_metadata_update()


# --------------------------------------------------------------------------- partition assignment


def copartitioned_clients(assignor: Any) -> MutableMapping[str, Any]:
    """The client assignments a `CopartitionedAssignor` works on (member id -> CopartitionedAssignment)."""
    return assignor._client_assignments


@contextmanager
def copartitioned_assignor(cls: type) -> Iterator[None]:
    """Make `PartitionAssignor._perform_assignment` build `cls` for each copartitioned group.

    Faust names the class as a module global of faust.assignor.partition_assignor, with no setting;
    swapping it for the length of one assignment is less code than a copy of that method. An
    assignment runs in one call on the leader, without awaiting, so nothing else sees the swap.
    """
    from faust.assignor import partition_assignor

    original = partition_assignor.CopartitionedAssignor
    partition_assignor.CopartitionedAssignor = cls  # type: ignore[misc]
    try:
        yield
    finally:
        partition_assignor.CopartitionedAssignor = original  # type: ignore[misc]
# --------------------------------------------------------------------------- the web server


def set_web_runner(web: Any, runner: Any) -> None:
    """Replace the aiohttp runner of Faust's web server (App.on_webserver_init: before it starts)."""
    assert hasattr(web, "_runner"), "Faust's aiohttp Web has no _runner any more"
    web._runner = runner


# --------------------------------------------------------------------------- the producer


def producer_buffer_idle(buffer: Any) -> bool:
    """Whether Faust's producer buffer has nothing left to hand to the client: none queued, and its sending
    task waiting for the next one (not in the middle of handing one over), or not running at all (a worker
    stopping before its producer started, e.g. while it waits for its broker)."""
    pending = buffer.pending
    return pending.qsize() == 0 and (bool(pending._getters) or buffer.state != "running")
