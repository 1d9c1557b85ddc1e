"""The lock file: published schema files and their fingerprints, so that none is edited in place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from .files import SchemaVersion
from .fingerprint import content_digest

__all__ = [
    "LOCK_FILE",
    "LockEntry",
    "lock_entry",
    "read_lock",
    "render_lock",
    "lock_problems",
    "published_problems",
    "updated_lock",
]

LOCK_FILE = "fingerprints.lock"

_HEADER = """\
# Published schema files: path, CRC-64-AVRO fingerprint (as on the wire), SHA-256 of the schema without docs.
# Written by `python -m schemas lock`. A published file is never edited (docs aside): add a new version.
"""


@dataclass(frozen=True)
class LockEntry:
    path: str
    fingerprint: str
    digest: str


def lock_entry(version: SchemaVersion) -> LockEntry:
    return LockEntry(version.path, version.fingerprint.hex(), content_digest(version.schema))


def read_lock(root: Path) -> Optional[Dict[str, LockEntry]]:
    """The entries of `root`'s lock file by path, or None when there is no lock file."""
    file = Path(root) / LOCK_FILE
    if not file.exists():
        return None
    entries = {}
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ValueError(f"{LOCK_FILE} line {number}: expected `path fingerprint digest`, got {line!r}")
        entries[parts[0]] = LockEntry(*parts)
    return entries


def render_lock(entries: Iterable[LockEntry]) -> str:
    lines = [f"{e.path} {e.fingerprint} {e.digest}" for e in sorted(entries, key=lambda e: e.path)]
    return _HEADER + "".join(line + "\n" for line in lines)


def lock_problems(versions: Iterable[SchemaVersion], locked: Optional[Dict[str, LockEntry]]) -> List[str]:
    """One line per published file that changed or vanished, and per file not yet published."""
    if locked is None:
        return [f"{LOCK_FILE} is missing: run `python -m schemas lock` to publish the schema files"]
    versions = list(versions)
    problems = published_problems(versions, locked)
    for version in versions:
        if version.path not in locked:
            problems.append(f"{version.label} ({version.path}) is not published yet: run `python -m schemas lock`")
    return problems


def published_problems(versions: Iterable[SchemaVersion], locked: Dict[str, LockEntry]) -> List[str]:
    """One line per published file that was edited in place or removed."""
    versions = list(versions)
    current = {v.path: v for v in versions}
    problems = []
    for path, entry in sorted(locked.items()):
        version = current.get(path)
        if version is None:
            problems.append(f"{path} is published ({LOCK_FILE}) but gone: a published schema is never removed")
            continue
        now = lock_entry(version)
        if now.fingerprint != entry.fingerprint:
            problems.append(
                f"{version.label} ({path}) was edited after publication: fingerprint {entry.fingerprint} is now"
                f" {now.fingerprint}; restore it and add v{_next(versions, version)} instead"
            )
        elif now.digest != entry.digest:
            problems.append(
                f"{version.label} ({path}) was edited after publication: a default, logical type, alias or order"
                f" changed (only docs may); restore it and add v{_next(versions, version)} instead"
            )
    return problems


def updated_lock(
    versions: Iterable[SchemaVersion], locked: Optional[Dict[str, LockEntry]]
) -> Tuple[List[LockEntry], List[str]]:
    """The lock with every new file added, and the paths added; published entries are never rewritten."""
    entries = dict(locked or {})
    added = []
    for version in versions:
        if version.path not in entries:
            entries[version.path] = lock_entry(version)
            added.append(version.path)
    return list(entries.values()), added


def _next(versions: Iterable[SchemaVersion], version: SchemaVersion) -> int:
    return max(v.version for v in versions if v.subject == version.subject) + 1
