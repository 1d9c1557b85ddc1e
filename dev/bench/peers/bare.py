"""The Python ceiling: a bare aiokafka consume loop over every partition, no consumer group.

    python -m dev.bench.peers.bare --bootstrap HOST:PORT --input TOPIC --progress FILE [--logic --output TOPIC]

Without --logic it only decodes each record's key and value (orjson): what any Python consumer pays
before doing anything. With --logic it also runs the job (dev/bench/peers/job.py) on plain dicts, with
no durability of state, and produces the alerts: the cost of the job's own logic with no framework.
Runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import defaultdict

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from dev.bench.peers.status import Progress
from engine.faust_internals import refresh_metadata


async def run(args) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    producer = None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        partitions = consumer.partitions_for_topic(args.input)
        while not partitions:
            await refresh_metadata(consumer)
            partitions = consumer.partitions_for_topic(args.input)
        tps = [TopicPartition(args.input, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        progress = Progress(args.progress)
        if args.logic:
            from dev.bench.peers.job import TransactionsJob

            job = TransactionsJob()
            state = defaultdict(dict)
            producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks=-1)
            await producer.start()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            if batch and progress.first is None:
                progress.tick(0)  # the window starts before the first batch is worked on
            for messages in batch.values():
                for m in messages:
                    if args.logic:
                        account = state[m.key]
                        for alert in job.process(m.key, m.value, account.get, account.__setitem__):
                            await producer.send(args.output, key=m.key, value=alert)
                    else:
                        orjson.loads(m.key)
                        orjson.loads(m.value)
                progress.tick(len(messages))
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.peers.bare")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--progress", required=True)
    parser.add_argument("--logic", action="store_true")
    parser.add_argument("--output")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
