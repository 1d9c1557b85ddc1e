"""`.stack/env`: the stack's addresses as shell assignments, readable by its owner only."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Dict, Mapping

__all__ = ["env_file_text", "write_env_file", "read_env_file"]


def env_file_text(values: Mapping[str, str]) -> str:
    """One `NAME=value` line per variable, each value quoted so that a shell reads it back unchanged."""
    return "".join(f"{name}={shlex.quote(str(value))}\n" for name, value in values.items())


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write the file with mode 0600 from its first byte: a URL in it may carry a password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # a file from an earlier version may have been world-readable
        out.write(env_file_text(values))


def read_env_file(path: Path) -> Dict[str, str]:
    """The variables of a file written by write_env_file (or by hand: blank lines and # comments skipped)."""
    values: Dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, raw = line.removeprefix("export ").partition("=")
        words = shlex.split(raw)
        values[name.strip()] = words[0] if words else ""
    return values
