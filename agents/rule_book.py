"""The rule book the worker runs: the catalogue read and checked when the worker starts, then cached."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple, Optional

from detection.catalog import Catalog, loaded_catalog
from detection.rulebook import RuleBook, check_change, fingerprint, manifest_of, rule_book
from settings import Settings, load_settings

__all__ = ["start_rules", "current_rule_book", "current_shadow_rules", "ShadowRules", "MANIFEST"]

log = logging.getLogger(__name__)

#: Next to the worker's tables: what each rule's state was built with, checked against the catalogue at start.
MANIFEST = "rule-catalog.json"


class ShadowRules(NamedTuple):
    """The catalogue's shadow rules, ready to run, and the fingerprint their state is kept under."""

    book: RuleBook
    fingerprint: str


_book: Optional[RuleBook] = None
_shadow: Optional[ShadowRules] = None


def start_rules(settings: Settings, data_dir: str) -> RuleBook:
    """Read and check the catalogue (CatalogError: one sentence), refuse a change the kept state cannot
    serve, and record the catalogue next to the state for the next start."""
    global _book
    catalog = loaded_catalog(settings.rule_catalog)
    book = rule_book(catalog, timedelta(seconds=settings.rule_lateness_seconds))
    manifest = Path(data_dir) / MANIFEST
    if manifest.exists():
        check_change(json.loads(manifest.read_text(encoding="utf-8")), catalog)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(manifest_of(catalog), indent=1, sort_keys=True), encoding="utf-8")
    log.info("Rules from %s: %s", catalog.source, ", ".join(f"{r.id}@{r.version}" for r in catalog.rules) or "none")
    _book = book
    _set_shadow(catalog, settings)
    if _shadow is not None:
        log.info("Shadow rules (alerts to alerts.shadow only): %s",
                 ", ".join(f"{r.id}@{r.version}" for r in catalog.shadow_rules))
    return book


def current_rule_book() -> RuleBook:
    """The book checked at start (built from the settings' catalogue when the worker did not start it, as in tests)."""
    global _book
    if _book is None:
        settings = load_settings()
        catalog = loaded_catalog(settings.rule_catalog)
        _book = rule_book(catalog, timedelta(seconds=settings.rule_lateness_seconds))
        _set_shadow(catalog, settings)
    return _book


def current_shadow_rules() -> Optional[ShadowRules]:
    """The shadow rules checked at start (read from the settings' catalogue when the worker did not start them)."""
    if _book is None:
        current_rule_book()
    return _shadow


def _set_shadow(catalog: Catalog, settings: Settings) -> None:
    # A shadow rule's state starts fresh whenever the shadow rules change what it depends on: a shadow run
    # is a trial, so it is never refused for wanting more history than it kept.
    global _shadow
    shadow = catalog.shadow()
    _shadow = None if shadow is None else ShadowRules(
        rule_book(shadow, timedelta(seconds=settings.rule_lateness_seconds)), fingerprint(shadow))
