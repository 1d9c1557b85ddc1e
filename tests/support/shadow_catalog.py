"""The catalogue of the shadow-rule tests: the shipped one plus rapid-large-withdrawals v2 in shadow, at count 2."""

from __future__ import annotations

from detection.catalog import DEFAULT_CATALOG, Catalog, parse_catalog

__all__ = ["SHADOW_RAPID", "catalog_text", "catalog_with_shadow"]

#: The shadow entry: the live rule's id and filter, another version, a lower count.
SHADOW_RAPID = """
  - id: rapid-large-withdrawals
    version: 2
    mode: shadow
    kind: time-window
    severity: medium
    filter: {kind: withdrawal, min_amount: "200.00"}
    parameters: {window: 10m, count: 2}
"""


def catalog_text(extra: str = SHADOW_RAPID) -> str:
    """The shipped catalogue's text with `extra` entries after its own."""
    return DEFAULT_CATALOG.read_text(encoding="utf-8") + extra


def catalog_with_shadow() -> Catalog:
    return parse_catalog(catalog_text(), "test catalogue")
