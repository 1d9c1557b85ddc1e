"""Command line: `python -m schemas check` (exit 1 with one line per problem) and `python -m schemas lock`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import SCHEMAS_DIR
from .check import check_schemas, lock_schemas

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas", description="Check and publish the Avro schema files.")
    parser.add_argument("--dir", type=Path, default=SCHEMAS_DIR, help="the schemas folder (default: this package's)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="layout, house rules, evolution (BACKWARD payloads, FULL envelope), lock")
    commands.add_parser("lock", help="publish new schema files in fingerprints.lock (never rewrites a published one)")
    args = parser.parse_args(argv)

    if not args.dir.is_dir():
        print(f"error: {args.dir} is not a folder", file=sys.stderr)
        return 1
    if args.command == "check":
        problems = check_schemas(args.dir)
        for problem in problems:
            print(problem)
        if not problems:
            print(f"schemas: all checks passed ({args.dir})")
        return 1 if problems else 0
    added, problems = lock_schemas(args.dir)
    for problem in problems:
        print(problem)
    if problems:
        print("schemas: nothing locked; fix the problems above first", file=sys.stderr)
        return 1
    for path in added:
        print(f"locked {path}")
    if not added:
        print("schemas: every schema file is already locked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
