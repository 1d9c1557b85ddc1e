"""`python -m ops.deadletters list|replay`: see the records the agents could not decode, and send them back.

Exit codes: 0 done; 1 replay left some letters out (their value was too large to keep); 2 failed,
with one sentence on stderr saying what to do (broker unreachable, unknown topic or offset).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import List, Optional, Sequence, TextIO

from .kafka import Broker, BrokerError, dlq_names, run
from .letters import (
    DLQ_SUFFIX,
    DeadLetter,
    Position,
    foreign_source_reason,
    parse_position,
    printable,
    protected_topic_reason,
    source_topic_name,
)

__all__ = ["main"]


class UsageError(Exception):
    """A command line that cannot be carried out; the message says what to do instead."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.deadletters",
        description="List the records the agents could not decode (<topic>.dlq), and replay them to their "
                    "source topic once the cause is fixed.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", default=None,
                        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP, else 127.0.0.1:9092)")
    common.add_argument("--timeout", type=float, default=30.0, help="seconds to wait on the broker (default 30)")
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", parents=[common],
                                  help="one line per dead letter: where it is, where it came from, "
                                       "the agent, the error and its reason")
    listing.add_argument("topics", nargs="*", metavar="TOPIC",
                         help="dead-letter topics (or their source topics); default: every *.dlq topic")
    listing.add_argument("--json", action="store_true", help="a JSON array instead of lines")
    listing.add_argument("--limit", type=_count, default=None, metavar="N",
                         help="show at most N dead letters per topic, oldest first")

    replay = commands.add_parser("replay", parents=[common],
                                 help="send dead letters back to their source topic and partition")
    replay.add_argument("topic", metavar="TOPIC.dlq", help="the dead-letter topic (or its source topic)")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--offset", dest="offsets", action="append", type=_position, metavar="[PARTITION@]OFFSET",
                       help="a dead letter by its position in TOPIC.dlq, as `list` shows it (repeatable)")
    which.add_argument("--all", action="store_true", help="every dead letter of TOPIC.dlq, oldest first")
    replay.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    replay.add_argument("--to", metavar="TOPIC", default=None,
                        help="send to this topic instead of TOPIC.dlq's own source topic (its name without .dlq); "
                             "letters whose headers name another source are then sent too")
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count; write a whole number of at least 1")
    return value


