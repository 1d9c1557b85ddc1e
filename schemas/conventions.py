"""House rules every schema file follows, beyond being valid Avro."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Tuple

from .files import SchemaVersion

__all__ = ["convention_problems"]


def convention_problems(versions: Iterable[SchemaVersion]) -> List[str]:
    """One line per broken house rule: no floating point anywhere, union defaults on the first branch."""
    problems = []
    for version in versions:
        for field_path, field in _fields(version.schema):
            types = list(_types(field.get("type")))
            if "float" in types or "double" in types:
                # Money is exact decimal text; a binary float cannot hold most cent values.
                problems.append(
                    f"{version.label}: field `{field_path}` uses float/double; money and amounts travel as"
                    " exact decimal strings"
                )
            branches = field.get("type")
            if isinstance(branches, list) and branches and "default" in field:
                # Avro before 1.12 (and many tools still) read a union's default as its FIRST branch.
                if (field["default"] is None) != (branches[0] == "null"):
                    problems.append(
                        f"{version.label}: field `{field_path}` has default {field['default']!r}, which must"
                        f" match the union's first branch ({branches[0]!r}); reorder the union"
                    )
    return problems


def _fields(schema: Any, prefix: str = "") -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(dotted path, field) of every record field, nested records included."""
    for node in _named_nodes(schema):
        if node.get("type") == "record":
            for field in node.get("fields", []):
                path = prefix + field["name"]
                yield path, field
                yield from _fields(field.get("type"), prefix=path + ".")


def _named_nodes(node: Any) -> Iterator[Dict[str, Any]]:
    if isinstance(node, list):
        for branch in node:
            yield from _named_nodes(branch)
    elif isinstance(node, dict):
        if node.get("type") in ("array", "map"):
            yield from _named_nodes(node.get("items", node.get("values")))
        else:
            yield node


def _types(node: Any) -> Iterator[str]:
    """Every primitive type name a field's type mentions, through unions, arrays and maps."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for branch in node:
            yield from _types(branch)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind == "array":
            yield from _types(node.get("items"))
        elif kind == "map":
            yield from _types(node.get("values"))
        elif isinstance(kind, (str, list, dict)) and kind not in ("record", "enum", "fixed"):
            yield from _types(kind)
