"""The top level reads as the architecture: few import names, none shadowing an installed package."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The design card's names, which the layout keeps whatever else moves.
CARD = {"app", "agents", "tables", "cdc", "schemas", "tests"}
MOST_TOP_LEVEL_NAMES = 15


def our_import_names() -> set[str]:
    names = {p.stem for p in ROOT.glob("*.py")}
    names |= {p.parent.name for p in ROOT.glob("*/__init__.py")}
    return names


def test_the_design_cards_names_are_there():
    assert CARD <= our_import_names()


def test_the_top_level_stays_small():
    names = our_import_names()
    assert len(names) <= MOST_TOP_LEVEL_NAMES, f"{len(names)} top-level import names: {sorted(names)}"


def test_no_top_level_name_of_ours_is_an_installed_distributions_import_name():
    # Another distribution's module of the same name would shadow ours, or ours it, depending on
    # sys.path order: the kind of bug that only shows on someone else's machine.
    taken = {
        name: dists for name, dists in importlib.metadata.packages_distributions().items()
        if set(dists) != {"ledgerstream"}
    }
    clashes = {name: taken[name] for name in our_import_names() if name in taken}
    assert not clashes, f"top-level names also installed by other distributions: {clashes}"
