"""Bad input, each with its defined outcome, on the real stack.

A bad record on a CDC or outbox topic is dead-lettered with its reason, and a valid change after it
on the same partition is still applied. Records go in raw with aiokafka, as a misbehaving producer
would write them; the valid changes after them come from SQL through Debezium.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional, Tuple
from urllib.parse import quote, urlparse

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from agents.publishing import SOURCE
from dev.stack.kafka_topics import ensure_topics
from ops.deadletters.letters import DeadLetter, dead_letter_topic_name
from schemas.codec.envelope import encode_envelope, wrap
from schemas.records import BalanceLowV1
from tests.support.alert_records import alert_record
from tests.support.http import get_json
from tests.support.kafka import read_topic
from tests.support.ledger_sql import open_account, open_customer, post
from tests.support.waiting import eventually
from topics import (
    ACCOUNT_CHANGES,
    CUSTOMER_CHANGES,
    CUSTOMER_EVENTS,
    PARTITIONS,
    TRANSACTION_CHANGES,
    WITHDRAWAL_ALERTS,
)

pytestmark = pytest.mark.integration

#: The broker's and producers' default limit per record (message.max.bytes, max.request.size).
ONE_MB = 1024 * 1024


# --------------------------------------------------------------------------- helpers


def send_raw(bootstrap: str, topic: str, *, key: Optional[bytes], value: Optional[bytes], partition: int,
             headers=None, timestamp_ms: Optional[int] = None, max_request_size: int = ONE_MB):
    """One record, exactly as given, to one partition; its RecordMetadata."""

    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=max_request_size, acks="all")
        await producer.start()
        try:
            return await producer.send_and_wait(topic, key=key, value=value, partition=partition,
                                                headers=headers, timestamp_ms=timestamp_ms)
        finally:
            await producer.stop()

    return asyncio.run(run())


def partition_of(key: bytes) -> int:
    """The partition Debezium's (Kafka's default) partitioner gives a key."""
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def latest_change(bootstrap: str, topic: str, key: bytes) -> dict:
    """The newest change Debezium wrote for a key: a real envelope to spoil."""
    records = eventually(lambda: [r for r in read_topic(bootstrap, topic) if r.key == key and r.value],
                         lambda found: found, what=f"a change for key {key!r} on {topic}")
    return json.loads(records[-1].value)


def dead_letters_of(bootstrap: str, metadata) -> List[DeadLetter]:
    """The dead letters of one source record (every worker of the stack that read it wrote one)."""
    dlq = dead_letter_topic_name(metadata.topic)

    def probe():
        return [letter for letter in map(DeadLetter.from_record, read_topic(bootstrap, dlq))
                if letter.source_partition == metadata.partition and letter.source_offset == metadata.offset]

    return eventually(probe, lambda found: found, timeout=90, what=f"a dead letter of {metadata.topic}"
                      f"/{metadata.partition}@{metadata.offset}")


def account_view(worker, account_id: int) -> Tuple[int, dict]:
    return get_json(f"{worker.url}/accounts/{account_id}")


def wait_for_balance(worker, account_id: int, balance: str, what: str) -> None:
    eventually(lambda: account_view(worker, account_id), lambda r: r[0] == 200 and r[1].get("balance") == balance,
               timeout=90, what=what)


# --------------------------------------------------------------------------- CDC topics: accounts


def _with_after(**changes) -> Callable[[bytes, dict], Tuple[Optional[bytes], bytes]]:
    def spoil(key, envelope):
        envelope = json.loads(json.dumps(envelope))
        envelope["after"].update(changes)
        return key, json.dumps(envelope).encode()

    return spoil


def _truncated(key, envelope):
    raw = json.dumps(envelope).encode()
    return key, raw[: len(raw) // 2]


def _unknown_op(key, envelope):
    return key, json.dumps({**envelope, "op": "x"}).encode()


def _null_key(key, envelope):
    return None, json.dumps(envelope).encode()


def _not_utf8(key, envelope):
    # Latin-1 bytes where UTF-8 is due: what a misconfigured producer writes.
    return key, json.dumps({**envelope, "after": {**envelope["after"], "currency": "EUR"}}).encode().replace(
        b'"EUR"', '"€UR"'.encode("cp1252"))


def _decimal_without_scale(key, envelope):
    """A schema-enabled envelope (schemas.enable=true) whose balance is a Connect Decimal without its
    `scale` parameter: the unscaled bytes mean nothing without it."""
    after = dict(envelope["after"])
    after["balance"] = "BNI="  # unscaled 1234: 12.34 at scale 2, 1.234 at scale 3 ...
    types = {bool: "boolean", int: "int64", str: "string"}
    fields = [{"type": types.get(type(v), "string"), "optional": k != "id", "field": k} for k, v in after.items()]
    for field in fields:
        if field["field"] == "balance":
            field.update(type="bytes", name="org.apache.kafka.connect.data.Decimal", version=1)
    row = {"type": "struct", "optional": True, "name": "ledger.public.accounts.Value", "fields": fields}
    schema = {"type": "struct", "optional": False, "name": "ledger.public.accounts.Envelope", "fields": [
        {**row, "field": "before"}, {**row, "field": "after"},
        {"type": "struct", "optional": False, "field": "source", "fields": []},
        {"type": "string", "optional": False, "field": "op"},
    ]}
    payload = {"before": None, "after": after, "source": envelope["source"], "op": envelope["op"]}
    return key, json.dumps({"schema": schema, "payload": payload}).encode()


def _over_one_megabyte(key, envelope):
    # Not a change at all, and too large for the dead-letter producer to carry whole.
    return key, b'{"op": "c", "after": {"note": "' + b"x" * (ONE_MB + 100_000)


def _keyed_by_another_account(key, envelope):
    # A well-formed change of one account, keyed (and stored, before) under another.
    return str(int(key) + 1_000_000_000).encode(), json.dumps(envelope).encode()


ACCOUNT_CASES = [
    ("truncated JSON", _truncated, "value is not valid JSON"),
    ("balance as a float", _with_after(balance=12.5), "accounts.balance is 12.5, not an exact decimal string"),
    ("id as a string", _with_after(id="42"), "accounts.id is '42', not an integer"),
    ("customer_id as null", _with_after(customer_id=None), "accounts.customer_id is None, not an integer"),
    ("a time that is no timestamp", _with_after(updated_at="yesterday"),
     "accounts.updated_at is 'yesterday', not an ISO-8601 timestamp"),
    ("unknown op", _unknown_op, "unknown operation 'x'"),
    ("null key", _null_key, "account id None is not an integer"),
    ("bytes that are not UTF-8", _not_utf8, "value is not valid JSON"),
    ("a Decimal without its scale", _decimal_without_scale,
     "a Decimal without a scale in its schema cannot be decoded exactly"),
    ("a value over 1 MB", _over_one_megabyte, "value is not valid JSON"),
    ("a key that is not the row's id", _keyed_by_another_account, "is of the row with id"),
]


@pytest.mark.parametrize("spoil, reason", [case[1:] for case in ACCOUNT_CASES],
                         ids=[case[0] for case in ACCOUNT_CASES])
def test_a_bad_account_change_is_dead_lettered_and_the_next_change_is_applied(db, worker, stack_env, spoil, reason):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    _, account_id = open_account(db, "1.00")
    wait_for_balance(worker, account_id, "1.00", "the new account is served")
    key = str(account_id).encode()  # the bytes Debezium keys the account with
    bad_key, bad_value = spoil(key, latest_change(bootstrap, ACCOUNT_CHANGES.name, key))

    sent = send_raw(bootstrap, ACCOUNT_CHANGES.name, key=bad_key, value=bad_value, partition=partition_of(key),
                    max_request_size=4 * ONE_MB)
    db.execute("UPDATE accounts SET balance = 2.00, updated_at = now() WHERE id = %s", (account_id,))

    wait_for_balance(worker, account_id, "2.00", "the change after the bad record is applied")
    letters = dead_letters_of(bootstrap, sent)
    assert {letter.agent for letter in letters} == {"project_account_balances"}
    assert {letter.error_class for letter in letters} == {"DecodeError"}
    assert all(reason in letter.reason for letter in letters), letters[0].reason
    for letter in letters:
        assert letter.key == bad_key
        if len(bad_value) > ONE_MB:
            # The dead-letter producer cannot carry it: the letter keeps the headers and says so.
            assert letter.value is None
            assert letter.omitted.startswith(f"value ({len(bad_value)} bytes) left out")
        else:
            assert letter.value == bad_value and letter.omitted is None


def test_a_record_over_one_megabyte_is_refused_by_a_default_producer(stack_env):
    """Why such records are rare: Kafka clients (and Connect's) refuse them before they leave.
    The local broker takes them from a producer configured larger, hence the case above."""
    from aiokafka.errors import MessageSizeTooLargeError

    with pytest.raises(MessageSizeTooLargeError):
        send_raw(stack_env["KAFKA_BOOTSTRAP"], ACCOUNT_CHANGES.name, key=b"1", value=b"x" * (ONE_MB + 1),
                 partition=0)


# --------------------------------------------------------------------------- CDC topics: transactions, customers


def test_a_bad_transaction_is_dead_lettered_and_the_next_posting_counts(db, worker, stack_env):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    _, account_id = open_account(db, "0")
    post(db, account_id, "deposit", "10.00")
    key = str(account_id).encode()
    turnover = f"{worker.url}/accounts/{account_id}/turnover"
    eventually(lambda: get_json(turnover), lambda r: r[0] == 200 and r[1].get("count") == 1, timeout=90,
               what="the first posting counted")
    envelope = latest_change(bootstrap, TRANSACTION_CHANGES.name, key)
    envelope["after"]["amount"] = 10.0  # money as a float: inexact
    sent = send_raw(bootstrap, TRANSACTION_CHANGES.name, key=key, value=json.dumps(envelope).encode(),
                    partition=partition_of(key))

    post(db, account_id, "deposit", "5.00")

    _, body = eventually(lambda: get_json(turnover), lambda r: r[0] == 200 and r[1].get("count") == 2, timeout=90,
                         what="the posting after the bad record counted")
    assert body["deposits"] == "15.00"
    letters = dead_letters_of(bootstrap, sent)
    assert {letter.agent for letter in letters} == {"fold_transactions"}
    assert all("transactions.amount is 10.0, not an exact decimal string" in letter.reason for letter in letters)


@pytest.mark.parametrize("field, value, reason", [
    ("created_at", "not a time", "customers.created_at is 'not a time', not an ISO-8601 timestamp"),
    ("name", 42, "customers.name is 42, not text"),
])
def test_a_bad_customer_change_is_dead_lettered_and_the_next_change_is_applied(db, worker, stack_env, field, value,
                                                                              reason):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    customer_id = open_customer(db, name="Ada Lovelace")
    url = f"{worker.url}/customers/{customer_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200, timeout=90, what="the new customer is served")
    key = str(customer_id).encode()
    envelope = latest_change(bootstrap, CUSTOMER_CHANGES.name, key)
    envelope["after"][field] = value
    sent = send_raw(bootstrap, CUSTOMER_CHANGES.name, key=key, value=json.dumps(envelope).encode(),
                    partition=partition_of(key))

    db.execute("UPDATE customers SET name = 'Ada King' WHERE id = %s", (customer_id,))

    eventually(lambda: get_json(url), lambda r: r[0] == 200 and r[1].get("name") == "Ada King", timeout=90,
               what="the change after the bad record is applied")
    letters = dead_letters_of(bootstrap, sent)
    assert {letter.agent for letter in letters} == {"project_customers"}
    assert all(reason in letter.reason for letter in letters), letters[0].reason


# --------------------------------------------------------------------------- outbox domain events


def _outbox_record(bootstrap: str, customer_id: int, event_type: str, payload, *, at: datetime,
                   headers: Optional[list] = None):
    key = str(customer_id).encode()
    headers = headers if headers is not None else [("id", str(uuid.uuid4()).encode()),
                                                   ("eventType", event_type.encode())]
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return send_raw(bootstrap, CUSTOMER_EVENTS.name, key=key, value=value, headers=headers,
                    partition=partition_of(key), timestamp_ms=int(at.timestamp() * 1000))


def test_unknown_domain_events_are_counted_and_skipped_and_bad_ones_dead_lettered(db, worker, stack_env):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    customer_id = open_customer(db, name="Grace Brewster")
    url = f"{worker.url}/customers/{customer_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200, timeout=90, what="the new customer is served")
    unknown_type = f"CustomerRenamed{uuid.uuid4().hex[:8]}"
    unknown_version = 100 + uuid.uuid4().int % 100_000
    at = datetime(2031, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=uuid.uuid4().int % 86_400)

    _outbox_record(bootstrap, customer_id, unknown_type, {"customer_id": customer_id}, at=at)
    _outbox_record(bootstrap, customer_id, "CustomerOpened", {"customer_id": customer_id, "version": unknown_version},
                   at=at)
    malformed = _outbox_record(bootstrap, customer_id, "CustomerOpened", b'{"customer_id": ', at=at)
    headless = _outbox_record(bootstrap, customer_id, "CustomerOpened", {"customer_id": customer_id}, at=at,
                              headers=[])
    typeless = _outbox_record(bootstrap, customer_id, "CustomerOpened", {"customer_id": customer_id}, at=at,
                              headers=[("id", str(uuid.uuid4()).encode())])
    not_an_object = _outbox_record(bootstrap, customer_id, "CustomerOpened", [customer_id, "opened"], at=at)
    # A valid event after them, on the same partition: the customer's activity moves to its time.
    _outbox_record(bootstrap, customer_id, "CustomerOpened", {"customer_id": customer_id}, at=at)

    eventually(lambda: get_json(url), lambda r: r[0] == 200 and r[1].get("last_activity")
               and datetime.fromisoformat(r[1]["last_activity"]) == at, timeout=90,
               what="the valid event after the bad ones is applied")
    _, health = get_json(f"{worker.url}/health")
    assert health["unhandled_domain_events"][f"{unknown_type} v1"] == 1
    assert health["unhandled_domain_events"][f"CustomerOpened v{unknown_version}"] == 1
    (letter, *_) = dead_letters_of(bootstrap, malformed)
    assert letter.agent == "handle_domain_events"
    assert "domain event payload is not valid JSON" in letter.reason
    # The outbox headers stay on the letter, so a replay is the event again.
    assert letter.header("eventType") == "CustomerOpened" and letter.header("id")
    (letter, *_) = dead_letters_of(bootstrap, headless)
    assert "domain event without its `id` header" in letter.reason
    (letter, *_) = dead_letters_of(bootstrap, typeless)
    assert "domain event without its `eventType` header" in letter.reason
    (letter, *_) = dead_letters_of(bootstrap, not_an_object)
    assert "domain event payload is a JSON list, not an object" in letter.reason


# --------------------------------------------------------------------------- the live alert feed


def _balance_low_envelope(account_id: int) -> bytes:
    now = datetime.now(timezone.utc)
    payload = BalanceLowV1(account_id=account_id, customer_id=1, balance="5.00", threshold="100.00", currency="EUR",
                           crossed_at=now)
    return encode_envelope(wrap(payload, "BalanceLow", 1, source=SOURCE, partition_key=str(account_id),
                                occurred_at=now))


class EventStream:
    """A Server-Sent Events client that reads lines with a deadline."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urlparse(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.connection.request("GET", parts.path)
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read()

    def wait_for(self, accept: Callable[[str], bool], *, timeout: float, what: str) -> List[str]:
        deadline = time.monotonic() + timeout
        seen: List[str] = []
        while time.monotonic() < deadline:
            line = self.response.readline().decode("utf-8", "replace").rstrip("\n")
            seen.append(line)
            if accept(line):
                return seen
        raise AssertionError(f"{what} not seen within {timeout:.0f} s; saw {seen[-10:]!r}")

    def close(self) -> None:
        self.connection.close()


def test_the_live_alert_feed_skips_what_is_not_an_alert_and_goes_on(worker, stack_env):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    ensure_topics(bootstrap, [WITHDRAWAL_ALERTS])
    account_id = 900_000 + uuid.uuid4().int % 100_000
    partition = partition_of(str(account_id).encode())
    stream = EventStream(f"{worker.url}/live/alerts")
    try:
        stream.wait_for(lambda line: line == ": live", timeout=60, what="the feed says it is live")
        first_id, first = alert_record(account_id)
        second_id, second = alert_record(account_id)
        for value in (b"", b"\xc3\x01", b"\xc3\x01" + bytes(8) + b"garbage", first[: len(first) // 2],
                      b'{"alert_id": "not avro"}', _balance_low_envelope(account_id), None, first, second):
            send_raw(bootstrap, WITHDRAWAL_ALERTS.name, key=str(account_id).encode(), value=value,
                     partition=partition)

        seen = stream.wait_for(lambda line: line.startswith("data: ") and json.loads(line[6:])["alert_id"] == second_id,
                               timeout=60, what="the alert after the bad records")
    finally:
        stream.close()
    ids = [json.loads(line[6:])["alert_id"] for line in seen if line.startswith("data: ")]
    assert [alert_id for alert_id in ids if alert_id in (first_id, second_id)] == [first_id, second_id]


# --------------------------------------------------------------------------- web views


# The parameter checks of every view are unit tests (tests/unit/test_views.py); here each view answers
# a bad request on a real worker, through its route and the key's owner.
@pytest.mark.parametrize("path, parameter", [
    ("/accounts/{}", "account_id"), ("/accounts/{}/turnover", "account_id"), ("/alerts/{}", "account_id"),
    ("/customers/{}", "customer_id"),
])
def test_each_view_answers_a_bad_request_on_the_worker(worker, path, parameter):
    status, body = get_json(worker.url + path.format(quote("1;DROP TABLE accounts", safe="")))
    assert (status, body.get("parameter") if isinstance(body, dict) else body) == (400, parameter)
    status, body = get_json(worker.url + path.format(1) + "?id=1%20OR%201%3D1")
    assert (status, body["parameter"]) == (400, "id")


# --------------------------------------------------------------------------- bad-input catalogue II

#: An LSN no PostgreSQL reaches (2^62 bytes of WAL): a forged or corrupt source position.
FAR_FUTURE_LSN = 1 << 62


def test_a_change_from_far_in_the_future_does_not_pin_the_account(db, worker, stack_env):
    """Its row is applied (it decodes), and the account's next real change replaces it: a stored
    position no redelivery could be that far behind does not make later changes look old."""
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    _, account_id = open_account(db, "1.00")
    wait_for_balance(worker, account_id, "1.00", "the new account is served")
    key = str(account_id).encode()
    envelope = latest_change(bootstrap, ACCOUNT_CHANGES.name, key)
    envelope["after"]["balance"] = "999999.00"
    envelope["source"].update(lsn=FAR_FUTURE_LSN, sequence=json.dumps([str(FAR_FUTURE_LSN - 8), str(FAR_FUTURE_LSN)]))
    send_raw(bootstrap, ACCOUNT_CHANGES.name, key=key, value=json.dumps(envelope).encode(), partition=partition_of(key))
    wait_for_balance(worker, account_id, "999999.00", "the forged change is applied")

    db.execute("UPDATE accounts SET balance = 2.00, updated_at = now() WHERE id = %s", (account_id,))
    wait_for_balance(worker, account_id, "2.00", "the next real change replaces the forged one")
    db.execute("UPDATE accounts SET balance = 3.00, updated_at = now() WHERE id = %s", (account_id,))
    wait_for_balance(worker, account_id, "3.00", "and the one after it")


def test_a_customer_change_keyed_by_another_customer_is_dead_lettered(db, worker, stack_env):
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    customer_id = open_customer(db, name="Mary Somerville")
    other = open_customer(db, name="Emmy Noether")
    url = f"{worker.url}/customers/{customer_id}"
    for served in (customer_id, other):
        eventually(lambda served=served: get_json(f"{worker.url}/customers/{served}"), lambda r: r[0] == 200,
                   timeout=90, what="both customers are served")
    key = str(customer_id).encode()
    envelope = latest_change(bootstrap, CUSTOMER_CHANGES.name, key)
    envelope["after"]["name"] = "Not Emmy"
    other_key = str(other).encode()
    sent = send_raw(bootstrap, CUSTOMER_CHANGES.name, key=other_key, value=json.dumps(envelope).encode(),
                    partition=partition_of(other_key))
    db.execute("UPDATE customers SET name = 'Emmy Amalie Noether' WHERE id = %s", (other,))

    eventually(lambda: get_json(f"{worker.url}/customers/{other}"),
               lambda r: r[0] == 200 and r[1].get("name") == "Emmy Amalie Noether", timeout=90,
               what="the change after the bad record is applied")
    letters = dead_letters_of(bootstrap, sent)
    assert all(f"customers change keyed {other} is of the row with id {customer_id}" in letter.reason
               for letter in letters), letters[0].reason
    assert get_json(url)[1]["name"] == "Mary Somerville"


def _raw_body(url: str) -> bytes:
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path)
        return conn.getresponse().read()
    finally:
        conn.close()


def test_control_characters_in_a_name_are_kept_whole_and_served_escaped(db, worker, stack_env):
    """The ledger is the source of truth: the name is kept exactly, and the JSON answer escapes
    every C0 control character (no raw ESC, CR or BEL reaches a terminal or a log line through it)."""
    name = "Ada \x1b[31mLovelace\x07\r\nSet-Cookie: x=1\t\x7f\u202e" + "x" * 30_000
    customer_id = open_customer(db, name=name, email="ada\x1b[2J@example.com")
    url = f"{worker.url}/customers/{customer_id}"

    status, body = eventually(lambda: get_json(url, timeout=10), lambda r: r[0] == 200, timeout=90,
                              what="the customer is served")
    assert body["name"] == name and body["email"] == "ada\x1b[2J@example.com"
    raw = _raw_body(url)
    # JSON escapes every C0 control character (ESC, BEL, CR, LF, TAB); DEL and U+202E are text to it.
    assert not any(byte < 0x20 for byte in raw), "a raw control character in the JSON answer"
    assert b"\\u001b[31m" in raw and len(raw) > 30_000


def test_a_100_kb_name_is_over_the_row_limit_and_fails_its_customer_loudly(db, worker, stack_env):
    """A customer row of over 64 KB (STATE_ROW_LIMIT_BYTES) is never written: the customer is not
    served, the refusal is counted on /health and dead-lettered with the key and the reason, and the
    next customer flows."""
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    huge = open_customer(db, name="Ada " + "x" * 100_000, email="ada@example.com")
    after = open_customer(db, name="Grace Hopper", email="grace@example.com")
    eventually(lambda: get_json(f"{worker.url}/customers/{after}"), lambda r: r[0] == 200, timeout=90,
               what="the customer after the oversized one is served")

    def summary_refusals():
        refused = get_json(f"{worker.url}/health")[1]["refused_records"]["by_topic"]
        return {topic: n for topic, n in refused.items() if topic.endswith("-customer_summary-changelog")}

    (topic,) = eventually(summary_refusals, lambda found: found, timeout=90, what="the oversized row refused")
    letters = eventually(lambda: [r for r in read_topic(bootstrap, f"{topic}.dlq") if r.key and int(r.key) == huge],
                         lambda found: found, timeout=90, what="a dead letter naming the oversized customer")
    reason = dict(letters[0].headers)["dlq.error.reason"].decode()
    assert "over the row limit" in reason, reason
    assert get_json(f"{worker.url}/customers/{huge}")[0] == 404


def test_an_outbox_event_id_reused_with_another_payload(db, worker, stack_env):
    """The outbox refuses a second row with a used id (its primary key). On the topic, an event reusing
    an id is handled on its own: the handlers are idempotent by effect (latest activity), not by id, so
    neither is dropped as a duplicate and neither is dead-lettered."""
    import psycopg

    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    customer_id = open_customer(db, name="Hedy Lamarr")
    url = f"{worker.url}/customers/{customer_id}"
    eventually(lambda: get_json(url), lambda r: r[0] == 200, timeout=90, what="the new customer is served")
    event_id = uuid.uuid4()
    insert = ("INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
              "VALUES (%s, 'customer', %s, 'CustomerOpened', %s::jsonb)")
    db.execute(insert, (event_id, str(customer_id), json.dumps({"customer_id": customer_id, "version": 1})))
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(insert, (event_id, str(customer_id), json.dumps({"customer_id": customer_id, "other": True})))

    reused = str(uuid.uuid4()).encode()
    first = datetime(2032, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=uuid.uuid4().int % 86_400)
    second = first + timedelta(hours=1)
    for at, payload in ((first, {"customer_id": customer_id}), (second, {"customer_id": customer_id, "note": "x"})):
        _outbox_record(bootstrap, customer_id, "CustomerOpened", payload, at=at,
                       headers=[("id", reused), ("eventType", b"CustomerOpened")])

    eventually(lambda: get_json(url), lambda r: r[0] == 200 and r[1].get("last_activity")
               and datetime.fromisoformat(r[1]["last_activity"]) == second, timeout=90,
               what="the second event with the reused id is applied")
    letters = [letter for letter in map(DeadLetter.from_record,
                                        read_topic(bootstrap, dead_letter_topic_name(CUSTOMER_EVENTS.name)))
               if letter.header("id") == reused.decode()]
    assert letters == []
