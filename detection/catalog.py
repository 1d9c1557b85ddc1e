"""The rule catalogue: detection/catalog.yaml (or RULE_CATALOG) read and checked into typed rule specs.

Every problem is one sentence naming the file, the rule and the field, and saying what to do. Reading
happens when the worker starts (`loaded_catalog`), never at import. The reference is docs/rules.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import yaml

from .withdrawals import RuleSettings

__all__ = ["CatalogError", "Filter", "RuleSpec", "Catalog", "Param", "KINDS", "SEVERITIES", "DEFAULT_CATALOG",
           "parse_catalog", "read_catalog", "loaded_catalog", "parse_duration", "format_duration"]

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")
SEVERITIES = ("low", "medium", "high", "critical")
TRANSACTION_KINDS = ("withdrawal", "deposit", "any")
_ID = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_RULE_FIELDS = ("id", "version", "kind", "severity", "filter", "parameters", "output", "mode")
#: A rule runs live (its alerts go to the live topic and view) or in shadow (beside it, to alerts.shadow only).
MODES = ("live", "shadow")


class CatalogError(ValueError):
    """A catalogue that cannot be used; the message is one sentence naming the rule and field."""


@dataclass(frozen=True)
class Param:
    """One parameter of a kind: its type (duration, int, money, share, or a choice) and the range it accepts."""

    type: str
    low: Any = None
    high: Any = None
    choices: Tuple[str, ...] = ()
    help: str = ""

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        low, high = (format_duration(v) if isinstance(v, timedelta) else str(v) for v in (self.low, self.high))
        if self.type == "share":
            return f"a decimal above {low} and at most {high}, quoted (\"0.90\")"
        if self.type == "money":
            return f"quoted decimal text from {low} to {high} (\"200.00\")"
        return f"{'a duration' if self.type == 'duration' else 'a whole number'} from {low} to {high}"


#: Per kind: its parameters, and whether this worker runs it (keyed-sum waits for the customer stream).
KINDS: Dict[str, Dict[str, Param]] = {
    "time-window": {
        "window": Param("duration", timedelta(seconds=1), timedelta(days=1), help="Esper win:time(window)"),
        "count": Param("int", 1, 1000, help="members of the window that alert"),
    },
    "count-window": {
        "length": Param("int", 1, 100, help="Esper win:length(length)"),
        "total": Param("money", Decimal("0.01"), Decimal("1000000000.00"), help="sum of the window that alerts"),
    },
    "followed-by": {
        "then": Param("choice", choices=("withdrawal", "deposit"), help="the kind of the b events"),
        "within": Param("duration", timedelta(seconds=1), timedelta(days=1), help="timer:within(within)"),
        "share": Param("share", Decimal(0), Decimal(1), help="b's sum that completes the match, as a share of a's"),
    },
    "absence": {
        "silence": Param("duration", timedelta(seconds=1), timedelta(days=3650), help="nothing for this long"),
    },
    "keyed-sum": {
        "key": Param("choice", choices=("customer",), help="the entity the sum is re-keyed by"),
        "window": Param("duration", timedelta(seconds=1), timedelta(days=1), help="Esper win:time(window)"),
        "total": Param("money", Decimal("0.01"), Decimal("1000000000.00"), help="sum per key that alerts"),
    },
}
#: Kinds the worker evaluates today; a catalogue declaring another is refused at start.
RUNNABLE_KINDS = ("time-window", "count-window", "followed-by", "absence")
#: Esper's output rate limiting (`output first every T`): a duration within this range.
FIRST_EVERY = Param("duration", timedelta(seconds=1), timedelta(days=30))


@dataclass(frozen=True)
class Filter:
    """The transactions a rule looks at: of `kind` (or any) and at least `min_amount`."""

    kind: str
    min_amount: Decimal

    def admits(self, kind: str, amount: Decimal) -> bool:
        return (self.kind == "any" or kind == self.kind) and amount >= self.min_amount


@dataclass(frozen=True)
class RuleSpec:
    id: str
    version: int
    kind: str
    severity: str
    filter: Filter
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: Output rate limiting: the first alert per account, then none for this long (None: off).
    first_every: Optional[timedelta] = None
    #: "live", or "shadow": evaluated beside the live rules with state of its own, alerts to alerts.shadow only.
    mode: str = "live"

    def history_needed(self) -> Tuple[str, Any]:
        """The parameter that says how much history the rule's state keeps, and its value ('', None: none)."""
        name = {"time-window": "window", "count-window": "length", "followed-by": "within",
                "keyed-sum": "window"}.get(self.kind)
        return (name, self.parameters[name]) if name else ("", None)


