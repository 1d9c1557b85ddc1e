"""Record classes against schema files: field names, types, optionality and defaults must agree."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any, Iterable, List, Mapping, Tuple, Type
from uuid import UUID

from .files import SchemaVersion

__all__ = ["schema_type_name", "python_type_name", "record_problems", "records_problems"]

_PYTHON_TYPES = {
    str: "string",
    bytes: "bytes",
    bool: "boolean",
    float: "double",
    type(None): "null",
    UUID: "uuid",
    datetime: "timestamp-micros",
}


def schema_type_name(avro_type: Any) -> str:
    """A field's Avro type in the words python_type_name uses, e.g. "optional uuid", "array<long>"."""
    if isinstance(avro_type, list):
        others = [branch for branch in avro_type if branch != "null"]
        if len(avro_type) == 2 and len(others) == 1:
            return f"optional {schema_type_name(others[0])}"
        return "union<" + ", ".join(schema_type_name(branch) for branch in avro_type) + ">"
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType"):
            return str(avro_type["logicalType"])
        kind = avro_type.get("type")
        if kind == "array":
            return f"array<{schema_type_name(avro_type.get('items'))}>"
        if kind == "map":
            return f"map<{schema_type_name(avro_type.get('values'))}>"
        if kind in ("record", "enum", "fixed"):
            return str(avro_type.get("name"))
        return schema_type_name(kind)
    return str(avro_type)


def python_type_name(hint: Any) -> str:
    """A record field's annotation in Avro's words; a bare int is ambiguous and says so."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        base, *meta = args
        if base is int and meta and meta[0] in ("int", "long"):
            return str(meta[0])
        return python_type_name(base)
    if origin in (typing.Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(args) == 2 and len(others) == 1:
            return f"optional {python_type_name(others[0])}"
        return "union<" + ", ".join(python_type_name(arg) for arg in args) + ">"
    if origin in (list, tuple) and args:
        return f"array<{python_type_name(args[0])}>"
    if origin is dict and len(args) == 2:
        return f"map<{python_type_name(args[1])}>"
    if hint is int:
        return "int (annotate it as Int or Long)"
    return _PYTHON_TYPES.get(hint, getattr(hint, "__name__", repr(hint)))


def record_problems(record: Type[Any], version: SchemaVersion) -> List[str]:
    """One line per disagreement between a record class and the schema file it stands for."""
    where = f"{version.label}: {record.__name__} and {version.path} disagree:"
    hints = typing.get_type_hints(record, include_extras=True)
    in_class = {field.name: field for field in dataclasses.fields(record)}
    in_file = {field["name"]: field for field in version.schema.get("fields", [])}
    problems = [f"{where} field `{name}` is only in the class" for name in in_class if name not in in_file]
    problems += [f"{where} field `{name}` is only in the file" for name in in_file if name not in in_class]
    for name in in_class.keys() & in_file.keys():
        file_type, class_type = schema_type_name(in_file[name]["type"]), python_type_name(hints[name])
        if file_type != class_type:
            problems.append(f"{where} field `{name}` is {file_type} in the file but {class_type} in the class")
        file_default, class_default = _file_default(in_file[name]), _class_default(in_class[name])
        if file_default != class_default:
            problems.append(
                f"{where} field `{name}` has default {_show(file_default)} in the file"
                f" but {_show(class_default)} in the class"
            )
    return sorted(problems)


def records_problems(versions: Iterable[SchemaVersion], records: Mapping[Tuple[str, int], Type[Any]]) -> List[str]:
    """Every schema version needs its record class, every record class its file, and each pair must agree."""
    versions = list(versions)
    files = {(v.subject, v.version) for v in versions}
    problems = []
    for version in versions:
        record = records.get((version.subject, version.version))
        if record is None:
            problems.append(f"{version.label} ({version.path}) has no record class in schemas/records.py")
        else:
            problems += record_problems(record, version)
    for (subject, number), record in records.items():
        if (subject, number) not in files:
            problems.append(f"{subject} v{number}: {record.__name__} has no schema file")
    return problems


class _NoDefault:
    def __repr__(self) -> str:
        return "none"


_NONE = _NoDefault()


def _file_default(field: Mapping[str, Any]) -> Any:
    return field["default"] if "default" in field else _NONE


def _class_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return _NONE


def _show(default: Any) -> str:
    return "none" if default is _NONE else repr(default)
