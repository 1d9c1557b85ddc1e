"""Micro-benchmark: Debezium records decoded per second by cdc.decode.decode_change, per typing."""

# Contenders, each a fixed list of records decoded in a loop (repetitions interleaved, so that
# drift of the machine hits every contender alike):
# - "wire (worker)": the captured production samples (dev/bench/samples: schemaless envelopes,
#   decimal.handling.mode=string) decoded as the worker decodes them, without declared types;
# - "sql (samples, declared)": the same records with their tables' declared column types;
# - "connect (fixtures)": the recorded fixtures whose records carry a schema (tests/fixtures/debezium);
# - "sql (fixtures, declared)": every recorded fixture with the fixture table's declared types.
# Records that do not decode under a contender (the fixtures include some on purpose) are left out
# of its list once, before timing. Time is the process's CPU time: decoding is single-threaded, and
# CPU time is not stretched by other processes on a shared machine as wall time is.
#
#     python -m dev.bench.cdc_decode [--repeats 15] [--number 2000] [--json out.json]

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cdc.changes import DecodeError
from cdc.columns import ColumnTypes
from cdc.decode import decode_change

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "dev" / "bench" / "samples"
FIXTURES = ROOT / "tests" / "fixtures" / "debezium"
#: The ledger's tables as ops/migrations declares them (the columns the samples carry).
LEDGER_COLUMNS = {
    "public.accounts": {"id": "bigint", "customer_id": "bigint", "currency": "char(3)",
                        "balance": "numeric(18,2)", "status": "text", "opened_at": "timestamptz",
                        "updated_at": "timestamptz"},
    "public.transactions": {"id": "bigint", "account_id": "bigint", "kind": "text", "amount": "numeric(18,2)",
                            "created_at": "timestamptz"},
}
LEDGER_MODES = {"decimal.handling.mode": "string"}

Headers = list[tuple[str, bytes | None]]
Record = tuple[bytes | None, bytes | None, Headers]
Decoder = Callable[[Record], object]


def _raw(field: Mapping[str, str] | None) -> bytes | None:
    if field is None:
        return None
    return field["text"].encode() if "text" in field else base64.b64decode(field["base64"])


def samples() -> list[Record]:
    records: list[Record] = []
    for path in sorted(SAMPLES.glob("*.json")):
        document = json.loads(path.read_text())
        key, value = document["key"], document["value"]
        records.append((None if key is None else key.encode(), None if value is None else value.encode(), []))
    return records


def fixtures() -> list[tuple[dict[str, Any], Record]]:
    out = []
    for folder in sorted(FIXTURES.iterdir()):
        if not (folder / "setting.json").exists():
            continue
        setting = json.loads((folder / "setting.json").read_text())
        for path in sorted(folder.glob("[0-9]*.json")):
            document = json.loads(path.read_text())
            headers = [(name, _raw(value)) for name, value in document["headers"]]
            out.append((setting, (_raw(document["key"]), _raw(document["value"]), headers)))
    return out


def decodable(records: list[tuple[Record, Decoder]]) -> list[tuple[Record, Decoder]]:
    kept = []
    for record, decoder in records:
        try:
            decoder(record)
        except DecodeError:
            continue
        kept.append((record, decoder))
    return kept


def contenders() -> dict[str, list[tuple[Record, Decoder]]]:
    def plain(record: Record) -> object:
        return decode_change(*record)

    def declared_by(columns: ColumnTypes) -> Decoder:
        return lambda record: decode_change(*record, columns=columns)

    ledger = declared_by(ColumnTypes.for_connector(LEDGER_MODES, LEDGER_COLUMNS))
    recorded = fixtures()
    with_schema: list[tuple[Record, Decoder]] = [(record, plain) for setting, record in recorded
                   if setting["connector"].get("value.converter.schemas.enable") == "true"]
    declared = [(record, declared_by(ColumnTypes.for_connector(setting["connector"],
                                                               {setting["table"]: setting["columns"]})))
                for setting, record in recorded]
    wire: list[tuple[Record, Decoder]] = [(record, plain) for record in samples()]
    return {
        "wire (worker)": decodable(wire),
        "sql (samples, declared)": decodable([(record, ledger) for record in samples()]),
        "connect (fixtures)": decodable(with_schema),
        "sql (fixtures, declared)": decodable(declared),
    }


def records_per_second(records: list[tuple[Record, Decoder]], number: int) -> float:
    """Decode about `number` records: whole passes over the list, at least one."""
    passes = max(1, round(number / len(records)))
    start = time.process_time()
    for _ in range(passes):
        for record, decoder in records:
            decoder(record)
    return passes * len(records) / (time.process_time() - start)


def run(repeats: int, number: int) -> tuple[dict[str, float], dict[str, int]]:
    """Median records/s of each contender over `repeats` interleaved rounds of about `number` records."""
    lists = contenders()
    names = list(lists)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm-up
        records_per_second(lists[name], max(1, number // 10))
    for round_number in range(repeats):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            rates[name].append(records_per_second(lists[name], number))
    return {name: statistics.median(values) for name, values in rates.items()}, {n: len(v) for n, v in lists.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.cdc_decode", description=(__doc__ or "").strip())
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--number", type=int, default=2000,
                        help="records decoded per contender and round (default 2000)")
    parser.add_argument("--json", type=Path, help="also write the medians to this file")
    args = parser.parse_args(argv)
    medians, sizes = run(args.repeats, args.number)
    print(f"decode_change, median of {args.repeats} interleaved rounds x ~{args.number} records (CPU time)")
    for name, median in medians.items():
        print(f"  {name:<26} {sizes[name]:>4} records {median:>12,.0f} records/s")
    if args.json is not None:
        args.json.write_text(json.dumps({"medians": medians, "records": sizes}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
