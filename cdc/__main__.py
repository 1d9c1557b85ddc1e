"""Command line for connectors as code: `python -m cdc apply [NAME...]`."""

from __future__ import annotations

import argparse
import sys

from settings import load_settings

from .apply import apply_connectors
from .connect_client import ConnectClient, ConnectError
from .connector_files import ConnectorFileError, load_connectors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdc", description="Manage Kafka Connect connectors as code.")
    parser.add_argument("--connect-url", default=None, help="Kafka Connect REST URL (default: CONNECT_URL)")
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply", help="create or update connectors from connectors/*.yaml")
    apply.add_argument("names", nargs="*", help="connector names (default: all files)")
    apply.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for RUNNING")
    args = parser.parse_args(argv)

    client = ConnectClient(args.connect_url or load_settings().connect_url)
    try:
        if args.command == "apply":
            apply_connectors(client, load_connectors(args.names), timeout=args.timeout)
    except (ConnectError, ConnectorFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
