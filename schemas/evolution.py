"""Schema evolution: each version against every earlier one, BACKWARD for payloads, FULL for the envelope."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Dict, Iterable, List, Optional

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType, lookup_writer_field

from .agreement import schema_type_name
from .files import ENVELOPE, SchemaVersion

__all__ = ["BACKWARD", "FULL", "rule_of", "evolution_problems", "read_problems"]

#: A new reader reads data of every older writer.
BACKWARD = "BACKWARD"
#: BACKWARD, and every older reader reads data of a newer writer as well.
FULL = "FULL"


def rule_of(subject: str) -> str:
    """The envelope is read by every consumer, old and new, so it must work both ways."""
    return FULL if subject == ENVELOPE else BACKWARD


def evolution_problems(versions: Iterable[SchemaVersion]) -> List[str]:
    """One line per break of a subject's compatibility rule between any two of its versions."""
    problems: List[str] = []
    parsed: Dict[SchemaVersion, avro.schema.RecordSchema] = {}
    ordered = sorted(versions, key=lambda v: (v.subject, v.version))
    for version in ordered:
        try:
            _avro(version, parsed)
        except Exception as exc:  # the avro package raises its own and plain Python errors alike
            problems.append(f"{version.label} ({version.path}): the avro package cannot parse it ({exc})")
    ordered = [version for version in ordered if version in parsed]
    for subject, group in groupby(ordered, key=lambda v: v.subject):
        history = list(group)
        numbers = [v.version for v in history]
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        if missing:
            problems.append(f"{subject}: versions must count up from v1 without gaps; missing "
                            + ", ".join(f"v{n}" for n in missing))
        for index, newer in enumerate(history):
            for older in history[:index]:
                problems += read_problems(newer, older, parsed)
                if rule_of(subject) == FULL:
                    problems += read_problems(older, newer, parsed)
    return problems


def read_problems(
    reader: SchemaVersion, writer: SchemaVersion, cache: Optional[Dict[SchemaVersion, avro.schema.RecordSchema]] = None
) -> List[str]:
    """Why `reader` cannot read data written with `writer` (empty when it can), field by field.

    `cache` keeps the Avro project's parse of each version across calls.
    """
    cache = {} if cache is None else cache
    reader_schema, writer_schema = _avro(reader, cache), _avro(writer, cache)
    # The Avro project's checker is the judge; the lines below only name the fields it objects to,
    # because its own result carries messages and locations as unordered, unpaired sets.
    verdict = ReaderWriterCompatibilityChecker().get_compatibility(reader_schema, writer_schema)
    if verdict.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    head = f"{reader.subject} v{reader.version} cannot read v{writer.version}:"
    reasons = []
    # Records match by unqualified name (Avro spec, schema resolution); a namespace may change.
    if reader_schema.name != writer_schema.name:
        reasons.append(f"the record is named {reader_schema.name} in v{reader.version}"
                       f" but {writer_schema.name} in v{writer.version}")
    file_fields = {f["name"]: f for f in reader.schema.get("fields", [])}
    writer_file_fields = {f["name"]: f for f in writer.schema.get("fields", [])}
    for field in reader_schema.fields:
        written = lookup_writer_field(writer_schema=writer_schema, reader_field=field)
        if written is None:
            if not field.has_default:
                if reader.version > writer.version:
                    reasons.append(f"field `{field.name}` added without a default")
                else:
                    reasons.append(f"field `{field.name}` removed in v{writer.version}"
                                   f" but has no default in v{reader.version}")
            continue
        result = ReaderWriterCompatibilityChecker().get_compatibility(field.type, written.type)
        if result.compatibility is SchemaCompatibilityType.incompatible:
            was = schema_type_name(writer_file_fields[written.name]["type"])
            now = schema_type_name(file_fields[field.name]["type"])
            reasons.append(f"field `{field.name}` is {now} in v{reader.version} but {was} in v{writer.version}"
                           f" ({'; '.join(sorted(result.messages))})")
    if not reasons:
        reasons = sorted(verdict.messages)
    return [f"{head} {reason}" for reason in reasons]


def _avro(version: SchemaVersion, cache: Dict[SchemaVersion, avro.schema.RecordSchema]) -> avro.schema.RecordSchema:
    if version not in cache:
        schema = avro.schema.parse(json.dumps(version.schema))
        if not isinstance(schema, avro.schema.RecordSchema):  # schemas/files.py admits records only
            raise ValueError(f"a {schema.type} schema, not a record")
        cache[version] = schema
    return cache[version]
