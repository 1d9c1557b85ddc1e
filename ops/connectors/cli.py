"""Command line of connectors as code: `python -m ops.connectors COMMAND`, its options and its exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from settings import Settings

from . import commands
from .connect_client import ConnectClient, ConnectError
from .connector_files import CONNECTORS_DIR, ConnectorFileError
from .secrets import Scrubber

__all__ = ["main", "build_parser"]

EPILOG = """\
exit codes: 0 done, nothing to report; 1 found something (diff: a difference, validate: an
invalid config, status: a FAILED connector or task, refs: an unknown reference); 2 failed
(Connect unreachable or refusing, a file that does not parse, an unknown connector).
Secret values (keys like *password*, *secret*, *token*, sasl.jaas.config) are masked in every
output unless they are ${env:...} / ${file:...} references, which Kafka Connect resolves itself.
"""


def build_parser() -> argparse.ArgumentParser:
    # The common options are accepted before and after the command (`diff --connect-url ...`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--connect-url", default=argparse.SUPPRESS,
                        help="Kafka Connect REST URL (default: CONNECT_URL, else the local stack's)")
    common.add_argument("--connectors-dir", type=Path, default=argparse.SUPPRESS,
                        help="folder of connector files (default: connectors/ of this repository)")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS,
                        help="seconds to wait for a connector to reach its state (default 90)")

    parser = argparse.ArgumentParser(prog="python -m ops.connectors", parents=[common], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Kafka Connect connectors as code: connectors/<name>.yaml, one each.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, names: str = "*") -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        if names:
            what = "connector names (default: every file)" if names == "*" else "connector names"
            p.add_argument("names", nargs=names, metavar="NAME", help=what)
        return p

    command("apply", "create or update connectors from their files, then wait until RUNNING").add_argument(
        "--dry-run", action="store_true", help="print what would change; change nothing")
    command("diff", "files against the live configs, key by key (exit 1 on a difference)")
    command("validate", "ask Connect to validate each file's config; print each error with its field")
    command("refs", "list the files' ${env:...}/${file:...} references; check each is known here").add_argument(
        "--env-file", type=Path, action="append", default=[], metavar="FILE",
        help="a KEY=VALUE file whose variable names count as set (repeatable)")
    command("list", "every live connector and its state", names="")
    command("status", "connector and task states; the first trace line of what FAILED "
                      "(default: every live connector)")
    command("pause", "pause connectors and wait until PAUSED", names="+")
    command("resume", "resume paused or stopped connectors and wait until RUNNING", names="+")
    command("stop", "stop connectors (no tasks, config kept) and wait until STOPPED", names="+")
    command("restart", "restart connectors and their tasks and wait until RUNNING", names="+").add_argument(
        "--failed-only", action="store_true", help="restart only the connector or tasks that FAILED")
    command("delete", "delete connectors (their replication slots stay)", names="+")
    offsets = command("offsets", "show a connector's source offsets; --reset deletes them", names="")
    offsets.add_argument("name", metavar="NAME")
    offsets.add_argument("--reset", action="store_true", help="delete the offsets (the connector must be STOPPED)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    context: Optional[commands.Context] = None
    try:
        context = commands.Context(
            client=ConnectClient(_connect_url(args), retries=3),
            folder=getattr(args, "connectors_dir", CONNECTORS_DIR),
            timeout=getattr(args, "timeout", 90.0),
            out=lambda line: print(line, flush=True),
        )
        return _run(context, args)
    except (ConnectError, ConnectorFileError, commands.CommandError) as exc:
        return _fail(context, str(exc))
    except KeyboardInterrupt:
        return _fail(context, "interrupted; run the command again to finish", code=130)
    except Exception as exc:  # one sentence, never a traceback: say what broke and how to report it
        return _fail(context, f"unexpected {type(exc).__name__} ({exc}); "
                              "run the command again, and report it with this line if it repeats")


def _run(ctx: commands.Context, args: argparse.Namespace) -> int:
    name = args.command
    if name == "apply":
        return commands.apply(ctx, args.names, dry_run=args.dry_run)
    if name == "diff":
        return commands.diff(ctx, args.names)
    if name == "validate":
        return commands.validate(ctx, args.names)
    if name == "refs":
        return commands.refs(ctx, args.names, env_files=args.env_file)
    if name == "list":
        return commands.list_connectors(ctx)
    if name == "status":
        return commands.status(ctx, args.names)
    if name == "restart":
        return commands.restart(ctx, args.names, failed_only=args.failed_only)
    if name == "offsets":
        return commands.offsets(ctx, args.name, reset=args.reset)
    return getattr(commands, name)(ctx, args.names)  # pause, resume, stop, delete


def _connect_url(args: argparse.Namespace) -> str:
    # Read now, not from the process-wide cache: the command line is about this environment.
    return getattr(args, "connect_url", None) or Settings.from_env().connect_url


def _fail(context: Optional[commands.Context], message: str, code: int = commands.FAILED) -> int:
    scrub = context.scrub if context else Scrubber()
    # One line: Connect's messages may span several (a validation's list of errors).
    line = " ".join(scrub(message).split())
    print(f"error: {line}", file=sys.stderr, flush=True)
    return code
