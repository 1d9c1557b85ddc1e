"""Avro contracts of the events: the .avsc files, their catalog, record classes and evolution checks."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SCHEMAS_DIR"]

#: The folder of the schema files; every check takes a folder so that tests can check a copy.
SCHEMAS_DIR = Path(__file__).resolve().parent