def _position(text: str) -> Position:
    try:
        return parse_position(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Optional[Sequence[str]] = None, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    # The client logs every refused connection; the one sentence below says it better.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        bootstrap = args.bootstrap or _default_bootstrap()
        if args.command == "list":
            return run(_list(bootstrap, args, out, err))
        return run(_replay(bootstrap, args, out, err))
    except (BrokerError, UsageError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130


def _default_bootstrap() -> str:
    from settings import load_settings

    try:
        return load_settings().kafka_bootstrap
    except ValueError as exc:  # a malformed setting in the environment
        raise UsageError(str(exc)) from None


async def _list(bootstrap: str, args, out: TextIO, err: TextIO) -> int:
    async with Broker(bootstrap, timeout=args.timeout) as broker:
        topics = dlq_names(args.topics) if args.topics else broker.dead_letter_topics()
        for topic in topics:
            if not broker.has_topic(topic):
                raise UsageError(_unknown_topic(topic, bootstrap))
        letters: List[DeadLetter] = []
        for topic in topics:
            letters.extend(await broker.read(topic, limit=args.limit))
    if args.json:
        print(json.dumps([letter.as_json() for letter in letters], indent=2), file=out)
    else:
        for letter in letters:
            print(letter.line(), file=out)
        where = ", ".join(topics) if topics else "no *.dlq topic on the broker"
        limited = f"; at most {args.limit} per topic (--limit)" if args.limit else ""
        print(printable(f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''} ({where}{limited})"), file=err)
    return 0


async def _replay(bootstrap: str, args, out: TextIO, err: TextIO) -> int:
    topic = dlq_names([args.topic])[0]
    target = _replay_target(topic, args.to)
    async with Broker(bootstrap, timeout=args.timeout) as broker:
        if not broker.has_topic(topic):
            raise UsageError(_unknown_topic(topic, bootstrap))
        letters = await broker.read(topic)
        chosen = letters if args.all else _choose(letters, args.offsets, topic)
        replayable = [letter for letter in chosen if not letter.omitted]
        if args.to is None:
            _refuse_foreign_letters(replayable, target)
        for letter in chosen:
            if letter.omitted:
                print(printable(f"skipped {letter.position}: {letter.omitted}; re-send the original from "
                                f"{letter.source_position} instead"), file=out)
        if replayable and not broker.has_topic(target):
            raise UsageError(f"The topic {target} to replay {topic} into is not on the broker at {bootstrap}; "
                             "create it (`make up` creates the pipeline's topics) first.")
        if args.dry_run:
            for letter in replayable:
                partition = broker.target_partition(letter, target)
                where = f"{target}/{partition}" if partition is not None else target
                print(printable(f"would replay {letter.position} to {where} ({letter.agent} refused it: "
                                f"{letter.error_class})"), file=out)
        else:
            for sent in await broker.send(replayable, target):
                print(f"replayed {sent.letter.position} to {sent.topic}/{sent.partition}@{sent.offset}", file=out)
    verb = "would replay" if args.dry_run else "replayed"
    skipped = len(chosen) - len(replayable)
    print(f"{verb} {len(replayable)} of {len(chosen)} dead letter{'s' if len(chosen) != 1 else ''} from {topic}"
          + (f"; {skipped} skipped" if skipped else ""), file=err)
    return 1 if skipped else 0


def _replay_target(dlq: str, named: Optional[str]) -> str:
    """Where a replay sends: the topic the operator named, else the DLQ's own source topic when that
    is no topic the worker or Kafka Connect own (a changelog, an internal topic, alerts, Connect's)."""
    if named:
        return named
    target = source_topic_name(dlq)
    reason = protected_topic_reason(target, _app_id())
    if reason:
        raise UsageError(f"{target} is {reason}, which a replay writes to only when named; "
                         f"add --to {target} if that is really meant.")
    return target


def _refuse_foreign_letters(letters: List[DeadLetter], target: str) -> None:
    """A letter whose headers name another source than the DLQ's own stops the replay: it may be forged."""
    for letter in letters:
        reason = foreign_source_reason(letter, target)
        if reason:
            raise UsageError(printable(f"The dead letter {letter.position} is refused: {reason}, not {target}; "
                                       f"nothing was sent (name a topic with --to to send it anyway)."))


def _app_id() -> str:
    from settings import load_settings

    try:
        return load_settings().app_id
    except ValueError as exc:  # a malformed setting in the environment
        raise UsageError(str(exc)) from None


def _choose(letters: List[DeadLetter], positions: List[Position], topic: str) -> List[DeadLetter]:
    chosen: List[DeadLetter] = []
    for position in positions:
        matches = [letter for letter in letters if letter.offset == position.offset
                   and (position.partition is None or letter.partition == position.partition)]
        if not matches:
            raise UsageError(f"{topic} has no dead letter at offset {position}; "
                             f"`python -m ops.deadletters list {topic}` shows them.")
        if len(matches) > 1:
            partitions = " and ".join(str(letter.partition) for letter in matches)
            raise UsageError(f"Offset {position.offset} is in partitions {partitions} of {topic}; write it as "
                             f"PARTITION@OFFSET, e.g. --offset {matches[0].partition}@{position.offset}.")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _unknown_topic(topic: str, bootstrap: str) -> str:
    hint = "" if topic.endswith(DLQ_SUFFIX) else f" (dead-letter topics end in {DLQ_SUFFIX})"
    return (f"There is no topic {topic} on the broker at {bootstrap}{hint}; `python -m ops.deadletters list` "
            "shows the dead-letter topics (a topic appears with its first dead letter).")
