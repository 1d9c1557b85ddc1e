"""Every check of the schema files in one call: layout, house rules, evolution, records, the lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping, Tuple, Type

from . import SCHEMAS_DIR
from .agreement import records_problems
from .catalog import duplicate_fingerprints
from .conventions import convention_problems
from .evolution import evolution_problems
from .files import scan_schema_files
from .lock import LOCK_FILE, lock_problems, published_problems, read_lock, render_lock, updated_lock
from .records import RECORDS

__all__ = ["check_schemas", "lock_schemas"]

Records = Mapping[Tuple[str, int], Type[Any]]


def check_schemas(root: Path = SCHEMAS_DIR, *, records: Records = RECORDS, include_lock: bool = True) -> List[str]:
    """One line per problem with the schema files under `root` (empty when all is well)."""
    versions, problems = scan_schema_files(root)
    problems += duplicate_fingerprints(versions)
    problems += convention_problems(versions)
    problems += evolution_problems(versions)
    problems += records_problems(versions, records)
    if include_lock:
        try:
            problems += lock_problems(versions, read_lock(root))
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def lock_schemas(root: Path = SCHEMAS_DIR, *, records: Records = RECORDS) -> Tuple[List[str], List[str]]:
    """Publish the new schema files under `root`: (paths added, problems). Nothing is written on a problem."""
    # Only schemas that pass every other check get published, and a published entry is never
    # rewritten: the lock exists to make editing a published schema fail.
    problems = check_schemas(root, records=records, include_lock=False)
    versions, _ = scan_schema_files(root)
    try:
        locked = read_lock(root)
    except ValueError as exc:
        return [], problems + [str(exc)]
    if locked is not None:
        problems += published_problems(versions, locked)
    if problems:
        return [], problems
    entries, added = updated_lock(versions, locked)
    if added or locked is None:
        (Path(root) / LOCK_FILE).write_text(render_lock(entries), encoding="utf-8")
    return added, []
