"""Unit tests of the evolution and lock checks on copies of schemas/ with deliberate mistakes."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from schemas import SCHEMAS_DIR
from schemas.check import check_schemas, lock_schemas
from schemas.evolution import evolution_problems, read_problems
from schemas.files import scan_schema_files
from schemas.lock import LOCK_FILE
from schemas.records import RECORDS, Long, Money

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MoneyWithdrawnV3:
    """The record class a v3 of MoneyWithdrawn would come with."""

    account_id: Long
    transaction_id: Long
    amount: Money
    balance_after: Money
    currency: str
    channel: str = "branch"
    note: Optional[str] = None


@pytest.fixture
def schemas_copy(tmp_path) -> Path:
    """A copy of the schema files and their lock, free to break."""
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def read(root: Path, path: str) -> dict:
    return json.loads((root / path).read_text())


def write(root: Path, path: str, schema: dict) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(json.dumps(schema, indent=2))


def field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_an_untouched_copy_passes(schemas_copy):
    assert check_schemas(schemas_copy) == []


def test_a_new_field_without_a_default_names_event_versions_and_field(schemas_copy):
    v2 = read(schemas_copy, "events/MoneyWithdrawn/v2.avsc")
    del field(v2, "channel")["default"]
    write(schemas_copy, "events/MoneyWithdrawn/v2.avsc", v2)
    assert "MoneyWithdrawn v2 cannot read v1: field `channel` added without a default" in check_schemas(schemas_copy)


def test_a_new_version_is_checked_against_every_earlier_one(schemas_copy):
    v3 = read(schemas_copy, "events/MoneyWithdrawn/v2.avsc")
    field(v3, "amount")["type"] = "long"
    v3["fields"].append({"name": "fee", "type": "string"})
    write(schemas_copy, "events/MoneyWithdrawn/v3.avsc", v3)
    problems = check_schemas(schemas_copy)
    for older in (1, 2):
        assert f"MoneyWithdrawn v3 cannot read v{older}: field `fee` added without a default" in problems
        assert any(p.startswith(f"MoneyWithdrawn v3 cannot read v{older}: field `amount` is long in v3 but string"
                                f" in v{older}") for p in problems)


def test_a_renamed_record_is_named_but_a_new_namespace_is_fine(schemas_copy):
    versions, _ = scan_schema_files(schemas_copy)
    v1 = next(v for v in versions if v.label == "MoneyWithdrawn v1")
    # Avro resolves records by their unqualified name, so only a new name breaks readers.
    moved = dataclasses.replace(v1, version=2, schema={**v1.schema, "namespace": "elsewhere"})
    renamed = dataclasses.replace(v1, version=2, schema={**v1.schema, "name": "MoneyTaken"})
    assert read_problems(moved, v1) == []
    assert read_problems(renamed, v1) == [
        "MoneyWithdrawn v2 cannot read v1: the record is named MoneyTaken in v2 but MoneyWithdrawn in v1"
    ]


def test_payloads_may_drop_a_field_but_the_envelope_may_not(schemas_copy):
    # BACKWARD: a new payload reader ignores what old writers wrote. FULL: old envelope readers
    # must also read the new envelope, and they have no default for a field it dropped.
    v2 = read(schemas_copy, "events/MoneyWithdrawn/v2.avsc")
    v2["fields"] = [f for f in v2["fields"] if f["name"] != "currency"]
    write(schemas_copy, "events/MoneyWithdrawn/v3.avsc", v2)
    envelope = read(schemas_copy, "envelope/v1.avsc")
    envelope["fields"] = [f for f in envelope["fields"] if f["name"] != "source"]
    write(schemas_copy, "envelope/v2.avsc", envelope)
    versions, _ = scan_schema_files(schemas_copy)
    assert evolution_problems(versions) == [
        "Envelope v1 cannot read v2: field `source` removed in v2 but has no default in v1"
    ]


def test_an_envelope_field_added_with_a_default_passes_both_ways(schemas_copy):
    envelope = read(schemas_copy, "envelope/v1.avsc")
    envelope["fields"].append({"name": "tenant", "type": ["null", "string"], "default": None})
    write(schemas_copy, "envelope/v2.avsc", envelope)
    versions, _ = scan_schema_files(schemas_copy)
    assert evolution_problems(versions) == []


def test_versions_count_up_without_gaps(schemas_copy):
    write(schemas_copy, "events/MoneyWithdrawn/v4.avsc", read(schemas_copy, "events/MoneyWithdrawn/v2.avsc"))
    assert "MoneyWithdrawn: versions must count up from v1 without gaps; missing v3" in check_schemas(schemas_copy)


def test_editing_a_published_schema_in_place_is_caught_by_the_lock(schemas_copy):
    v1 = read(schemas_copy, "events/MoneyWithdrawn/v1.avsc")
    field(v1, "account_id")["type"] = "int"
    write(schemas_copy, "events/MoneyWithdrawn/v1.avsc", v1)
    problems = check_schemas(schemas_copy)
    assert any(p.startswith("MoneyWithdrawn v1 (events/MoneyWithdrawn/v1.avsc) was edited after publication:"
                            " fingerprint 2a0759f9e3c1682d is now") and p.endswith("add v3 instead") for p in problems)


def test_changing_only_a_published_default_is_caught_too(schemas_copy):
    v2 = read(schemas_copy, "events/MoneyWithdrawn/v2.avsc")
    field(v2, "channel")["default"] = "atm"
    write(schemas_copy, "events/MoneyWithdrawn/v2.avsc", v2)
    problems = check_schemas(schemas_copy)
    assert ("MoneyWithdrawn v2 (events/MoneyWithdrawn/v2.avsc) was edited after publication: a default, logical"
            " type, alias or order changed (only docs may); restore it and add v3 instead") in problems


def test_docs_of_a_published_schema_may_change(schemas_copy):
    v1 = read(schemas_copy, "events/MoneyWithdrawn/v1.avsc")
    v1["doc"] = "Better words."
    write(schemas_copy, "events/MoneyWithdrawn/v1.avsc", v1)
    assert check_schemas(schemas_copy) == []


def test_a_published_schema_is_never_removed(schemas_copy):
    (schemas_copy / "events/BalanceLow/v1.avsc").unlink()
    problems = check_schemas(schemas_copy)
    assert ("events/BalanceLow/v1.avsc is published (fingerprints.lock) but gone: a published schema is never"
            " removed") in problems


def test_a_new_version_must_be_locked_and_lock_publishes_it(schemas_copy):
    v3 = read(schemas_copy, "events/MoneyWithdrawn/v2.avsc")
    v3["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    write(schemas_copy, "events/MoneyWithdrawn/v3.avsc", v3)
    records = {**RECORDS, ("MoneyWithdrawn", 3): MoneyWithdrawnV3}
    assert check_schemas(schemas_copy, records=records) == [
        "MoneyWithdrawn v3 (events/MoneyWithdrawn/v3.avsc) is not published yet: run `python -m schemas lock`"
    ]
    before = (schemas_copy / LOCK_FILE).read_text()
    assert lock_schemas(schemas_copy, records=records) == (["events/MoneyWithdrawn/v3.avsc"], [])
    after = (schemas_copy / LOCK_FILE).read_text()
    assert "events/MoneyWithdrawn/v3.avsc " in after
    assert set(before.splitlines()) <= set(after.splitlines())  # published lines are kept as they were
    assert check_schemas(schemas_copy, records=records) == []


def test_lock_refuses_to_bless_an_edited_published_schema(schemas_copy):
    v1 = read(schemas_copy, "events/MoneyWithdrawn/v1.avsc")
    field(v1, "account_id")["type"] = "int"
    write(schemas_copy, "events/MoneyWithdrawn/v1.avsc", v1)
    before = (schemas_copy / LOCK_FILE).read_text()
    added, problems = lock_schemas(schemas_copy)
    assert added == [] and any("was edited after publication" in p for p in problems)
    assert (schemas_copy / LOCK_FILE).read_text() == before


def test_a_missing_lock_file_is_a_problem_and_lock_writes_it(schemas_copy):
    (schemas_copy / LOCK_FILE).unlink()
    assert check_schemas(schemas_copy) == [
        "fingerprints.lock is missing: run `python -m schemas lock` to publish the schema files"
    ]
    added, problems = lock_schemas(schemas_copy)
    assert problems == [] and len(added) == len(list(schemas_copy.rglob("*.avsc")))
    assert (schemas_copy / LOCK_FILE).read_text() == (SCHEMAS_DIR / LOCK_FILE).read_text()


def test_house_rules_no_floats_and_union_defaults_on_the_first_branch(schemas_copy):
    v3 = read(schemas_copy, "events/MoneyWithdrawn/v2.avsc")
    v3["fields"].append({"name": "fee", "type": ["null", "double"], "default": None})
    v3["fields"].append({"name": "memo", "type": ["string", "null"], "default": None})
    write(schemas_copy, "events/MoneyWithdrawn/v3.avsc", v3)
    problems = check_schemas(schemas_copy)
    assert ("MoneyWithdrawn v3: field `fee` uses float/double; money and amounts travel as exact decimal strings"
            in problems)
    assert any(p.startswith("MoneyWithdrawn v3: field `memo` has default None, which must match the union's"
                            " first branch") for p in problems)


def test_layout_mistakes_are_named(schemas_copy):
    write(schemas_copy, "events/misplaced.avsc", read(schemas_copy, "events/BalanceLow/v1.avsc"))
    write(schemas_copy, "events/Renamed/v1.avsc", read(schemas_copy, "events/BalanceLow/v1.avsc"))
    (schemas_copy / "events/Bad/").mkdir()
    (schemas_copy / "events/Bad/v1.avsc").write_text('{"type": "record", "name": "Bad", "fields": [{"name": "x"}]}')
    problems = check_schemas(schemas_copy)
    assert any(p.startswith("events/misplaced.avsc: not a schema location") for p in problems)
    assert "events/Renamed/v1.avsc: must be a record named 'Renamed', as its folder says" in problems
    assert any(p.startswith("events/Bad/v1.avsc: not a valid Avro schema") for p in problems)


def run_schemas_cli(*args):
    return subprocess.run([sys.executable, "-m", "schemas", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_cli_check_passes_on_the_repository():
    result = run_schemas_cli("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("schemas: all checks passed")


def test_cli_check_fails_with_one_line_per_problem(schemas_copy):
    v2 = read(schemas_copy, "events/MoneyWithdrawn/v2.avsc")
    del field(v2, "channel")["default"]
    write(schemas_copy, "events/MoneyWithdrawn/v2.avsc", v2)
    result = run_schemas_cli("--dir", str(schemas_copy), "check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines == check_schemas(schemas_copy)
    assert "MoneyWithdrawn v2 cannot read v1: field `channel` added without a default" in lines


def test_cli_lock_publishes_and_refuses(schemas_copy):
    (schemas_copy / LOCK_FILE).unlink()
    first = run_schemas_cli("--dir", str(schemas_copy), "lock")
    assert first.returncode == 0 and "locked events/MoneyWithdrawn/v2.avsc" in first.stdout
    v1 = read(schemas_copy, "events/MoneyWithdrawn/v1.avsc")
    field(v1, "amount")["type"] = "bytes"
    write(schemas_copy, "events/MoneyWithdrawn/v1.avsc", v1)
    second = run_schemas_cli("--dir", str(schemas_copy), "lock")
    assert second.returncode == 1 and "was edited after publication" in second.stdout
