"""Secrets in connector configs: which keys hold one, masking them, and the references that stand in."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

__all__ = [
    "MASK",
    "Reference",
    "is_secret_key",
    "is_reference",
    "mask_value",
    "masked_config",
    "secret_values",
    "references",
    "unknown_references",
    "Scrubber",
    "mask_passwords",
]

MASK = "****"

# Kafka Connect's config provider syntax: ${provider:[path:]key}. A placeholder without a
# colon (the outbox router's ${routedByValue}) is no reference.
_REFERENCE = re.compile(r"\$\{([^}:]*?):(?:([^}]*?):)?([^}]*?)\}")

# A key holds a secret when it says so: database.password, database.sslpassword,
# ssl.key.password, sasl.jaas.config, basic.auth.user.info, an api.key, a token, and a key
# itself (ssl.keystore.key, a private or signing key; not a record key such as event.key).
_SECRET_KEY = re.compile(
    r"password|passwd|secret|token|credential"
    r"|(^|[._-])(pwd|jaas\.config|user\.info|api\.key|private\.key|access\.key)($|[._-])"
    r"|(^|[._-])(ssl|keystore|truststore|private|secret|api|access|signing|encryption)([._-][a-z]+)*[._-]key$",
    re.IGNORECASE,
)
# user:password@ inside a URL, in any value (connection.url, database.url...).
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@/\s]+)(?P<tail>@)", re.IGNORECASE)
# A password as a parameter: a JDBC or libpq URL's `?password=` / `&sslpassword=`, and a libpq
# keyword string's `password=...` or `password = 'quoted \' value'`.
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>(?:^|[\s?&;])[a-z_.-]*password\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|[^\s&;']*)",
    re.IGNORECASE)


def mask_passwords(text: str, mask: str = MASK) -> str:
    """`text` with every password it spells out masked: in a URL's user info, as a URL parameter,
    or as a libpq keyword. References (${env:...}) are kept: they hold no secret."""
    def keep_reference(match, group):
        return match[group] if is_reference(match[group]) else mask

    text = _URL_PASSWORD.sub(lambda m: m["head"] + keep_reference(m, "password") + m["tail"], text)
    return _KEYWORD_PASSWORD.sub(
        lambda m: m["head"] + (keep_reference(m, "password") if m["password"] else ""), text)


@dataclass(frozen=True)
class Reference:
    """One ${provider:[path:]key} reference in a config value."""

    key: str  # the config key it appears in
    text: str  # the reference as written
    provider: str
    path: Optional[str]
    name: str  # the variable (env) or the key inside the file (file)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def is_reference(value: str) -> bool:
    """The whole value is one reference: Connect resolves it, nothing secret is in our hands."""
    match = _REFERENCE.fullmatch(value.strip())
    return match is not None


def mask_value(key: str, value: Optional[str]) -> Optional[str]:
    """The value as it may be shown: a secret key's literal value masked, URL passwords masked."""
    if value is None:
        return None
    if is_secret_key(key) and value and not is_reference(value):
        return MASK
    return mask_passwords(value)


def masked_config(config: Mapping[str, str]) -> Dict[str, Optional[str]]:
    return {key: mask_value(key, value) for key, value in config.items()}


def secret_values(config: Mapping[str, Optional[str]]) -> List[str]:
    """The literal values of a config's secret keys (references excluded): what must never show."""
    return [value for key, value in config.items() if value and is_secret_key(key) and not is_reference(value)]


def references(config: Mapping[str, str]) -> List[Reference]:
    found = []
    for key, value in config.items():
        for match in _REFERENCE.finditer(value or ""):
            provider, path, name = match.group(1), match.group(2), match.group(3)
            found.append(Reference(key, match.group(0), provider, path, name))
    return found


def unknown_references(refs: Iterable[Reference], environ: Mapping[str, str] = os.environ) -> Dict[Reference, str]:
    """Each reference that cannot be resolved here, with the reason; values are never read out.

    `${env:VAR}` is known when VAR is set in `environ`; `${file:PATH:KEY}` when PATH is a
    readable properties file with KEY. That is the check for local use, where the CLI and the
    Connect worker share a machine; elsewhere only the worker's own environment can say.
    """
    unknown: Dict[Reference, str] = {}
    for ref in refs:
        if ref.provider == "env":
            if ref.path:
                unknown[ref] = "an env reference has no path; write ${env:VAR}"
            elif ref.name not in environ:
                unknown[ref] = f"{ref.name} is not set"
        elif ref.provider == "file":
            if not ref.path:
                unknown[ref] = "a file reference needs a path; write ${file:PATH:KEY}"
            else:
                reason = _file_key_missing(Path(ref.path), ref.name)
                if reason:
                    unknown[ref] = reason
        else:
            unknown[ref] = f"no config provider {ref.provider!r} is known here (env and file are)"
    return unknown


def _file_key_missing(path: Path, key: str) -> Optional[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        name = re.split(r"\s*[=:]\s*|\s+", stripped, maxsplit=1)[0]
        if name == key:
            return None
    return f"{path} has no key {key}"


class Scrubber:
    """Replaces known secret values in any text (an error message may echo a value)."""

    def __init__(self, values: Iterable[Optional[str]] = ()) -> None:
        self._values = sorted({v for v in values if v and len(v) >= 3 and v != MASK}, key=len, reverse=True)

    def add(self, values: Iterable[Optional[str]]) -> "Scrubber":
        return Scrubber([*self._values, *values])

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MASK)
        return mask_passwords(text)
