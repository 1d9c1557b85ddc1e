"""The transactions job in Quix Streams: per-account state in its RocksDB store (changelog-backed), alerts to a topic.

    python -m dev.bench.peers.quix_job --bootstrap HOST:PORT --input TOPIC --output TOPIC --group G \\
        --state-dir DIR --progress FILE

Runs until SIGTERM. Each alert's record timestamp is set when it is produced (Quix would otherwise
carry the input record's timestamp over), as ledgerstream's producer does.
"""

from __future__ import annotations

import argparse
import logging
import time

from quixstreams import Application
from quixstreams.models import TopicConfig

from dev.bench.kafka import TOPIC_CONFIG
from dev.bench.peers.job import TransactionsJob
from dev.bench.peers.status import Progress

# The local broker holds a JoinGroup for half the rebalance timeout (librdkafka: max.poll.interval.ms).
TANSU_CONSUMER = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 6000}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.peers.quix_job")
    for name in ("--bootstrap", "--input", "--output", "--group", "--state-dir", "--progress"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)

    app = Application(broker_address=args.bootstrap, consumer_group=args.group, auto_offset_reset="earliest",
                      state_dir=args.state_dir, loglevel=logging.WARNING, consumer_extra_config=TANSU_CONSUMER)
    config = TopicConfig(num_partitions=4, replication_factor=1, extra_config=dict(TOPIC_CONFIG))
    source = app.topic(args.input, key_deserializer="bytes", value_deserializer="bytes", config=config)
    sink = app.topic(args.output, key_serializer="bytes", value_serializer="bytes", config=config)
    job = TransactionsJob()
    progress = Progress(args.progress, ready=lambda: bool(app._consumer.assignment()))

    def process(value, key, timestamp, headers, state):
        out = job.process(key, value, state.get, state.set)
        progress.tick()
        return out

    sdf = app.dataframe(source)
    sdf = sdf.apply(process, stateful=True, metadata=True, expand=True)
    sdf = sdf.set_timestamp(lambda value, key, timestamp, headers: int(time.time() * 1000))
    sdf.to_topic(sink)
    app.run()


if __name__ == "__main__":
    main()
