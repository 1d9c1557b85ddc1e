"""A tiny HTTP GET for tests: status and decoded JSON body."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Tuple

__all__ = ["get_json"]


def get_json(url: str, timeout: float = 5.0) -> Tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, body.decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)
