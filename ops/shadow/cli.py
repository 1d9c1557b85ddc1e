"""`python -m ops.shadow`: how the catalogue's shadow rules (`mode: shadow`) differ from the live ones: per rule,
the alert ids only the shadow raised, only the live rule raised, and both, over a period.

It reads alerts.shadow and alerts.withdrawals without a consumer group; nothing is written.
Exit codes: 0 the report was made (whatever the differences); 2 it could not, with one sentence on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Optional, Sequence, TextIO

from detection.catalog import CatalogError, read_catalog
from ops.alert_diff import print_diffs
from ops.broker_calls import BrokerError
from ops.cli_args import UsageError, chosen_rules, option_time

from .report import ShadowReport, report_json, shadow_report

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.shadow",
        description="Compare the shadow rules' alerts (alerts.shadow) with the live ones (alerts.withdrawals) "
                    "per rule: only-shadow, only-live and both, by alert id, over a period of detection time.")
    parser.add_argument("--catalog", metavar="PATH", default=None,
                        help="the catalogue naming the shadow rules (default: RULE_CATALOG or detection/catalog.yaml)")
    parser.add_argument("--rule", metavar="ID", action="append", default=None, help="only this rule (repeatable)")
    parser.add_argument("--since", metavar="TIME", default=None,
                        help="from this time (ISO 8601); default: each shadow rule's first alert")
    parser.add_argument("--until", metavar="TIME", default=None, help="to this time, excluded (default: now)")
    parser.add_argument("--bootstrap", default=None, help="the broker (default: KAFKA_BOOTSTRAP)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object, every alert id")
    return parser


def main(argv: Optional[Sequence[str]] = None, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    from settings import SettingsError, load_settings

    try:
        settings = load_settings()
        catalog = read_catalog(args.catalog or settings.rule_catalog)
        rules = catalog.shadow_rules
        if not rules:
            raise UsageError(f"{catalog.source} has no shadow rules; mark a rule version `mode: shadow` to run it "
                             "beside the live one, or point --catalog at the catalogue that does.")
        rules = chosen_rules(rules, args.rule, what=f"{catalog.source} has no shadow rule")
        since, until = option_time(args.since, "--since"), option_time(args.until, "--until")
        if since is not None and until is not None and until <= since:
            raise UsageError("--until must be later than --since.")
        report = asyncio.run(shadow_report(args.bootstrap or settings.kafka_bootstrap, rules, since=since,
                                           until=until))
    except (UsageError, CatalogError, BrokerError, SettingsError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written, run it again.", file=err)
        return 2
    _print(report, out, as_json=args.json)
    return 0


def _print(report: ShadowReport, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report_json(report)), file=out)
        return
    print_diffs(report.rules.values(), "shadow", out)
    for rule, start in report.starts.items():
        print(f"{rule}: " + (f"compared from {start.isoformat()}" if start else
                             "no shadow alert yet; give --since to compare the live alerts from a time"), file=out)
