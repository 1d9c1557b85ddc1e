"""Command line: `python -m dev.demo_ledger` opens customers, then posts paced traffic until told to stop."""

from __future__ import annotations

import argparse
import math
import random
import signal
import sys
import threading
import time
from typing import Optional, Sequence

import psycopg

from dev.demo_ledger.connection import connect, describe_error, missing_tables, redact
from dev.demo_ledger.generator import Generator
from dev.demo_ledger.traffic import Profile

__all__ = ["main", "build_parser"]

PROG = "python -m dev.demo_ledger"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        # One line, not argparse's usage block: say what is wrong and where help is.
        self.exit(2, f"ledger: error: {message}; see `{PROG} --help`.\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number greater than 0, got {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1, got {text!r}")
    return value


def _currencies(text: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in text.split(",") if c.strip())
    if not codes or not all(len(c) == 3 and c.isalpha() and c.isascii() for c in codes):
        raise argparse.ArgumentTypeError(f"expected comma-separated three-letter codes such as EUR,GBP, got {text!r}")
    return codes


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Demo core banking system: opens customers and accounts in the ledger database, then posts "
        "deposits and withdrawals (with occasional bursts of large withdrawals) at a steady rate.",
    )
    parser.add_argument("--customers", type=_positive_int, default=10,
                        help="customers to open first, 1-3 accounts each (default 10)")
    parser.add_argument("--rate", type=_positive_float, default=5.0, help="postings per second (default 5)")
    parser.add_argument("--count", type=_positive_int, default=None,
                        help="stop after this many postings (default: run until Ctrl-C or SIGTERM)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed, for reproducible traffic (default: random, printed)")
    parser.add_argument("--burst-probability", type=_probability, default=0.01,
                        help="chance per step of a burst of 3-6 large withdrawals (default 0.01)")
    parser.add_argument("--freeze-probability", type=_probability, default=0.0,
                        help="chance per step of freezing an account (default 0: never)")
    parser.add_argument("--currencies", type=_currencies, default=("EUR",),
                        help="currencies of new accounts, comma-separated (default EUR)")
    parser.add_argument("--progress-every", type=_positive_float, default=5.0, metavar="SECONDS",
                        help="seconds between progress lines (default 5)")
    parser.add_argument("--database-url", default=None,
                        help="the ledger database (default: $DATABASE_URL, else postgresql://postgres@127.0.0.1:5433/ledger)")
    return parser


def _say(line: str) -> None:
    print(f"ledger: {line}", flush=True)


def _fail(line: str) -> int:
    print(f"ledger: error: {line}", file=sys.stderr, flush=True)
    return 1


def _database_url(explicit: Optional[str]) -> str:
    if explicit:
        return explicit
    from settings import load_settings  # the project's settings; read only when no URL was given

    return load_settings().database_url


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.burst_probability + args.freeze_probability > 1:
        return _fail("--burst-probability plus --freeze-probability must not exceed 1; lower one of them.")
    try:
        url = _database_url(args.database_url)
    except ValueError as error:  # a malformed setting in the environment
        return _fail(str(error))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    profile = Profile(
        currencies=args.currencies,
        burst_probability=args.burst_probability,
        freeze_probability=args.freeze_probability,
    )

    # Signals only raise a flag, so a posting in flight always finishes or rolls back whole;
    # a second signal means "stop now" and interrupts whatever is running.
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    try:
        conn = connect(url)
    except psycopg.Error as error:
        return _fail(
            f"cannot connect to the ledger database at {redact(url)} ({describe_error(error)}); "
            "start PostgreSQL (e.g. `make up`) or point DATABASE_URL or --database-url at it."
        )
    started = time.monotonic()
    generator = Generator(conn, random.Random(seed), profile)
    try:
        with conn:
            missing = missing_tables(conn)
            if missing:
                return _fail(
                    f"the database at {redact(url)} has no {', '.join(missing)} table; "
                    "apply migrations/0001_ledger.sql to it first."
                )
            return _run(generator, args, seed, url, stop, started)
    except KeyboardInterrupt:
        _say(f"interrupted after {time.monotonic() - started:.1f}s: {generator.stats.line()} (seed {seed})")
        return 130
    except psycopg.OperationalError as error:
        _say(f"stopped after {time.monotonic() - started:.1f}s: {generator.stats.line()} (seed {seed})")
        return _fail(
            f"lost the ledger database at {redact(url)} ({describe_error(error)}); "
            "check that it is running and start again."
        )
    except psycopg.Error as error:
        _say(f"stopped after {time.monotonic() - started:.1f}s: {generator.stats.line()} (seed {seed})")
        return _fail(
            f"the ledger database refused a write ({describe_error(error)}); "
            "check that it is migrated with migrations/0001_ledger.sql."
        )


def _run(generator: Generator, args, seed: int, url: str, stop: threading.Event, started: float) -> int:
    for _ in range(args.customers):
        if stop.is_set():
            break
        generator.open_customer()
    stats = generator.stats
    if not stop.is_set():
        limit = f"stopping after {args.count} postings" if args.count else "Ctrl-C to stop"
        _say(
            f"opened {stats.customers} customers with {stats.accounts} accounts in {redact(url)}; "
            f"posting {args.rate:g}/s, {limit} (seed {seed})"
        )

    interval = 1.0 / args.rate
    next_due = time.monotonic()
    last_progress = next_due
    while not stop.is_set() and (args.count is None or stats.postings < args.count):
        # A burst's withdrawals go out back to back; the schedule below then waits longer,
        # so the average rate still holds.
        if not generator.in_burst:
            delay = next_due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
        generator.step()
        next_due += interval
        now = time.monotonic()
        # After a stall (a slow database) resume the pace instead of flooding to catch up.
        if next_due < now - 1.0:
            next_due = now
        if now - last_progress >= args.progress_every:
            _say(stats.line())
            last_progress = now

    _say(f"stopped after {time.monotonic() - started:.1f}s: {stats.line()}; "
         f"{stats.customers} customers, {stats.accounts} accounts (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
