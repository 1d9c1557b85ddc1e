"""A dead letter's headers: written by the agents, read back by `list` and `replay`. Pure, no I/O."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "DLQ_SUFFIX", "HEADER_PREFIX", "REPLAYED_FROM", "Headers", "DeadLetter", "Position",
    "dead_letter_topic_name", "source_topic_name", "dead_letter_headers", "replay_headers", "parse_position",
    "fit_record", "RECORD_OVERHEAD", "protected_topic_reason", "foreign_source_reason", "printable",
]

DLQ_SUFFIX = ".dlq"
#: Every header the dead-lettering adds starts with this; a replay strips them all.
HEADER_PREFIX = "dlq."
ERROR_CLASS = "dlq.error.class"
REASON = "dlq.error.reason"
SOURCE_TOPIC = "dlq.source.topic"
SOURCE_PARTITION = "dlq.source.partition"
SOURCE_OFFSET = "dlq.source.offset"
AGENT = "dlq.agent"
TIMESTAMP_MS = "dlq.timestamp_ms"
#: Set when the record was too large to dead-letter whole: what was left out (value, key) and why.
OMITTED = "dlq.omitted"
#: On a replayed record: the dead letter it came from (`<topic>.dlq/<partition>@<offset>`).
REPLAYED_FROM = "replayed-from"

#: A reason is cut to this many bytes: an exception message can be arbitrarily long.
MAX_REASON_BYTES = 4000
#: What a record costs beyond its key, value and headers (batch and record framing), with room to spare.
RECORD_OVERHEAD = 1024

Headers = List[Tuple[str, bytes]]


def dead_letter_topic_name(source_topic: str) -> str:
    return f"{source_topic}{DLQ_SUFFIX}"


def source_topic_name(dlq_topic: str) -> str:
    return dlq_topic[: -len(DLQ_SUFFIX)] if dlq_topic.endswith(DLQ_SUFFIX) else dlq_topic


#: Topics a replay never writes to unless the operator names them: what the worker or Connect own.
_PROTECTED_SUFFIXES = {"-changelog": "a table's changelog", "-repartition": "a repartition topic",
                       DLQ_SUFFIX: "a dead-letter topic"}
_CONNECT_WORDS = ("connect-configs", "connect-offsets", "connect-status")
#: Derived events the worker writes (topics.py): a replayed record there would be a forged alert.
_DERIVED_TOPICS = ("alerts.withdrawals", "alerts.shadow", "accounts.balance-low")


def protected_topic_reason(topic: str, app_id: str = "ledgerstream") -> Optional[str]:
    """Why a replay must not write to `topic` by default (None when it may): changelogs, the app's internal
    topics, derived events (alerts), Kafka Connect's and the broker's own topics."""
    for suffix, what in _PROTECTED_SUFFIXES.items():
        if topic.endswith(suffix):
            return what
    if topic.startswith("_") or any(word in topic for word in _CONNECT_WORDS):
        return "an internal topic of Kafka Connect or the broker"
    if topic.startswith(f"{app_id}-"):
        return "an internal topic of the worker"
    if topic in _DERIVED_TOPICS:
        return "a topic of derived events (alerts)"
    return None


def foreign_source_reason(letter: "DeadLetter", target: str) -> Optional[str]:
    """Why a letter does not belong to `target` (None when it does): its headers name another source."""
    named = letter.header(SOURCE_TOPIC)
    if named is not None and named != target:
        return f"its headers name {named!r} as its source"
    return None


# C0 and C1 control characters (ESC, CSI, BEL, ...) and DEL: a terminal acts on them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every control character shown as `\\xNN`: safe to print on a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def dead_letter_headers(original: Optional[Sequence[Tuple[str, Optional[bytes]]]], error: BaseException, *,
                        topic: str, partition: int, offset: int, agent: str, now_ms: int) -> Headers:
    """The original record's own headers (a replay needs them), then what went wrong and where."""
    reason = str(error).encode("utf-8", "replace")[:MAX_REASON_BYTES]
    return [(name, value or b"") for name, value in (original or ()) if not name.startswith(HEADER_PREFIX)] + [
        (ERROR_CLASS, type(error).__name__.encode()),
        (REASON, reason),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(partition).encode()),
        (SOURCE_OFFSET, str(offset).encode()),
        (AGENT, agent.encode()),
        (TIMESTAMP_MS, str(now_ms).encode()),
    ]


