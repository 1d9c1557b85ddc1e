"""The transactions job in Bytewax: per-account state in `stateful_map` (held in memory), alerts to a topic.

    python -m dev.bench.peers.bytewax_job --bootstrap HOST:PORT --input TOPIC --output TOPIC --progress FILE

Bytewax keeps operator state in memory and snapshots it only when recovery is configured (it is
not here): it does less for durability per record than ledgerstream's and Quix's changelog-backed
stores. Runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import time

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.dataflow import Dataflow
from bytewax.run import cli_main
from confluent_kafka import OFFSET_BEGINNING

from dev.bench.peers.job import TransactionsJob
from dev.bench.peers.status import Progress


def build(args) -> Dataflow:
    job = TransactionsJob()
    progress = Progress(args.progress)

    def fold(state, message):
        state = state if state is not None else {}
        out = job.process(message.key, message.value, state.get, state.__setitem__)
        progress.tick()
        now_ms = int(time.time() * 1000)
        return state, [KafkaSinkMessage(message.key, alert, timestamp=now_ms) for alert in out]

    flow = Dataflow("ledgerstream-peer")
    records = op.input("transactions", flow, KafkaSource([args.bootstrap], [args.input], tail=True,
                                                        starting_offset=OFFSET_BEGINNING))
    keyed = op.key_on("by-account", records, lambda m: m.key.decode())
    alerts = op.stateful_map("rules", keyed, fold)
    flat = op.flat_map("each-alert", alerts, lambda key_and_alerts: key_and_alerts[1])
    op.output("alerts", flat, KafkaSink([args.bootstrap], args.output))
    return flow


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.peers.bytewax_job")
    for name in ("--bootstrap", "--input", "--output", "--progress"):
        parser.add_argument(name, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    cli_main(build(args), workers_per_process=args.workers)


if __name__ == "__main__":
    main()
