"""Desired (file) against live (Connect) connector config, key by key, with secrets masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

from .secrets import mask_value

__all__ = ["KeyChange", "ConfigDiff", "diff_configs", "comparable"]


@dataclass(frozen=True)
class KeyChange:
    """One key that apply would change: added (only in the file), removed (only live), changed."""

    key: str
    kind: str  # "added" | "removed" | "changed"
    desired: Optional[str]
    live: Optional[str]

    def render(self) -> str:
        desired, live = mask_value(self.key, self.desired), mask_value(self.key, self.live)
        if self.kind == "added":
            return f"+ {self.key}: {desired}"
        if self.kind == "removed":
            return f"- {self.key}: {live}"
        if desired == live:  # both masked: say that it changed, never what it is
            return f"~ {self.key}: (secret changed)"
        return f"~ {self.key}: {live} -> {desired}"


@dataclass(frozen=True)
class ConfigDiff:
    name: str
    exists: bool  # the connector is live at all
    changes: List[KeyChange]

    @property
    def differs(self) -> bool:
        return not self.exists or bool(self.changes)

    def render(self) -> List[str]:
        if not self.differs:
            return [f"{self.name}: no difference"]
        head = (f"{self.name}: not on Kafka Connect; apply creates it" if not self.exists
                else f"{self.name}: {len(self.changes)} difference{'s' if len(self.changes) != 1 else ''}")
        return [head] + [f"  {change.render()}" for change in self.changes]


def comparable(config: Optional[Mapping[str, str]]) -> Optional[Dict[str, str]]:
    """A config as apply compares it: Connect adds `name` to what it stores, files need not."""
    if config is None:
        return None
    return {key: value for key, value in config.items() if key != "name"}


def diff_configs(name: str, desired: Mapping[str, str], live: Optional[Mapping[str, str]]) -> ConfigDiff:
    wanted, live_cmp = comparable(desired) or {}, comparable(live)
    if live_cmp is None:
        return ConfigDiff(name, False, [KeyChange(k, "added", v, None) for k, v in sorted(wanted.items())])
    changes = []
    for key in sorted(wanted.keys() | live_cmp.keys()):
        if key not in live_cmp:
            changes.append(KeyChange(key, "added", wanted[key], None))
        elif key not in wanted:
            changes.append(KeyChange(key, "removed", None, live_cmp[key]))
        elif wanted[key] != live_cmp[key]:
            changes.append(KeyChange(key, "changed", wanted[key], live_cmp[key]))
    return ConfigDiff(name, True, changes)
