"""Command line of the local stack: `python -m dev.stack up|down|status|logs|migrate`."""

from __future__ import annotations

import argparse
import subprocess
import sys

import psycopg

from ops.connectors.connect_client import ConnectError
from ops.connectors.connector_files import ConnectorFileError
from ops.migrations.runner import MigrationError

from .layout import StackLayout
from .manager import down, status, up
from .processes import StackError

SERVICES = ("kafka", "postgres", "connect", "prometheus")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.stack", description="Run the local stack as plain processes.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the broker, PostgreSQL, Kafka Connect and Prometheus; migrate; "
                                   "apply connectors")
    down_cmd = commands.add_parser("down", help="stop everything the stack started")
    down_cmd.add_argument("--purge", action="store_true", help="also delete the state folder (.stack)")
    commands.add_parser("status", help="what runs where")
    logs = commands.add_parser("logs", help="show a service's log")
    logs.add_argument("service", nargs="?", choices=SERVICES, help="one service (default: all)")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true")
    commands.add_parser("migrate", help="apply the ledger migrations to DATABASE_URL")
    args = parser.parse_args(argv)

    try:
        layout = StackLayout.from_env()
        if args.command == "up":
            up(layout)
        elif args.command == "down":
            down(layout, purge=args.purge)
        elif args.command == "status":
            for row in status(layout):
                pid = f"pid {row.pid}" if row.pid else ""
                print(f"{row.name:<10} {row.state:<9} {pid:<11} {row.address}")
        elif args.command == "logs":
            return _logs(layout, args)
        elif args.command == "migrate":
            from ops.migrations.runner import apply_migrations

            print(", ".join(apply_migrations(layout.database_url)) or "up to date")
    except (StackError, ConnectError, ConnectorFileError, MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except psycopg.OperationalError:
        # psycopg's message may quote the connection string; say what to do without it.
        print("error: the ledger database is unreachable; check DATABASE_URL, or unset it to use the local one.",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run `make down` to stop what was started", file=sys.stderr)
        return 130
    return 0


def _logs(layout: StackLayout, args) -> int:
    files = [layout.log_file(s) for s in ([args.service] if args.service else SERVICES)]
    files = [str(f) for f in files if f.exists()]
    if not files:
        print("No logs yet; start the stack with `make up`.", file=sys.stderr)
        return 1
    command = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + files
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
