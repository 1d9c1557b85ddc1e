"""What the rule commands (and GET /rules/shadow) take: times, ISO 8601 and UTC unless the text says otherwise,
and a choice of rules by id."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional, Sequence, Tuple

from detection.catalog import RuleSpec

__all__ = ["UsageError", "option_time", "chosen_rules"]


class UsageError(Exception):
    """A command line that cannot be carried out; the message says what to do instead."""


def option_time(text: Optional[str], option: str) -> Optional[datetime]:
    """The time `text` given to `option` (None when not given); UsageError with an example when it is not one."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} takes an ISO 8601 time like 2026-03-01T00:00Z, not {text!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def chosen_rules(rules: Sequence[RuleSpec], wanted: Optional[Sequence[str]], *, what: str) -> Tuple[RuleSpec, ...]:
    """The rules named in `wanted` (all of them when none is), or UsageError naming the unknown ones and the
    choices; `what` says where the rules come from, as the message starts ("catalog.yaml has no rule")."""
    if not wanted:
        return tuple(rules)
    unknown = sorted(set(wanted) - {r.id for r in rules})
    if unknown:
        raise UsageError(f"{what} {', '.join(unknown)}; name one of {', '.join(r.id for r in rules)}.")
    return tuple(r for r in rules if r.id in wanted)
