"""`python -m ops.reconcile`: compare the read models with the ledger; exit 1 when they differ.

Exit codes: 0 the views agree with the ledger; 1 differences (each printed with its key and both
values); 2 could not reconcile, with one sentence on stderr saying what to do.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional, Sequence, TextIO

import psycopg

from .reconciler import Report, reconcile
from .views import ViewsClient, ViewsError

__all__ = ["main"]


class UsageError(Exception):
    """A command line that cannot be carried out; the message says what to do instead."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.reconcile",
        description="Compare every account's balance, status, currency and customer, every customer's overview "
                    "and every kept turnover day with the ledger (DATABASE_URL), through the views (WEB_URL, "
                    "WEB_TOKEN) asked to include the ledger's position. Prints each difference; exits 1 if any.")
    parser.add_argument("--accounts", metavar="IDS", default=None,
                        help="only these accounts (and their turnover days): ids and ranges, e.g. 3,10-20")
    parser.add_argument("--customers", metavar="IDS", default=None, help="only these customers, e.g. 1-50")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times a key that differs is read again before it counts (default 3)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return parser


def main(argv: Optional[Sequence[str]] = None, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    from settings import SettingsError, load_settings

    try:
        if not 1 <= args.rounds <= 10:
            raise UsageError("--rounds must be from 1 to 10.")
        accounts = _ids(args.accounts, "--accounts")
        customers = _ids(args.customers, "--customers")
        if accounts is not None and customers is None:
            customers = []  # the accounts named, not every customer
        if customers is not None and accounts is None:
            accounts = []
        settings = load_settings()
        views = ViewsClient(settings.web_url, token=settings.web_token)
        report = reconcile(settings.database_url, views, retention_days=settings.turnover_retention_days,
                           rounds=args.rounds, accounts=accounts, customers=customers)
    except (UsageError, ViewsError, SettingsError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except psycopg.OperationalError:
        # psycopg's message may quote the connection string (and its password).
        print("error: the ledger database is unreachable; check DATABASE_URL and that PostgreSQL runs.", file=err)
        return 2
    _print(report, out, as_json=args.json)
    return 1 if report.differences else 0


def _ids(text: Optional[str], option: str) -> Optional[List[int]]:
    """"3,10-20" as [3, 10, ..., 20]; None when not given."""
    if text is None:
        return None
    ids: List[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())) or (dash and int(high) < int(low)):
            raise UsageError(f"{option} takes ids and ranges like 3,10-20, not {part.strip()!r}.")
        if dash and int(high) - int(low) > 1_000_000:
            raise UsageError(f"{option}: the range {part.strip()} is over a million ids; name fewer.")
        ids.extend(range(int(low), int(high) + 1) if dash else [int(low)])
    return ids


def _print(report: Report, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"lsn": report.lsn, "checked": report.checked, "rounds": report.rounds,
                          "differences": [d.as_dict() for d in report.differences],
                          "unsettled": [f"{model} {key}" for model, key in report.unsettled]}, default=str), file=out)
        return
    for difference in report.differences:
        print(difference, file=out)
    checked = ", ".join(f"{count} {what.replace('_', ' ')}" for what, count in report.checked.items())
    print(f"reconciled at {report.lsn}: {checked}; {len(report.differences)} difference(s)"
          + (f", {len(report.unsettled)} key(s) still changing" if report.unsettled else "")
          + f" after {report.rounds} round(s)", file=out)