def fit_record(key: Optional[bytes], value: Optional[bytes], headers: Headers,
               limit: int) -> Tuple[Optional[bytes], Optional[bytes], Headers]:
    """Leave out the value (then the key) of a record the producer would refuse as too large.

    A record the producer refuses would stop the agent; a dead letter that says what it had to leave
    out keeps the stream going and still tells where the original is (topic, partition, offset).
    """
    def size(k, v, h):
        return len(k or b"") + len(v or b"") + sum(len(n) + len(x or b"") for n, x in h) + RECORD_OVERHEAD

    if size(key, value, headers) <= limit:
        return key, value, headers
    omitted = [f"value ({len(value or b'')} bytes)"]
    if size(key, None, headers) > limit:
        key, omitted = None, omitted + [f"key ({len(key or b'')} bytes)"]
    note = f"{' and '.join(omitted)} left out: over the producer's limit of {limit} bytes per record"
    return key, None, headers + [(OMITTED, note.encode())]


def replay_headers(letter: "DeadLetter") -> Headers:
    """The original record's headers again, without the dead-letter ones, saying it is a replay."""
    kept = [(name, value) for name, value in letter.headers
            if not name.startswith(HEADER_PREFIX) and name != REPLAYED_FROM]
    return kept + [(REPLAYED_FROM, letter.position.encode())]


@dataclass(frozen=True)
class DeadLetter:
    """One record of a `<topic>.dlq` topic, with its headers read."""

    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: Headers

    @classmethod
    def from_record(cls, record: Any) -> "DeadLetter":
        return cls(record.topic, record.partition, record.offset, record.key, record.value,
                   [(name, value or b"") for name, value in (record.headers or ())])

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None

    @property
    def position(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"

    @property
    def source_topic(self) -> str:
        return self.header(SOURCE_TOPIC) or source_topic_name(self.topic)

    @property
    def source_partition(self) -> Optional[int]:
        return _int(self.header(SOURCE_PARTITION))

    @property
    def source_offset(self) -> Optional[int]:
        return _int(self.header(SOURCE_OFFSET))

    @property
    def source_position(self) -> str:
        partition = "?" if self.source_partition is None else self.source_partition
        offset = "?" if self.source_offset is None else self.source_offset
        return f"{self.source_topic}/{partition}@{offset}"

    @property
    def agent(self) -> str:
        return self.header(AGENT) or "?"

    @property
    def error_class(self) -> str:
        return self.header(ERROR_CLASS) or "?"

    @property
    def reason(self) -> str:
        return self.header(REASON) or ""

    @property
    def omitted(self) -> Optional[str]:
        """What the dead-lettering had to leave out of the record, if anything: it cannot be replayed."""
        return self.header(OMITTED)

    @property
    def dead_lettered_at(self) -> Optional[datetime]:
        ms = _int(self.header(TIMESTAMP_MS))
        return datetime.fromtimestamp(ms / 1000, timezone.utc) if ms is not None else None

    def line(self) -> str:
        """One line for a terminal: where it is, where it came from, who refused it and why."""
        reason = " ".join(self.reason.split())  # an exception message may span lines
        omitted = f" [{self.omitted}]" if self.omitted else ""
        # Headers are whatever the record's writer put there: no escape sequence reaches the terminal.
        return printable(f"{self.position}  from {self.source_position}  {self.agent}  {self.error_class}: "
                         f"{reason}{omitted}")

    def as_json(self) -> Dict[str, Any]:
        at = self.dead_lettered_at
        return {
            "dlq_topic": self.topic, "dlq_partition": self.partition, "dlq_offset": self.offset,
            "source_topic": self.source_topic, "source_partition": self.source_partition,
            "source_offset": self.source_offset, "agent": self.agent, "error_class": self.error_class,
            "reason": self.reason, "dead_lettered_at": at.isoformat() if at else None,
            "key": _text_or_base64(self.key), "value_bytes": None if self.value is None else len(self.value),
            "omitted": self.omitted,
        }


@dataclass(frozen=True)
class Position:
    """A dead letter chosen on the command line: `PARTITION@OFFSET`, or a bare `OFFSET`."""

    partition: Optional[int]
    offset: int

    def __str__(self) -> str:
        return str(self.offset) if self.partition is None else f"{self.partition}@{self.offset}"


_POSITION = re.compile(r"(?:(\d+)@)?(\d+)")


def parse_position(text: str) -> Position:
    match = _POSITION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an offset; write OFFSET or PARTITION@OFFSET, e.g. 17 or 2@17")
    partition, offset = match.groups()
    return Position(int(partition) if partition is not None else None, int(offset))


def _int(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _text_or_base64(raw: Optional[bytes]) -> Optional[str]:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode()
