"""`python -m ops.backtest`: run a rule catalogue (or some of its rules) over the history on the transactions
topic, apart from the workers, and report its alerts per rule against the live ones.

Nothing live is touched: no consumer group (so no offsets), no table, no topic written. The history is
the topic from its start to where it ended when the backtest began. Progress and the rate go to stderr.

Exit codes: 0 the backtest ran (whatever the differences); 2 it could not, with one sentence on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Optional, Sequence, TextIO

from detection.catalog import CatalogError, read_catalog
from detection.rulebook import rule_book
from ops.alert_diff import diffs_json, print_diffs
from ops.broker_calls import BrokerError
from ops.cli_args import UsageError, chosen_rules, option_time

from .run import Progress, Result, backtest

__all__ = ["main"]

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.backtest",
        description="Replay the transactions topic through a rule catalogue, in this process only, and compare "
                    "its alerts per rule with the live ones on alerts.withdrawals for the same transactions.")
    parser.add_argument("--catalog", metavar="PATH", default=None,
                        help="the catalogue to try (default: RULE_CATALOG, else detection/catalog.yaml)")
    parser.add_argument("--rule", metavar="ID", action="append", default=None,
                        help="only this rule of the catalogue (repeat for more)")
    parser.add_argument("--since", metavar="TIME", default=None,
                        help="only transactions created at or after TIME (ISO 8601, e.g. 2026-03-01T00:00Z); "
                             "rules start with empty state there")
    parser.add_argument("--bootstrap", default=None, help="the broker (default: KAFKA_BOOTSTRAP)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object, every alert id")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def main(argv: Optional[Sequence[str]] = None, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    from settings import SettingsError, load_settings

    try:
        settings = load_settings()
        catalog = read_catalog(args.catalog or settings.rule_catalog)
        catalog = replace(catalog, rules=chosen_rules(catalog.rules, args.rule, what=f"{catalog.source} has no rule"))
        book = rule_book(catalog, timedelta(seconds=settings.rule_lateness_seconds))
        since = option_time(args.since, "--since")
        progress = None if args.quiet else _progress_printer(err)
        result = asyncio.run(backtest(args.bootstrap or settings.kafka_bootstrap, book, since=since,
                                      progress=progress))
    except (UsageError, CatalogError, BrokerError, SettingsError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written, run it again to start over.", file=err)
        return 2
    _print(result, out, as_json=args.json)
    return 0


def _progress_printer(err: TextIO) -> Progress:
    last = [0.0]

    def show(done: int, total: int, seconds: float) -> None:
        # At most one line every two seconds, and the last one.
        if seconds - last[0] < 2.0 and done < total:
            return
        last[0] = seconds
        share = f"{100 * done / total:.0f}%" if total else "100%"
        rate = done / seconds if seconds > 0 else 0.0
        print(f"backtest: {share} ({done:,} of {total:,} records), {rate:,.0f} records/s", file=err, flush=True)

    return show


def _print(result: Result, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "records": result.records, "transactions": result.transactions, "undecodable": result.undecodable,
            "live_skipped": result.live_skipped, "seconds": round(result.seconds, 3),
            "records_per_second": round(result.rate, 1), "rules": diffs_json(result.rules.values(), "backtest"),
        }), file=out)
        return
    print_diffs(result.rules.values(), "backtest", out)
    skipped = f", {result.undecodable} undecodable skipped" if result.undecodable else ""
    print(f"replayed {result.transactions:,} transactions of {result.records:,} records{skipped} in "
          f"{result.seconds:.1f} s ({result.rate:,.0f} records/s)", file=out)
