"""Parsing of request parameters: a bad one is a 400 that names it."""

from __future__ import annotations

from faust.web.exceptions import WebError

__all__ = ["BadParameter", "parse_id", "reject_unknown"]

_MAX_ID = 2**63 - 1  # ids are bigserial


class BadParameter(WebError):
    code = 400


def parse_id(value: str, name: str) -> int:
    """A positive 64-bit id, written as plain decimal digits."""
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise BadParameter(f"`{name}` must be a positive integer id", parameter=name)
    number = int(value)
    if not 0 < number <= _MAX_ID:
        raise BadParameter(f"`{name}` must be a positive integer id", parameter=name)
    return number


def reject_unknown(request, allowed) -> None:
    """An unknown query parameter is a 400 naming it: a typo should not pass silently."""
    for name in request.query:
        if name not in allowed:
            raise BadParameter(f"unknown query parameter `{name}`", parameter=name)