@dataclass(frozen=True)
class Catalog:
    """The live rules (`rules`: what every consumer of the catalogue runs) and the shadow ones apart."""

    rules: Tuple[RuleSpec, ...]
    source: str = str(DEFAULT_CATALOG)
    shadow_rules: Tuple[RuleSpec, ...] = ()

    def shadow(self) -> Optional["Catalog"]:
        """The shadow rules as a catalogue of their own (None when there are none)."""
        return Catalog(self.shadow_rules, self.source) if self.shadow_rules else None

    def rule(self, rule_id: str) -> RuleSpec:
        return next(r for r in self.rules if r.id == rule_id)

    def of_kind(self, kind: str) -> Tuple[RuleSpec, ...]:
        return tuple(r for r in self.rules if r.kind == kind)

    def withdrawal_settings(self, lateness: timedelta = RuleSettings.lateness) -> RuleSettings:
        """The settings of detection/withdrawals.py: its time window and count window rules, one history."""
        time_rule = next(iter(self.of_kind("time-window")), None)
        count_rule = next(iter(self.of_kind("count-window")), None)
        shared = time_rule or count_rule
        defaults = RuleSettings()
        return RuleSettings(
            large=shared.filter.min_amount if shared else defaults.large,
            window=time_rule.parameters["window"] if time_rule else defaults.window,
            count=time_rule.parameters["count"] if time_rule else defaults.count,
            length=count_rule.parameters["length"] if count_rule else defaults.length,
            burst_total=count_rule.parameters["total"] if count_rule else defaults.burst_total,
            lateness=lateness,
            rapid_rule=time_rule.id if time_rule else None,
            burst_rule=count_rule.id if count_rule else None,
        )


def parse_catalog(text: str, source: str = "catalog") -> Catalog:
    """The catalogue in `text` (YAML), checked; CatalogError names the first problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CatalogError(f"{source} is not valid YAML{where}; fix the file or point RULE_CATALOG at another.") \
            from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise CatalogError(f"{source} has no `rules:` list at its top; declare the rules as a list under `rules:`.")
    unknown = sorted(set(data) - {"rules"})
    if unknown:
        raise CatalogError(f"{source} has unknown top-level field {unknown[0]!r}; only `rules:` is read.")
    rules = tuple(_rule(source, index, entry) for index, entry in enumerate(data["rules"], start=1))
    live = tuple(r for r in rules if r.mode == "live")
    shadow = tuple(r for r in rules if r.mode == "shadow")
    # Each set runs on its own (its own withdrawal history and state), so each is checked as a catalogue.
    _check_together(source, live)
    _check_together(f"{source} (shadow rules)", shadow)
    for rule in shadow:
        twin = next((r for r in live if r.id == rule.id), None)
        if twin is not None and twin.version == rule.version:
            raise CatalogError(f"{source}: rule {rule.id} runs live and in shadow at version {rule.version}; give the "
                               f"shadow another version (e.g. {rule.version + 1}) so their alerts say which is which.")
    return Catalog(live, source, shadow)


def read_catalog(path: Optional[str] = None) -> Catalog:
    """The catalogue file at `path` (empty or None: detection/catalog.yaml), checked."""
    location = Path(path) if path else DEFAULT_CATALOG
    try:
        text = location.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"the rule catalogue {location} cannot be read ({exc.strerror or exc}); "
                           f"set RULE_CATALOG to a readable file or unset it.") from None
    return parse_catalog(text, str(location))


_loaded: Dict[str, Catalog] = {}


def loaded_catalog(path: Optional[str] = None) -> Catalog:
    """The process's catalogue, read once per path (the worker reads it at start, see app.py)."""
    key = path or ""
    if key not in _loaded:
        _loaded[key] = read_catalog(path)
    return _loaded[key]


