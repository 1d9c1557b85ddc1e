"""Unit tests holding the Python record classes and the ledger's outbox payloads to the schema files."""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from datetime import datetime
from decimal import Decimal
from typing import List, Optional

from dev.demo_ledger import postings
from schemas import SCHEMAS_DIR
from schemas.agreement import record_problems, records_problems
from schemas.catalog import default_catalog
from schemas.codec.single_object import decode_single_object, encode_single_object
from schemas.files import SchemaVersion, scan_schema_files
from schemas.records import RECORDS, Long, record_class


def version_of(schema: dict, subject: str = "Thing", version: int = 1) -> SchemaVersion:
    return SchemaVersion(subject, version, f"events/{subject}/v{version}.avsc", schema, None, b"\0" * 8)


THING = {
    "type": "record",
    "name": "Thing",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "ids", "type": {"type": "array", "items": "long"}},
        {"name": "channel", "type": "string", "default": "branch"},
    ],
}


def test_every_record_class_agrees_with_its_schema_file():
    versions, problems = scan_schema_files(SCHEMAS_DIR)
    assert problems == []
    assert records_problems(versions, RECORDS) == []


def test_an_agreeing_class_has_no_problems():
    @dataclasses.dataclass(kw_only=True)
    class Thing:
        id: Long
        at: datetime
        note: Optional[str] = None
        ids: List[Long]
        channel: str = "branch"

    assert record_problems(Thing, version_of(THING)) == []


def test_each_kind_of_disagreement_is_named():
    @dataclasses.dataclass(kw_only=True)
    class Thing:
        id: int  # ambiguous: int or long?
        at: str  # not a timestamp
        note: str  # not optional, no default
        ids: List[Long]
        channel: str = "atm"  # another default
        extra: bool = False  # not in the file

    where = "Thing v1: Thing and events/Thing/v1.avsc disagree:"
    assert record_problems(Thing, version_of(THING)) == sorted([
        f"{where} field `id` is long in the file but int (annotate it as Int or Long) in the class",
        f"{where} field `at` is timestamp-micros in the file but string in the class",
        f"{where} field `note` is optional string in the file but string in the class",
        f"{where} field `note` has default None in the file but none in the class",
        f"{where} field `channel` has default 'branch' in the file but 'atm' in the class",
        f"{where} field `extra` is only in the class",
    ])


def test_a_schema_without_a_class_and_a_class_without_a_schema_are_named():
    versions = [version_of(THING)]

    @dataclasses.dataclass
    class Orphan:
        id: Long

    problems = records_problems(versions, {("Orphan", 1): Orphan})
    assert problems == [
        "Thing v1 (events/Thing/v1.avsc) has no record class in schemas/records.py",
        "Orphan v1: Orphan has no schema file",
    ]


class FakeLedgerDatabase:
    """Just enough of a psycopg connection for ledger.postings: rows it returns, outbox rows it keeps."""

    def __init__(self):
        self.outbox = []
        self._row = None

    def transaction(self):
        return nullcontext()

    def cursor(self):
        return nullcontext(self)

    def execute(self, sql: str, params=()):
        if sql.startswith("INSERT INTO outbox"):
            _, _, _, event_type, document = params
            self.outbox.append((event_type, document.obj))
            self._row = None
        elif sql.startswith("INSERT INTO customers"):
            self._row = (1,)
        elif sql.startswith("INSERT INTO accounts"):
            self._row = (10, Decimal("0.00"), "open")
        elif sql.startswith("INSERT INTO transactions"):
            self._row = (77,)
        elif "status = 'frozen'" in sql:
            self._row = (1, "EUR", Decimal("150.00"))
        elif sql.startswith("UPDATE accounts"):
            self._row = (Decimal("150.00"), "EUR")
        else:
            raise AssertionError(f"unexpected SQL: {sql}")

    def fetchone(self):
        return self._row


def test_the_ledgers_outbox_payloads_fit_the_v1_schemas_and_record_classes():
    db = FakeLedgerDatabase()
    postings.open_customer(db, "Ada", None)
    postings.open_customer(db, "Grace", "grace@example.org")
    postings.open_account(db, 1, "EUR")
    postings.deposit(db, 10, "200.00")
    postings.withdraw(db, 10, "50.00")
    postings.freeze_account(db, 10)
    assert [t for t, _ in db.outbox] == [
        "CustomerOpened", "CustomerOpened", "AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "AccountFrozen",
    ]
    for event_type, document in db.outbox:
        # The outbox stamps each payload with its version; on the wire that is the envelope's event_version.
        payload = dict(document)
        version = payload.pop("version")
        writer = default_catalog().get(event_type, version)
        record = record_class(event_type, version)(**payload)
        _, decoded = decode_single_object(encode_single_object(record, writer), default_catalog())
        assert decoded == payload
