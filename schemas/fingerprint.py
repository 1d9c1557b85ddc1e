"""Schema identity: the CRC-64-AVRO fingerprint written on the wire, and the digest that locks a file."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastavro.schema import fingerprint as _fingerprint
from fastavro.schema import to_parsing_canonical_form

__all__ = ["parsing_canonical_form", "wire_fingerprint", "content_digest"]


def parsing_canonical_form(schema: Any) -> str:
    """The schema's Parsing Canonical Form (Avro spec): what a reader needs, nothing else."""
    return to_parsing_canonical_form(schema)


def wire_fingerprint(schema: Any) -> bytes:
    """The 8 bytes after the single-object marker: CRC-64-AVRO of the canonical form, little-endian."""
    # fastavro spells the fingerprint as the hex of its little-endian bytes (the spec's
    # fingerprint of "null", 0x63dd24e7cc258f8a, comes out as "8a8f25cce724dd63"), which is
    # exactly the byte order single-object encoding writes.
    return bytes.fromhex(_fingerprint(parsing_canonical_form(schema), "CRC-64-AVRO"))


def content_digest(schema: Any) -> str:
    """SHA-256 of the schema without its docs: also changes when a default or logical type changes."""
    # The canonical form drops defaults, logical types and aliases, so a published file could
    # change what readers fill in without changing its fingerprint; this digest catches that,
    # while documentation stays editable.
    text = json.dumps(_without_docs(schema), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _without_docs(node: Any) -> Any:
    if isinstance(node, dict):
        # A default is data, not schema: a "doc" key inside it is kept.
        return {
            key: value if key == "default" else _without_docs(value) for key, value in node.items() if key != "doc"
        }
    if isinstance(node, list):
        return [_without_docs(item) for item in node]
    return node