def parse_duration(value: Any) -> Optional[timedelta]:
    """'90s', '10m', '2h', '30d', '29d23h59m59s' as a timedelta; None when it is not one."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) and value else None
    if not match:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _rule(source: str, index: int, entry: Any) -> RuleSpec:
    if not isinstance(entry, dict):
        raise CatalogError(f"{source}: rule #{index} is not a mapping; give each rule as `- id: ...` with its fields.")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        raise CatalogError(f"{source}: rule #{index} has id {rule_id!r}; give it an id of lower-case words joined "
                           f"by hyphens, such as deposit-then-drain.")
    where = f"{source}: rule {rule_id}"
    for name in entry:
        if name not in _RULE_FIELDS:
            raise CatalogError(f"{where} has unknown field {name!r}; the fields are {', '.join(_RULE_FIELDS)}.")
    for name in ("version", "kind", "severity", "filter", "parameters"):
        if name not in entry:
            raise CatalogError(f"{where} has no {name}; every rule declares {', '.join(_RULE_FIELDS[:-2])}.")
    version = entry["version"]
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 1_000_000:
        raise CatalogError(f"{where}: version is {version!r}; give a whole number from 1 to 1000000.")
    kind = entry["kind"]
    if kind not in KINDS:
        raise CatalogError(f"{where}: kind is {kind!r}; give one of {', '.join(KINDS)}.")
    severity = entry["severity"]
    if severity not in SEVERITIES:
        raise CatalogError(f"{where}: severity is {severity!r}; give one of {', '.join(SEVERITIES)}.")
    rule_filter = _filter(where, entry["filter"])
    if kind in ("time-window", "count-window") and rule_filter.kind != "withdrawal":
        raise CatalogError(f"{where}: filter.kind is {rule_filter.kind!r}; {_a(kind)} rule looks at withdrawals, "
                           f"so give withdrawal.")
    parameters = _parameters(where, kind, entry["parameters"])
    mode = entry.get("mode", "live")
    if mode not in MODES:
        raise CatalogError(f"{where}: mode is {mode!r}; give live or shadow, or leave mode out (live).")
    if mode == "shadow":
        where = f"{where} (shadow)"
    return RuleSpec(rule_id, version, kind, severity, rule_filter, parameters, _output(where, entry.get("output")),
                    mode)


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _filter(where: str, value: Any) -> Filter:
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: filter is {value!r}; give a mapping such as {{kind: withdrawal, "
                           f"min_amount: \"200.00\"}}.")
    for name in value:
        if name not in ("kind", "min_amount"):
            raise CatalogError(f"{where}: filter has unknown field {name!r}; the fields are kind and min_amount.")
    kind = value.get("kind")
    if kind not in TRANSACTION_KINDS:
        raise CatalogError(f"{where}: filter.kind is {kind!r}; give one of {', '.join(TRANSACTION_KINDS)}.")
    amount = _money(where, "filter.min_amount", value.get("min_amount", "0.00"),
                    Param("money", Decimal("0.00"), Decimal("1000000000.00")))
    return Filter(kind, amount)


def _parameters(where: str, kind: str, value: Any) -> Dict[str, Any]:
    specs = KINDS[kind]
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: parameters is {value!r}; give a mapping of {', '.join(specs)}.")
    for name in value:
        if name not in specs:
            raise CatalogError(f"{where}: parameters has unknown field {name!r}; {_a(kind)} rule takes "
                               f"{', '.join(specs)}.")
    parsed = {}
    for name, spec in specs.items():
        if name not in value:
            raise CatalogError(f"{where}: parameters.{name} is missing; {_a(kind)} rule takes {', '.join(specs)}.")
        parsed[name] = _PARSERS[spec.type](where, f"parameters.{name}", value[name], spec)
    return parsed


def _output(where: str, value: Any) -> Optional[timedelta]:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"first_every"}:
        raise CatalogError(f"{where}: output is {value!r}; give {{first_every: <duration>}} or leave output out.")
    return _duration(where, "output.first_every", value["first_every"], FIRST_EVERY)


def _out_of_range(where: str, name: str, value: Any, spec: Param) -> CatalogError:
    return CatalogError(f"{where}: {name} is {value!r}; give {spec.describe()}.")


def _duration(where: str, name: str, value: Any, spec: Param) -> timedelta:
    parsed = parse_duration(value)
    if parsed is None or not spec.low <= parsed <= spec.high:
        raise _out_of_range(where, name, value, spec)
    return parsed


def _int(where: str, name: str, value: Any, spec: Param) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
        raise _out_of_range(where, name, value, spec)
    return value


def _money(where: str, name: str, value: Any, spec: Param) -> Decimal:
    # A YAML float (200.5) has already lost exactness; amounts are text, as everywhere in the pipeline.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _out_of_range(where, name, value, spec)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _out_of_range(where, name, value, spec) from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")) or not spec.low <= amount <= spec.high:
        raise _out_of_range(where, name, value, spec)
    return amount.quantize(Decimal("0.01"))


def _share(where: str, name: str, value: Any, spec: Param) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _out_of_range(where, name, value, spec)
    try:
        share = Decimal(str(value))
    except InvalidOperation:
        raise _out_of_range(where, name, value, spec) from None
    if not share.is_finite() or not spec.low < share <= spec.high:
        raise _out_of_range(where, name, value, spec)
    return share


def _choice(where: str, name: str, value: Any, spec: Param) -> str:
    if value not in spec.choices:
        raise _out_of_range(where, name, value, spec)
    return str(value)


_PARSERS: Dict[str, Callable[[str, str, Any, Param], Any]] = {
    "duration": _duration, "int": _int, "money": _money, "share": _share, "choice": _choice}


def _check_together(source: str, rules: Tuple[RuleSpec, ...]) -> None:
    seen: Dict[str, RuleSpec] = {}
    for rule in rules:
        if rule.id in seen:
            raise CatalogError(f"{source}: rule {rule.id} is declared twice; give each rule one entry.")
        seen[rule.id] = rule
    for kind in ("time-window", "count-window"):
        same = [r.id for r in rules if r.kind == kind]
        if len(same) > 1:
            raise CatalogError(f"{source}: rule {same[1]} is a second {kind} rule after {same[0]}; the withdrawal "
                               f"history holds one time window and one count window, so declare one of each at most.")
    windows = [r for r in rules if r.kind in ("time-window", "count-window")]
    if len(windows) == 2 and windows[0].filter != windows[1].filter:
        raise CatalogError(f"{source}: rule {windows[1].id} has another filter than {windows[0].id}; the two share "
                           f"one history of withdrawals, so give them the same filter.")
