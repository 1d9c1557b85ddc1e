"""The connector commands: each takes a Context and its arguments, prints, and returns an exit code."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .apply import SETTLE_SECONDS, apply_connectors
from .connect_client import ConnectClient, ConnectError, first_trace_line
from .connector_files import ConnectorDefinition, load_connectors
from .diffing import diff_configs
from .secrets import Scrubber, references, secret_values, unknown_references

__all__ = [
    "OK", "FOUND", "FAILED", "CommandError", "Context",
    "apply", "diff", "validate", "refs", "list_connectors", "status",
    "pause", "resume", "stop", "restart", "delete", "offsets",
]

#: Exit codes, as diff(1): 0 nothing to report, 1 the command found something (a difference,
#: an invalid config, a FAILED connector, an unset variable), 2 the command could not do its job.
OK, FOUND, FAILED = 0, 1, 2


class CommandError(Exception):
    """A command that cannot go on; the message is one sentence saying what to do."""


@dataclass
class Context:
    client: ConnectClient
    folder: Path
    timeout: float = 90.0
    out: Callable[[str], None] = print
    scrub: Scrubber = field(default_factory=Scrubber)

    def say(self, line: str) -> None:
        self.out(self.scrub(line))

    def definitions(self, names: Sequence[str]) -> List[ConnectorDefinition]:
        found = load_connectors(names or None, folder=self.folder)
        if not found:
            raise CommandError(f"{self.folder} holds no connector files (*.yaml); add one or pass --connectors-dir.")
        # Whatever is printed from here on, a literal secret of these files never is.
        for definition in found:
            self.scrub = self.scrub.add(secret_values(definition.config))
        return found


# -- files against Connect -------------------------------------------------------------------


def apply(ctx: Context, names: Sequence[str], *, dry_run: bool = False) -> int:
    apply_connectors(ctx.client, ctx.definitions(names), timeout=ctx.timeout, dry_run=dry_run, say=ctx.say)
    return OK


def diff(ctx: Context, names: Sequence[str]) -> int:
    differs = False
    for definition in ctx.definitions(names):
        result = diff_configs(definition.name, definition.config, ctx.client.config(definition.name))
        differs = differs or result.differs
        for line in result.render():
            ctx.say(line)
    return FOUND if differs else OK


def validate(ctx: Context, names: Sequence[str]) -> int:
    errors = 0
    for definition in ctx.definitions(names):
        found = _validation_errors(ctx, definition)
        for key, message in found:
            ctx.say(f"{definition.name}: {key}: {message}")
        if not found:
            ctx.say(f"{definition.name}: valid")
        errors += len(found)
    return FOUND if errors else OK


def _validation_errors(ctx: Context, definition: ConnectorDefinition) -> List[tuple]:
    connector_class = definition.config.get("connector.class")
    if not connector_class:
        return [("connector.class", f"missing; {definition.path.name} must name the connector's class")]
    try:
        answer = ctx.client.validate(connector_class, {**definition.config, "name": definition.name})
    except ConnectError as exc:
        if exc.status in (400, 404, 500) and connector_class in str(exc):
            return [("connector.class", f"Kafka Connect has no plugin {connector_class}")]
        raise
    # Connect resolves references before validating, so its answer may hold resolved values.
    answered = {str(v.get("name")): v["value"] for v in (e.get("value") or {} for e in answer.get("configs", []))
                if isinstance(v.get("value"), str)}
    ctx.scrub = ctx.scrub.add(secret_values(answered))
    found = []
    for entry in answer.get("configs", []):
        value = entry.get("value") or {}
        for message in value.get("errors") or []:
            found.append((value.get("name", "?"), message))
    if answer.get("error_count") and not found:
        found.append(("(config)", f"{answer['error_count']} error(s) without a field"))
    return found


def refs(ctx: Context, names: Sequence[str], *, env_files: Sequence[Path] = ()) -> int:
    """Every ${env:...} / ${file:...} reference of the files, and whether it is known here."""
    environ: Dict[str, str] = dict(os.environ)
    for path in env_files:
        environ.update(dict.fromkeys(_env_file_names(path), ""))
    unknown_count = 0
    for definition in ctx.definitions(names):
        found = references(definition.config)
        unknown = unknown_references(found, environ)
        unknown_count += len(unknown)
        for ref in found:
            verdict = f"unknown: {unknown[ref]}" if ref in unknown else "known"
            ctx.say(f"{definition.name}: {ref.key}: {ref.text} {verdict}")
        literal = [key for key, value in definition.config.items() if secret_values({key: value})]
        for key in literal:
            ctx.say(f"{definition.name}: {key}: a literal secret; write a reference (${{env:VAR}}) instead")
        if not found and not literal:
            ctx.say(f"{definition.name}: no references")
    return FOUND if unknown_count else OK


def _env_file_names(path: Path) -> List[str]:
    """Variable names of a KEY=VALUE file (as deploy/.env); values are not read out."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise CommandError(f"{path} cannot be read ({exc.strerror}); check --env-file.") from None
    names = []
    for line in lines:
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].strip()
        if line and not line.startswith("#") and "=" in line:
            names.append(line.split("=", 1)[0].strip())
    return names


