"""Schema files on disk: where each event type's versions live, read into SchemaVersion values."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Tuple

import fastavro

from .fingerprint import wire_fingerprint

__all__ = ["ENVELOPE", "SchemaVersion", "schema_path", "scan_schema_files"]

#: The subject of the envelope's schema versions; every other subject is an event type.
ENVELOPE = "Envelope"

_ENVELOPE_FILE = re.compile(r"envelope/v([1-9][0-9]*)\.avsc")
_EVENT_FILE = re.compile(r"events/([A-Z][A-Za-z0-9]*)/v([1-9][0-9]*)\.avsc")


@dataclass(frozen=True, eq=False)
class SchemaVersion:
    """One schema file: its subject (an event type or "Envelope"), version and fingerprint."""

    subject: str
    version: int
    #: Relative to the schemas folder, with forward slashes (as in the lock file).
    path: str
    #: The schema as written in the file.
    schema: Mapping[str, Any]
    #: The schema as fastavro reads and writes with it.
    parsed: Any
    fingerprint: bytes

    @property
    def label(self) -> str:
        return f"{self.subject} v{self.version}"


def schema_path(subject: str, version: int) -> str:
    """Where the file of `subject` version `version` lives, relative to the schemas folder."""
    if subject == ENVELOPE:
        return f"envelope/v{version}.avsc"
    return f"events/{subject}/v{version}.avsc"


def scan_schema_files(root: Path) -> Tuple[List[SchemaVersion], List[str]]:
    """Every readable schema file under `root`, in subject and version order, and one line per problem."""
    versions: List[SchemaVersion] = []
    problems: List[str] = []
    for file in sorted(Path(root).rglob("*.avsc")):
        path = file.relative_to(root).as_posix()
        place = _place(path)
        if place is None:
            problems.append(
                f"{path}: not a schema location; schemas live at envelope/v<N>.avsc or events/<EventType>/v<N>.avsc"
            )
            continue
        subject, version = place
        try:
            schema = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path}: not readable JSON ({exc})")
            continue
        try:
            # A fresh name table per file: v1 and v2 of one event define the same record name.
            parsed = fastavro.parse_schema(schema, named_schemas={})
            fingerprint = wire_fingerprint(schema)
        except Exception as exc:  # fastavro raises several types for a bad schema; all mean the same here
            problems.append(f"{path}: not a valid Avro schema ({type(exc).__name__}: {exc})")
            continue
        name = schema.get("name", "") if isinstance(schema, dict) else ""
        if not isinstance(schema, dict) or schema.get("type") != "record" or name.rsplit(".", 1)[-1] != subject:
            problems.append(f"{path}: must be a record named {subject!r}, as its folder says")
            continue
        versions.append(SchemaVersion(subject, version, path, schema, parsed, fingerprint))
    versions.sort(key=lambda v: (v.subject != ENVELOPE, v.subject, v.version))
    return versions, problems


def _place(path: str) -> Tuple[str, int] | None:
    match = _ENVELOPE_FILE.fullmatch(path)
    if match:
        return ENVELOPE, int(match.group(1))
    match = _EVENT_FILE.fullmatch(path)
    if match and match.group(1) != ENVELOPE:
        return match.group(1), int(match.group(2))
    return None
