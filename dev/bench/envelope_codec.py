"""Micro-benchmark: envelope encode+decode per second, Avro single-object encoding against JSON (orjson)."""

# Both sides carry the same WithdrawalAlert in the same envelope and end with the same typed
# objects (Envelope metadata, WithdrawalAlertV1). The Avro side also checks the values against
# the schema on encode and finds the writer schema by fingerprint on decode; JSON has no schema.
# "json (dicts)" is orjson alone, without turning text back into UUIDs and datetimes.
# Repetitions are interleaved so that drift of the machine hits every contender alike.
#
#     python -m dev.bench.envelope_codec [--repeats 15] [--number 2000]

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a file (python dev/bench/envelope_codec.py): import from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson

from schemas.catalog import default_catalog
from schemas.codec.envelope import DecodedEvent, decode_envelope, encode_envelope, wrap
from schemas.records import Envelope, WithdrawalAlertV1

__all__ = ["main"]

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
ALERT = WithdrawalAlertV1(
    alert_id="rapid-large-withdrawals:124", rule="rapid-large-withdrawals", account_id=7, trigger_txn_id=124,
    count=3, total="750.00", window_start=T0 - timedelta(minutes=2), window_end=T0, txn_ids=[122, 123, 124],
    detected_at=T0,
)
#: The withdrawal that triggered the alert: the alert's cause, as in the pipeline.
CAUSE = Envelope(
    event_id=UUID("00000000-0000-4000-8000-000000000001"), event_type="MoneyWithdrawn", event_version=1,
    occurred_at=T0, recorded_at=T0, source="ledger.outbox", correlation_id="00000000-0000-4000-8000-000000000001",
    partition_key="7", payload=b"",
)
METADATA = dict(
    event_id=UUID("00000000-0000-4000-8000-000000000002"), event_type="WithdrawalAlert", event_version=1,
    occurred_at=T0, recorded_at=T0, source="ledgerstream.fraud", correlation_id=CAUSE.correlation_id,
    causation_id=CAUSE.event_id, partition_key="7",
)
_READERS = {"WithdrawalAlert": 1}


def avro_encode(alert: WithdrawalAlertV1) -> bytes:
    envelope = wrap(
        alert, "WithdrawalAlert", 1, source=METADATA["source"], partition_key=METADATA["partition_key"],
        caused_by=CAUSE, event_id=METADATA["event_id"], recorded_at=T0,
    )
    return encode_envelope(envelope)


def avro_round_trip(alert: WithdrawalAlertV1) -> DecodedEvent:
    return decode_envelope(avro_encode(alert), _READERS)


def json_encode(alert: WithdrawalAlertV1) -> bytes:
    # orjson writes dataclasses, UUIDs and aware datetimes natively.
    return orjson.dumps({**METADATA, "payload": alert})


def json_round_trip(alert: WithdrawalAlertV1) -> DecodedEvent:
    document = orjson.loads(json_encode(alert))
    payload = document.pop("payload")
    for name in ("window_start", "window_end", "detected_at"):
        payload[name] = datetime.fromisoformat(payload[name])
    envelope = Envelope(
        event_id=UUID(document["event_id"]), event_type=document["event_type"],
        event_version=document["event_version"], occurred_at=datetime.fromisoformat(document["occurred_at"]),
        recorded_at=datetime.fromisoformat(document["recorded_at"]), source=document["source"],
        correlation_id=document["correlation_id"],
        causation_id=None if document["causation_id"] is None else UUID(document["causation_id"]),
        partition_key=document["partition_key"], payload=b"",
    )
    return DecodedEvent(envelope, WithdrawalAlertV1(**payload))


def json_dicts_round_trip(alert: WithdrawalAlertV1) -> dict:
    return orjson.loads(json_encode(alert))


CONTENDERS = {
    "avro single-object": avro_round_trip,
    "json (typed)": json_round_trip,
    "json (dicts)": json_dicts_round_trip,
}


def _fields(record) -> dict:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def ops_per_second(round_trip, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        round_trip(ALERT)
    return number / (time.perf_counter() - start)


def run(repeats: int, number: int) -> dict:
    """Median ops/s of each contender over `repeats` interleaved rounds of `number` round trips."""
    names = list(CONTENDERS)
    samples = {name: [] for name in names}
    for name in names:  # warm-up: schema catalog, caches, allocator
        ops_per_second(CONTENDERS[name], max(1, number // 10))
    for round_number in range(repeats):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(ops_per_second(CONTENDERS[name], number))
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.envelope_codec", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--number", type=int, default=2000, help="round trips per round (default 2000)")
    args = parser.parse_args(argv)

    default_catalog()
    avro_event, json_event = avro_round_trip(ALERT), json_round_trip(ALERT)
    # Same objects out of both, or the comparison means nothing.
    assert avro_event.payload == json_event.payload == ALERT
    assert dataclass_equal_but_payload(avro_event.envelope, json_event.envelope)

    medians = run(args.repeats, args.number)
    print(f"envelope encode+decode, WithdrawalAlert v1, median of {args.repeats} interleaved rounds"
          f" x {args.number} round trips")
    print(f"  {'avro single-object':<20} {len(avro_encode(ALERT)):>4} bytes")
    print(f"  {'json':<20} {len(json_encode(ALERT)):>4} bytes")
    for name, median in medians.items():
        print(f"  {name:<20} {median:>10,.0f} ops/s")
    avro = medians["avro single-object"]
    print(f"  ratio avro / json (typed) = {avro / medians['json (typed)']:.2f}")
    print(f"  ratio avro / json (dicts) = {avro / medians['json (dicts)']:.2f}")
    return 0


def dataclass_equal_but_payload(a: Envelope, b: Envelope) -> bool:
    return {**_fields(a), "payload": None} == {**_fields(b), "payload": None}


if __name__ == "__main__":
    sys.exit(main())
