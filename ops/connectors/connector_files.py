"""Connector definitions as files: connectors/<name>.yaml, one connector each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import yaml

__all__ = ["CONNECTORS_DIR", "ConnectorDefinition", "ConnectorFileError", "load_connector", "load_connectors"]

CONNECTORS_DIR = Path(__file__).resolve().parent


class ConnectorFileError(Exception):
    """A connector file that cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class ConnectorDefinition:
    name: str
    config: Dict[str, str]
    path: Path


def load_connector(path: Path) -> ConnectorDefinition:
    try:
        # BaseLoader keeps every scalar as the text written: Kafka Connect configs are strings,
        # and YAML's typing would turn 0.10 into "0.1", 010 into "8" and off into "false".
        document = yaml.load(path.read_text(), Loader=yaml.BaseLoader)
    except OSError as exc:
        raise ConnectorFileError(f"{path} cannot be read ({exc.strerror}); check the path.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConnectorFileError(f"{path} is not valid YAML{where}; fix the file.") from None
    if not isinstance(document, dict) or not isinstance(document.get("name"), str) \
            or not isinstance(document.get("config"), dict):
        raise ConnectorFileError(f"{path} must hold `name:` (text) and `config:` (a mapping); fix the file.")
    nested = [key for key, value in document["config"].items() if not isinstance(value, str)]
    if nested:
        raise ConnectorFileError(f"{path}: config `{nested[0]}` must be a single value; fix the file.")
    config = dict(document["config"])
    return ConnectorDefinition(document["name"], config, path)


def load_connectors(names: Optional[Iterable[str]] = None, folder: Path = CONNECTORS_DIR) -> List[ConnectorDefinition]:
    definitions = [load_connector(path) for path in sorted(folder.glob("*.yaml"))]
    seen: Dict[str, Path] = {}
    for definition in definitions:
        if definition.name in seen:
            raise ConnectorFileError(
                f"{seen[definition.name].name} and {definition.path.name} both define connector {definition.name}; "
                "keep one of them."
            )
        seen[definition.name] = definition.path
    if names:
        wanted = set(names)
        unknown = wanted - {d.name for d in definitions}
        if unknown:
            raise ConnectorFileError(
                f"No connector file defines {', '.join(sorted(unknown))}; see the files in {folder.name}/."
            )
        definitions = [d for d in definitions if d.name in wanted]
    return definitions
