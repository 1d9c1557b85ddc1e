"""Unit tests of the schema files, their fingerprints and catalog: the repo's schemas pass every check."""

from __future__ import annotations

import dataclasses
import json

import pytest

from schemas import SCHEMAS_DIR
from schemas.catalog import SchemaCatalog, SchemaFileError, default_catalog, load_catalog
from schemas.check import check_schemas
from schemas.files import ENVELOPE, scan_schema_files, schema_path
from schemas.fingerprint import content_digest, parsing_canonical_form, wire_fingerprint

EVENT_TYPES = {
    "CustomerOpened": [1],
    "AccountOpened": [1],
    "AccountFrozen": [1],
    "MoneyDeposited": [1],
    "MoneyWithdrawn": [1, 2],
    "WithdrawalAlert": [1, 2, 3],
    "BalanceLow": [1, 2],
}


def crc64_avro(data: bytes) -> int:
    """The Avro spec's reference Rabin fingerprint ("Schema Fingerprints"), written out independently."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_the_repository_schemas_pass_every_check():
    assert check_schemas(SCHEMAS_DIR) == []


def test_every_event_type_and_the_envelope_have_their_files():
    catalog = load_catalog(SCHEMAS_DIR)
    assert {s: [v.version for v in catalog.versions(s)] for s in catalog.subjects() if s != ENVELOPE} == EVENT_TYPES
    assert [v.version for v in catalog.versions(ENVELOPE)] == [1]
    for version in catalog:
        assert version.path == schema_path(version.subject, version.version)
        assert (SCHEMAS_DIR / version.path).is_file()


def test_the_envelope_has_the_fields_the_issue_asks_for():
    fields = {f["name"]: f["type"] for f in default_catalog().get(ENVELOPE, 1).schema["fields"]}
    assert fields == {
        "event_id": {"type": "string", "logicalType": "uuid"},
        "event_type": "string",
        "event_version": "int",
        "occurred_at": {"type": "long", "logicalType": "timestamp-micros"},
        "recorded_at": {"type": "long", "logicalType": "timestamp-micros"},
        "source": "string",
        "correlation_id": "string",
        "causation_id": ["null", {"type": "string", "logicalType": "uuid"}],
        "partition_key": "string",
        "payload": "bytes",
    }


def test_fingerprint_matches_the_spec_reference_and_its_published_vector():
    # The spec's fingerprint of the schema "null" is 0x63dd24e7cc258f8a; on the wire, little-endian.
    assert crc64_avro(b'"null"') == 0x63DD24E7CC258F8A
    assert wire_fingerprint("null") == bytes.fromhex("8a8f25cce724dd63")
    for version in default_catalog():
        canonical = parsing_canonical_form(version.schema).encode()
        assert version.fingerprint == crc64_avro(canonical).to_bytes(8, "little"), version.label


def test_canonical_form_keeps_only_what_a_reader_needs():
    schema = default_catalog().get("MoneyWithdrawn", 2).schema
    canonical = json.loads(parsing_canonical_form(schema))
    assert canonical["name"] == "ledgerstream.events.MoneyWithdrawn"
    assert "doc" not in json.dumps(canonical) and "default" not in json.dumps(canonical)


def test_content_digest_ignores_docs_but_not_defaults():
    schema = json.loads((SCHEMAS_DIR / "events/MoneyWithdrawn/v2.avsc").read_text())
    redocumented = json.loads(json.dumps(schema).replace("Where the withdrawal", "Where it"))
    redefaulted = json.loads(json.dumps(schema).replace('"default": "branch"', '"default": "atm"'))
    assert content_digest(redocumented) == content_digest(schema)
    assert content_digest(redefaulted) != content_digest(schema)
    assert wire_fingerprint(redefaulted) == wire_fingerprint(schema)  # why the lock needs the digest


def test_catalog_finds_versions_by_key_fingerprint_and_age():
    catalog = default_catalog()
    v1, v2 = catalog.get("MoneyWithdrawn", 1), catalog.get("MoneyWithdrawn", 2)
    assert catalog.latest("MoneyWithdrawn") is v2
    assert catalog.by_fingerprint(v1.fingerprint) is v1
    assert catalog.by_fingerprint(b"\0" * 8) is None
    assert v2.label == "MoneyWithdrawn v2"


def test_catalog_lookups_of_what_does_not_exist_name_what_does():
    with pytest.raises(LookupError, match=r"no schema MoneyWithdrawn v7 \(it has v1, v2\)"):
        default_catalog().get("MoneyWithdrawn", 7)
    with pytest.raises(LookupError, match="no schema for 'Nope'"):
        default_catalog().latest("Nope")


def test_a_catalog_refuses_two_schemas_with_one_fingerprint():
    versions, _ = scan_schema_files(SCHEMAS_DIR)
    twin = dataclasses.replace(versions[-1], version=versions[-1].version + 1)
    with pytest.raises(SchemaFileError, match=f"{twin.label} .* has the same fingerprint .* as {versions[-1].label}"):
        SchemaCatalog(versions + [twin])


def test_loading_a_folder_with_a_broken_file_names_the_file(tmp_path):
    (tmp_path / "events/Broken").mkdir(parents=True)
    (tmp_path / "events/Broken/v1.avsc").write_text("{not json")
    with pytest.raises(SchemaFileError, match=r"events/Broken/v1\.avsc: not readable JSON"):
        load_catalog(tmp_path)
