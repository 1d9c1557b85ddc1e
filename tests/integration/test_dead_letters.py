"""Dead letters on the real stack: every decoding agent writes them, `python -m ops.deadletters` lists and replays."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Dict, List, Optional

import pytest
from aiokafka import AIOKafkaProducer

from dev.stack.kafka_topics import ensure_topics
from dev.stack.layout import REPO_ROOT
from ops.deadletters.letters import DeadLetter, dead_letter_headers, dead_letter_topic_name
from tests.support.kafka import read_topic
from tests.support.stack_fixtures import free_port
from tests.support.waiting import eventually
from topics import ACCOUNT_CHANGES, CUSTOMER_CHANGES, CUSTOMER_EVENTS, PARTITIONS, TRANSACTION_CHANGES, TopicSpec

pytestmark = pytest.mark.integration


def deadletters(env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.deadletters", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def send(bootstrap: str, topic: str, records: List[dict]) -> list:
    """Records as given (key, value, partition, headers); their RecordMetadata, in order."""

    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            return [await producer.send_and_wait(topic, **record) for record in records]
        finally:
            await producer.stop()

    return asyncio.run(run())


def letters_of(bootstrap: str, metadata) -> List[DeadLetter]:
    dlq = dead_letter_topic_name(metadata.topic)
    return eventually(
        lambda: [letter for letter in map(DeadLetter.from_record, read_topic(bootstrap, dlq))
                 if (letter.source_partition, letter.source_offset) == (metadata.partition, metadata.offset)],
        lambda found: found, timeout=90, what=f"the dead letter of {metadata.topic}/{metadata.partition}"
                                              f"@{metadata.offset}")


def assert_one_sentence(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.mark.parametrize("topic, agent", [
    (ACCOUNT_CHANGES.name, "project_account_balances"),
    (TRANSACTION_CHANGES.name, "fold_transactions"),
    (CUSTOMER_CHANGES.name, "project_customers"),
    (CUSTOMER_EVENTS.name, "handle_domain_events"),
])
def test_every_decoding_agent_dead_letters_what_it_cannot_decode(worker, stack_env, topic, agent):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    headers = [("id", str(uuid.uuid4()).encode()), ("eventType", b"CustomerOpened"), ("trace", b"\x00\xff")]
    (sent,) = send(bootstrap, topic, [{"key": b"7", "value": b"{not json", "partition": 1, "headers": headers}])

    (letter, *_) = letters_of(bootstrap, sent)

    assert letter.agent == agent
    assert letter.error_class == "DecodeError"
    assert "not valid JSON" in letter.reason
    assert (letter.source_topic, letter.key, letter.value) == (topic, b"7", b"{not json")
    assert letter.dead_lettered_at is not None
    # The record's own headers ride along (a replay needs them), the dead-letter ones after them.
    assert letter.headers[:3] == headers


def test_list_shows_a_worker_dead_letter_and_replay_sends_it_back_as_it_was(worker, stack_env):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    env = {**stack_env}  # the command reads KAFKA_BOOTSTRAP like every tool here
    event_id = str(uuid.uuid4()).encode()
    original_headers = [("id", event_id), ("eventType", b"CustomerOpened")]
    (sent,) = send(bootstrap, CUSTOMER_EVENTS.name, [
        {"key": b"31", "value": b'{"customer_id": 31', "partition": 2, "headers": original_headers}])
    (letter, *_) = letters_of(bootstrap, sent)
    dlq = dead_letter_topic_name(CUSTOMER_EVENTS.name)

    listed = deadletters(env, "list", CUSTOMER_EVENTS.name, "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = [e for e in json.loads(listed.stdout)
                if (e["dlq_partition"], e["dlq_offset"]) == (letter.partition, letter.offset)]
    assert entry == {**entry, "dlq_topic": dlq, "source_topic": CUSTOMER_EVENTS.name,
                     "source_partition": 2, "source_offset": sent.offset, "agent": "handle_domain_events",
                     "error_class": "DecodeError", "key": "31", "value_bytes": 18, "omitted": None}
    assert entry["reason"].startswith("domain event payload is not valid JSON")

    lines = deadletters(env, "list", dlq).stdout.splitlines()
    assert (f"{letter.position}  from {CUSTOMER_EVENTS.name}/2@{sent.offset}  handle_domain_events  "
            f"DecodeError: domain event payload is not valid JSON") in "\n".join(lines)

    position = f"{letter.partition}@{letter.offset}"
    dry = deadletters(env, "replay", dlq, "--offset", position, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == (f"would replay {letter.position} to {CUSTOMER_EVENTS.name}/2 "
                                  f"(handle_domain_events refused it: DecodeError)")
    assert not replays_of(bootstrap, letter)

    replayed = deadletters(env, "replay", dlq, "--offset", position)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.startswith(f"replayed {letter.position} to {CUSTOMER_EVENTS.name}/2@")
    (copy,) = replays_of(bootstrap, letter)
    assert (copy.partition, copy.key, copy.value) == (2, b"31", b'{"customer_id": 31')
    assert list(copy.headers) == [*original_headers, ("replayed-from", letter.position.encode())]
    # Still undecodable (nothing fixed it): the worker dead-letters the replay, which says what it is.
    (again, *_) = letters_of(bootstrap, copy)
    assert again.header("replayed-from") == letter.position
    assert again.header("id") == event_id.decode()


def replays_of(bootstrap: str, letter: DeadLetter):
    return [r for r in read_topic(bootstrap, letter.source_topic)
            if dict(r.headers or ()).get("replayed-from") == letter.position.encode()]


@pytest.fixture()
def private_topics(stack_env):
    """A source topic of 2 partitions and its dead-letter topic, for this test alone (no worker reads them)."""
    source = f"replay-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(stack_env["KAFKA_BOOTSTRAP"], [TopicSpec(source, partitions=2),
                                                 TopicSpec(dead_letter_topic_name(source), partitions=PARTITIONS)])
    return source


def write_letter(bootstrap: str, source: str, *, dlq_partition: int, source_partition: int, source_offset: int,
                 key: Optional[bytes], value: Optional[bytes], headers=(), omitted: Optional[str] = None):
    letter_headers = dead_letter_headers(list(headers), ValueError("bad"), topic=source, partition=source_partition,
                                         offset=source_offset, agent="some_agent", now_ms=0)
    if omitted:
        letter_headers.append(("dlq.omitted", omitted.encode()))
    return send(bootstrap, dead_letter_topic_name(source),
                [{"key": key, "value": value, "partition": dlq_partition, "headers": letter_headers}])[0]


def test_replay_all_sends_every_letter_to_its_source_partition_and_skips_those_without_a_value(
        stack_env, private_topics):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    source, dlq = private_topics, dead_letter_topic_name(private_topics)
    write_letter(bootstrap, source, dlq_partition=0, source_partition=1, source_offset=40, key=b"a", value=b"A",
                 headers=[("h", b"1")])
    write_letter(bootstrap, source, dlq_partition=3, source_partition=0, source_offset=41, key=None, value=b"B")
    write_letter(bootstrap, source, dlq_partition=0, source_partition=1, source_offset=42, key=b"c", value=None,
                 omitted="value (2000000 bytes) left out: over the producer's limit of 1000000 bytes per record")

    result = deadletters({**stack_env}, "replay", dlq, "--all", "--bootstrap", bootstrap)

    assert result.returncode == 1, result  # done, but one letter could not be replayed
    assert result.stdout.splitlines() == [
        f"skipped {dlq}/0@1: value (2000000 bytes) left out: over the producer's limit of 1000000 bytes per record; "
        f"re-send the original from {source}/1@42 instead",
        f"replayed {dlq}/0@0 to {source}/1@0",
        f"replayed {dlq}/3@0 to {source}/0@0",
    ]
    assert result.stderr.strip() == f"replayed 2 of 3 dead letters from {dlq}; 1 skipped"
    records = sorted(read_topic(bootstrap, source), key=lambda r: r.partition)
    assert [(r.partition, r.key, r.value, list(r.headers)) for r in records] == [
        (0, None, b"B", [("replayed-from", f"{dlq}/3@0".encode())]),
        (1, b"a", b"A", [("h", b"1"), ("replayed-from", f"{dlq}/0@0".encode())]),
    ]


def test_a_bare_offset_must_name_one_letter(stack_env, private_topics):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    source, dlq = private_topics, dead_letter_topic_name(private_topics)
    for partition in (0, 2):
        write_letter(bootstrap, source, dlq_partition=partition, source_partition=0, source_offset=partition,
                     key=b"k", value=b"v")

    ambiguous = deadletters({**stack_env}, "replay", dlq, "--offset", "0")
    assert_one_sentence(ambiguous, "Offset 0 is in partitions 0 and 2", "--offset 0@0")
    missing = deadletters({**stack_env}, "replay", dlq, "--offset", "1@5")
    assert_one_sentence(missing, f"{dlq} has no dead letter at offset 1@5", "deadletters list")
    assert read_topic(bootstrap, source) == []

    one = deadletters({**stack_env}, "replay", source, "--offset", "2@0")  # the source topic's name works too
    assert one.returncode == 0, one
    assert one.stdout.strip() == f"replayed {dlq}/2@0 to {source}/0@0"


def test_errors_are_one_sentence_and_a_non_zero_exit(stack_env):
    unknown = f"no-such-topic-{uuid.uuid4().hex[:8]}"
    assert_one_sentence(deadletters({**stack_env}, "list", unknown), f"no topic {unknown}.dlq", "deadletters list")
    assert_one_sentence(deadletters({**stack_env}, "replay", f"{unknown}.dlq", "--all"), f"no topic {unknown}.dlq")
    nowhere = f"127.0.0.1:{free_port()}"
    for args in (["list"], ["replay", "x.dlq", "--all"]):
        result = deadletters({**stack_env, "KAFKA_BOOTSTRAP": nowhere}, *args, "--timeout", "10")
        assert_one_sentence(result, f"Cannot reach the broker at {nowhere}", "KAFKA_BOOTSTRAP")


def test_a_malformed_internal_account_update_is_dead_lettered(start_test_worker, stack_env):
    """<app>-customer-account-updates is written by our own agents only; an update they got wrong
    is a dead letter, not a stopped agent."""
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    app_id = f"dl-{uuid.uuid4().hex[:8]}"
    start_test_worker(app_id=app_id)
    topic = f"{app_id}-customer-account-updates"

    (sent,) = send(bootstrap, topic, [{"key": b"5", "value": b'{"kind": "account", "customer_id": 5}',
                                       "partition": 0}])

    (letter, *_) = letters_of(bootstrap, sent)
    assert letter.agent == "fold_account_updates_into_customers"
    assert letter.reason == "malformed account update (KeyError: 'account_id')"


def test_a_forged_letter_aimed_at_a_changelog_is_refused_and_nothing_is_sent(stack_env, private_topics):
    """Bad-input catalogue II: a dead letter whose headers name a changelog as its source."""
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    source, dlq = private_topics, dead_letter_topic_name(private_topics)
    changelog = f"{source}-changelog"  # a private stand-in for a table's changelog
    ensure_topics(bootstrap, [TopicSpec(changelog, partitions=2),
                              TopicSpec(dead_letter_topic_name(changelog), partitions=PARTITIONS)])
    # In the source's own DLQ, a letter whose headers say it came from the changelog.
    forged = dead_letter_headers([], ValueError("bad"), topic=changelog, partition=1, offset=7, agent="x", now_ms=0)
    send(bootstrap, dlq, [{"key": b"42", "value": b'{"balance": "1000000.00"}', "partition": 0, "headers": forged}])
    send(bootstrap, dead_letter_topic_name(changelog), [{"key": b"42", "value": b"{}", "partition": 0,
                                                         "headers": forged}])

    refused = deadletters({**stack_env}, "replay", dlq, "--all")
    assert_one_sentence(refused, f"The dead letter {dlq}/0@0 is refused: its headers name '{changelog}' as its "
                                 f"source, not {source}", "nothing was sent")
    straight = deadletters({**stack_env}, "replay", dead_letter_topic_name(changelog), "--all")
    assert_one_sentence(straight, f"{changelog} is a table's changelog", f"--to {changelog}")
    assert read_topic(bootstrap, changelog) == [] and read_topic(bootstrap, source) == []

    named = deadletters({**stack_env}, "replay", dlq, "--all", "--to", source)  # the operator's explicit choice
    assert named.returncode == 0, named
    assert [(r.key, r.value) for r in read_topic(bootstrap, source)] == [(b"42", b'{"balance": "1000000.00"}')]
    assert read_topic(bootstrap, changelog) == []


def test_list_prints_no_control_characters_and_takes_a_limit(stack_env, private_topics):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    source, dlq = private_topics, dead_letter_topic_name(private_topics)
    for offset in range(3):
        write_letter(bootstrap, source, dlq_partition=0, source_partition=0, source_offset=offset, key=b"k",
                     value=b"v", headers=[("x", b"\x1b]0;title\x07")])
    evil = dead_letter_headers([], ValueError("\x1b[2J\x1b[31mcleared\r"), topic=source, partition=0, offset=9,
                               agent="agent\x1b[8m", now_ms=0)
    send(bootstrap, dlq, [{"key": b"k", "value": b"v", "partition": 1, "headers": evil}])

    shown = deadletters({**stack_env}, "list", dlq)
    assert shown.returncode == 0, shown
    assert len(shown.stdout.splitlines()) == 4
    assert "\x1b" not in shown.stdout + shown.stderr and "\r" not in shown.stdout
    assert "agent\\x1b[8m" in shown.stdout and "\\x1b[2J\\x1b[31mcleared" in shown.stdout

    limited = deadletters({**stack_env}, "list", dlq, "--limit", "2")
    assert limited.returncode == 0, limited
    assert len(limited.stdout.splitlines()) == 2
    assert "at most 2 per topic (--limit)" in limited.stderr