# -- live state ------------------------------------------------------------------------------


def list_connectors(ctx: Context) -> int:
    statuses = ctx.client.connectors_with_status()
    if not statuses:
        ctx.say(f"no connectors on {ctx.client.url}")
    for name, body in statuses.items():
        tasks = body.get("tasks") or []
        counts: Dict[str, int] = {}
        for task in tasks:
            counts[task["state"]] = counts.get(task["state"], 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none"
        ctx.say(f"{name}: {body['connector']['state']} (tasks: {summary})")
    return OK


def status(ctx: Context, names: Sequence[str]) -> int:
    if names:
        statuses = {name: ctx.client.require_status(name) for name in names}
    else:
        statuses = ctx.client.connectors_with_status()
        if not statuses:
            ctx.say(f"no connectors on {ctx.client.url}")
    failed = False
    for name, body in statuses.items():
        connector = body["connector"]
        ctx.say(f"{name}: {_state_line(connector)}")
        failed = failed or connector["state"] == "FAILED"
        for task in sorted(body.get("tasks") or [], key=lambda t: t["id"]):
            ctx.say(f"  task {task['id']}: {_state_line(task)}")
            failed = failed or task["state"] == "FAILED"
    return FOUND if failed else OK


def _state_line(entry: Mapping[str, Any]) -> str:
    line = f"{entry['state']} on {entry.get('worker_id', '?')}"
    if entry["state"] == "FAILED":
        line += f": {first_trace_line(entry.get('trace'))}"
    return line


# -- lifecycle -------------------------------------------------------------------------------


def pause(ctx: Context, names: Sequence[str]) -> int:
    return _transition(ctx, names, ctx.client.pause, "PAUSED")


def resume(ctx: Context, names: Sequence[str]) -> int:
    return _transition(ctx, names, ctx.client.resume, "RUNNING")


def stop(ctx: Context, names: Sequence[str]) -> int:
    return _transition(ctx, names, ctx.client.stop, "STOPPED")


def _transition(ctx: Context, names: Sequence[str], call: Callable[[str], None], wanted: str) -> int:
    for name in names:
        call(name)
        ctx.client.wait_state(name, wanted, timeout=ctx.timeout)
        ctx.say(f"{name}: {wanted}")
    return OK


def restart(ctx: Context, names: Sequence[str], *, failed_only: bool = False) -> int:
    for name in names:
        answer = ctx.client.restart(name, failed_only=failed_only) or {}
        restarting = [entry for entry in [answer.get("connector") or {}, *(answer.get("tasks") or [])]
                      if entry.get("state") == "RESTARTING"]
        if answer and not restarting:
            ctx.say(f"{name}: nothing {'failed' if failed_only else 'to restart'}; nothing restarted")
            continue
        ctx.client.wait_running(name, timeout=ctx.timeout, settle=SETTLE_SECONDS)
        ctx.say(f"{name}: restarted, RUNNING")
    return OK


def delete(ctx: Context, names: Sequence[str]) -> int:
    for name in names:
        config = ctx.client.config(name) or {}
        ctx.client.delete(name)
        _wait_gone(ctx, name)
        ctx.say(f"{name}: deleted")
        slot = config.get("slot.name")
        if slot:
            ctx.say(f"  its replication slot {slot} stays in PostgreSQL and holds WAL back; when nothing needs it, "
                    f"run SELECT pg_drop_replication_slot('{slot}');")
    return OK


def _wait_gone(ctx: Context, name: str) -> None:
    deadline = time.monotonic() + ctx.timeout
    while name in ctx.client.connectors():
        if time.monotonic() >= deadline:
            raise CommandError(f"Connector {name} was still listed {ctx.timeout:.0f} s after its deletion; "
                               "see `python -m ops.connectors status`.")
        time.sleep(0.25)


def offsets(ctx: Context, name: str, *, reset: bool = False) -> int:
    if reset:
        state = ctx.client.require_status(name)["connector"]["state"]
        if state != "STOPPED":
            raise CommandError(f"Connector {name} is {state}; stop it first (`python -m ops.connectors stop {name}`), "
                               "then reset its offsets.")
        ctx.say(f"{name}: {ctx.client.reset_offsets(name)}")
        return OK
    # A null offset is a reset's tombstone that Connect can still list for a while: no offset.
    found = [entry for entry in ctx.client.offsets(name) if entry.get("offset") is not None]
    if not found:
        ctx.say(f"{name}: no offsets committed")
    for entry in found:
        ctx.say(f"{name}: partition {_compact(entry.get('partition'))} offset {_compact(entry.get('offset'))}")
    return OK


def _compact(value: Optional[Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
