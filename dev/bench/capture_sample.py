"""Capture real Debezium records of the ledger (transactions and accounts) as the benchmark's templates.

    python -m dev.bench.capture_sample [--out dev/bench/samples] \\
        [--kafka-port 43092 --postgres-port 43433 --connect-port 43083]

Brings up a whole local stack of its own (a temporary state folder, the ports above), posts a few
transactions with the demo ledger, reads `ledger.public.transactions` and `ledger.public.accounts`
from their start, writes one record of each kind (a transaction insert, an account insert, an
account update) with its key, value and headers exactly as they were on the topic, and takes the
stack down again. dev/bench/dataset.py builds every benchmark event in the shape of these records and
checks that shape against them, so the benchmark decodes what Debezium really writes here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

from dev.stack.layout import REPO_ROOT

__all__ = ["main", "SAMPLES_DIR"]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
_SERVICE_VARS = ("KAFKA_BOOTSTRAP", "DATABASE_URL", "CONNECT_URL", "WEB_URL")


def _stack(env: Dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "dev.stack", *args], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"capture: `python -m dev.stack {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")


def _pick(records: List, table: str) -> Dict[str, dict]:
    picked: Dict[str, dict] = {}
    for record in records:
        value = json.loads(record.value)
        name = f"{table}-{ {'c': 'insert', 'u': 'update'}.get(value['op'], value['op']) }"
        picked.setdefault(name, {
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "timestamp_type": record.timestamp_type,
            "key": record.key.decode(), "value": record.value.decode(),
            "headers": [[k, v.decode()] for k, v in record.headers],
        })
    return picked


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.capture_sample", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    parser.add_argument("--kafka-port", default="43092")
    parser.add_argument("--postgres-port", default="43433")
    parser.add_argument("--connect-port", default="43083")
    args = parser.parse_args(argv)

    from tests.support.kafka import read_topic

    with tempfile.TemporaryDirectory(prefix="ledgerstream-capture-") as root:
        env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARS}
        env.update(STACK_DIR=root, STACK_KAFKA_PORT=args.kafka_port, STACK_POSTGRES_PORT=args.postgres_port,
                   STACK_CONNECT_PORT=args.connect_port)
        try:
            _stack(env, "up")
            values = dict(line.split("=", 1) for line in (Path(root) / "env").read_text().splitlines() if "=" in line)
            env.update(values)
            subprocess.run([sys.executable, "-m", "dev.demo_ledger", "--customers", "3", "--rate", "20",
                            "--count", "40", "--seed", "7", "--burst-probability", "0.2"],
                           cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=120)
            picked: Dict[str, dict] = {}
            for table in ("transactions", "accounts"):
                for _attempt in range(60):
                    found = _pick(read_topic(env["KAFKA_BOOTSTRAP"], f"ledger.public.{table}"), table)
                    if len(found) >= (1 if table == "transactions" else 2):
                        break
                picked.update(found)
        finally:
            _stack(env, "down", "--purge")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("transactions-insert", "accounts-insert", "accounts-update"):
        if name not in picked:
            raise SystemExit(f"capture: no {name} record arrived; look at the stack's logs and try again.")
        (args.out / f"{name}.json").write_text(json.dumps(picked[name], indent=2) + "\n")
        print(f"wrote {args.out / f'{name}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
