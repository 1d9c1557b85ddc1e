"""The schema catalog: every schema version by subject and version, and by its wire fingerprint."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from . import SCHEMAS_DIR
from .files import SchemaVersion, scan_schema_files

__all__ = ["SchemaCatalog", "SchemaFileError", "duplicate_fingerprints", "load_catalog", "default_catalog"]


class SchemaFileError(ValueError):
    """The schema files cannot be loaded; the message has one line per problem."""


class SchemaCatalog:
    """Schema versions found by (subject, version) or by the fingerprint a writer put on the wire."""

    def __init__(self, versions: Iterable[SchemaVersion]) -> None:
        self._versions: Tuple[SchemaVersion, ...] = tuple(versions)
        clashes = duplicate_fingerprints(self._versions)
        if clashes:
            raise SchemaFileError("\n".join(clashes))
        self._by_fingerprint: Dict[bytes, SchemaVersion] = {v.fingerprint: v for v in self._versions}
        self._by_key: Dict[Tuple[str, int], SchemaVersion] = {(v.subject, v.version): v for v in self._versions}
        self._by_subject: Dict[str, List[SchemaVersion]] = {}
        for version in sorted(self._versions, key=lambda v: v.version):
            self._by_subject.setdefault(version.subject, []).append(version)

    def __iter__(self) -> Iterator[SchemaVersion]:
        return iter(self._versions)

    def __len__(self) -> int:
        return len(self._versions)

    def subjects(self) -> List[str]:
        return list(self._by_subject)

    def by_fingerprint(self, fingerprint: bytes) -> Optional[SchemaVersion]:
        """The writer schema of a single-object encoded value, or None when it is not known here."""
        return self._by_fingerprint.get(fingerprint)

    def get(self, subject: str, version: int) -> SchemaVersion:
        """Raises LookupError, naming what exists, when there is no such version."""
        try:
            return self._by_key[(subject, version)]
        except KeyError:
            known = ", ".join(f"v{v.version}" for v in self._by_subject.get(subject, ())) or "no versions"
            raise LookupError(f"there is no schema {subject} v{version} (it has {known})") from None

    def versions(self, subject: str) -> List[SchemaVersion]:
        """Every version of `subject`, oldest first (empty when the subject is unknown)."""
        return list(self._by_subject.get(subject, ()))

    def latest(self, subject: str) -> SchemaVersion:
        """The newest version of `subject`; raises LookupError when it has none."""
        versions = self._by_subject.get(subject)
        if not versions:
            raise LookupError(f"there is no schema for {subject!r}")
        return versions[-1]


def duplicate_fingerprints(versions: Iterable[SchemaVersion]) -> List[str]:
    """One line per schema that is indistinguishable on the wire from an earlier one."""
    seen: Dict[bytes, SchemaVersion] = {}
    problems = []
    for version in versions:
        first = seen.setdefault(version.fingerprint, version)
        if first is not version:
            problems.append(
                f"{version.label} ({version.path}) has the same fingerprint {version.fingerprint.hex()} as"
                f" {first.label}: a reader could not tell which one wrote a record; change the schema"
            )
    return problems


def load_catalog(root: Path = SCHEMAS_DIR) -> SchemaCatalog:
    """The catalog of the schema files under `root`; raises SchemaFileError if any file is unusable."""
    versions, problems = scan_schema_files(root)
    if problems:
        raise SchemaFileError("\n".join(problems))
    return SchemaCatalog(versions)


@lru_cache(maxsize=None)
def default_catalog() -> SchemaCatalog:
    """The catalog of this repository's schemas, read on first use (never at import)."""
    return load_catalog(SCHEMAS_DIR)
