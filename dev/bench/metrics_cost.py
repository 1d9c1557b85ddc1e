"""The metrics' cost: events per CPU-second of the batch path with metrics on against off, in one run.

    python -m dev.bench.metrics_cost [--events 40000] [--rounds 5] [--batch 500]

A focused micro-benchmark of what metrics touch: the real `fold_transactions` batch agent (decode,
turnover, rules) fed the benchmark's Debezium records (bench/dataset.py) through BatchAgents'
`deliver`, batch by batch as the consumer hands them over, with the memory store and no broker. The
batches run with metrics on (engine/telemetry/metrics.py) and off (its NullMetrics, as
METRICS_ENABLED=false) back to back, each on a fresh cache, so drift of the machine's load hits
both alike; CPU time is summed per mode over all batches of a round.
Flushes are left out (they need the broker) and happen once per interval, not per event. Large
withdrawals are set out of reach so that no alert needs a producer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import defaultdict
from types import SimpleNamespace

#: The stand-in consumer's rebalance generation: the one every batch is fetched under.
GENERATION = 1


def _catalog_out_of_reach() -> str:
    """The shipped catalogue with every filter's min_amount out of reach, as a temporary file."""
    import tempfile

    import yaml

    from detection.catalog import DEFAULT_CATALOG

    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    for rule in catalog["rules"]:
        rule["filter"]["min_amount"] = "1000000000.00"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as out:
        yaml.safe_dump(catalog, out)
    return out.name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.metrics_cost")
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds over every batch, each batch on and off")
    parser.add_argument("--batch", type=int, default=500, help="records per batch (one partition's fetch)")
    args = parser.parse_args(argv)
    # Before the app is built: tables in memory, and the catalogue's rules run but no transaction is
    # large enough for one to alert.
    os.environ.update({"STORE_URL": "memory://", "RULE_CATALOG": _catalog_out_of_reach()})

    from faust.types import TP

    from agents.transactions import fold_transactions  # noqa: F401  (registers the batch agent)
    from app import app
    from engine import faust_internals as internals
    from engine.telemetry.metrics import Metrics, NullMetrics
    from topics import TRANSACTION_CHANGES

    from .dataset import build_dataset

    data = build_dataset(args.events, burst_probability=0.0)
    by_partition = defaultdict(list)
    for record in data.transactions:
        records = by_partition[record.partition]
        records.append(SimpleNamespace(key=record.key, value=record.value, partition=record.partition,
                                       offset=len(records), timestamp=0, headers=[]))
    batches = [(TP(TRANSACTION_CHANGES.name, p), records[i:i + args.batch])
               for p, records in sorted(by_partition.items()) for i in range(0, len(records), args.batch)]
    agents = app.batch_agents
    # A stand-in for Faust's consumer with what BatchAgents.deliver reads (faust_internals.BatchConsumer):
    # every partition assigned, no rebalance under way.
    partitions = {tp for tp, _ in batches}
    consumer = SimpleNamespace(_read_offset=defaultdict(lambda: None),
                               _get_active_partitions=lambda: partitions, flow_active=True,
                               _to_message=lambda tp, r: SimpleNamespace(topic=tp.topic, partition=tp.partition,
                                                                         offset=r.offset, key=r.key, value=r.value,
                                                                         headers=r.headers, timestamp=0),
                               app=SimpleNamespace(monitor=None, consumer_generation_id=GENERATION))

    modes = {"on": Metrics(), "off": NullMetrics()}

    async def deliver(mode: str, tp, records) -> float:
        """CPU seconds of one batch, on a fresh cache (every run of a batch does the same work)."""
        app.metrics = modes[mode]
        agents.discard_caches()
        # As if the consumer seeked to the batch's first offset, so none of it counts as delivered already.
        internals.set_read_offset(consumer, tp, records[0].offset)
        began = time.process_time()
        await agents.deliver(consumer, {tp: records}, GENERATION)
        return time.process_time() - began

    async def run():
        for tp, records in batches:  # warm-up: imports, caches, first allocations
            await deliver("on", tp, records)
            await deliver("off", tp, records)
        rates = {"on": [], "off": []}
        for round_ in range(args.rounds):
            # Each batch runs on and off back to back (the order alternating), so a change of the
            # machine's load between rounds hits both modes alike.
            cpu = {"on": 0.0, "off": 0.0}
            for i, (tp, records) in enumerate(batches):
                order = ("on", "off") if (i + round_) % 2 == 0 else ("off", "on")
                for mode in order:
                    cpu[mode] += await deliver(mode, tp, records)
            for mode in ("on", "off"):
                rates[mode].append(len(data.transactions) / cpu[mode])
            print(f"  round {round_ + 1}: on {rates['on'][-1]:,.0f}, off {rates['off'][-1]:,.0f} events/CPU-s, "
                  f"on/off {rates['on'][-1] / rates['off'][-1]:.4f}", flush=True)
        return rates

    rates = asyncio.run(run())
    hooks_s = _hooks_per_batch(Metrics(), args.batch)
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    print(f"events per round: {len(data.transactions)} in {len(batches)} batches of up to {args.batch}")
    for mode in ("on", "off"):
        print(f"metrics {mode:>3}: " + ", ".join(f"{r:,.0f}" for r in rates[mode]) + " events/CPU-s")
    ratios = sorted(a / b for a, b in zip(rates["on"], rates["off"], strict=True))
    print(f"median on/off: {on:,.0f} / {off:,.0f} = {on / off:.4f} (cost {100 * (1 - on / off):.2f}%); "
          f"per-round ratios {ratios[0]:.4f} .. {ratios[-1]:.4f}")
    # The hooks alone, timed without the agent around them: steadier than the difference above
    # on a busy machine. A batch's CPU is `batch / off` seconds.
    share = hooks_s / (args.batch / off)
    print(f"metric hooks alone: {hooks_s * 1e6:.0f} µs CPU per batch of {args.batch} "
          f"= {100 * share:.2f}% of the batch's CPU with metrics off")
    return 0


def _hooks_per_batch(metrics, batch: int, repeats: int = 2000) -> float:
    """CPU seconds of what a batch of `batch` changes costs the metrics: commit times collected,
    freshness observed, batch counters, dead-letter bookkeeping."""
    stamps = [time.time() * 1000 - 50 - i for i in range(batch)]
    topic = "ledger.public.transactions"
    began = time.process_time()
    for _ in range(repeats):
        collected = []
        for stamp in stamps:  # what decoded_changes does per change
            collected.append(stamp)
        before = metrics.dead_letters_of(topic, 1)
        started = time.perf_counter()
        metrics.changes_applied("public.transactions", topic, 1, collected, 123)
        metrics.batch_done("fold_transactions", topic, 1, batch,
                           batch - (metrics.dead_letters_of(topic, 1) - before), time.perf_counter() - started)
    return (time.process_time() - began) / repeats


if __name__ == "__main__":
    sys.exit(main())
