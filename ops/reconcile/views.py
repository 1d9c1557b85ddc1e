"""The views' side of a reconciliation: read models over HTTP, asked to include a ledger position."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

import requests

__all__ = ["ViewAnswer", "ViewsClient", "ViewsError"]

K = TypeVar("K")

#: How long the owner may wait for its view to reach the asked position, per answer.
WAIT_MS = 5_000


class ViewsError(Exception):
    """The views could not be read; the message says what to do."""


class ViewAnswer:
    """A view's row for a key (None: the view does not have it), or `settled` False when the view had
    not reached the asked position in time."""

    __slots__ = ("row", "settled")

    def __init__(self, row: Optional[Dict[str, Any]], settled: bool = True) -> None:
        self.row, self.settled = row, settled


class ViewsClient:
    """GETs the account, customer and turnover views of any worker (each routes to the key's owner)."""

    def __init__(self, base_url: str, *, token: str = "", parallel: int = 8, timeout_s: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._parallel = parallel
        self._timeout = timeout_s
        self._session = requests.Session()

    def accounts(self, ids: Iterable[int], *, min_lsn: str) -> Dict[int, ViewAnswer]:
        return self._many(ids, lambda account: (f"/accounts/{account}", {}), min_lsn)

    def customers(self, ids: Iterable[int], *, min_lsn: str) -> Dict[int, ViewAnswer]:
        return self._many(ids, lambda customer: (f"/customers/{customer}", {"limit": "1"}), min_lsn)

    def turnover(self, days: Iterable[Tuple[int, str]], *, min_lsn: str) -> Dict[Tuple[int, str], ViewAnswer]:
        return self._many(days, lambda key: (f"/accounts/{key[0]}/turnover", {"day": key[1]}), min_lsn)

    def _many(self, keys: Iterable[K], request: Callable[[K], Tuple[str, Dict[str, str]]],
              min_lsn: str) -> Dict[K, ViewAnswer]:
        keys = list(keys)
        with ThreadPoolExecutor(max_workers=self._parallel) as pool:
            answers: List[ViewAnswer] = list(pool.map(lambda key: self._get(*request(key), min_lsn), keys))
        return dict(zip(keys, answers, strict=True))

    def _get(self, path: str, params: Dict[str, str], min_lsn: str) -> ViewAnswer:
        try:
            answer = self._session.get(f"{self._base}{path}", headers=self._headers, timeout=self._timeout,
                                       params={**params, "min_lsn": min_lsn, "wait_ms": str(WAIT_MS)})
        except requests.RequestException:
            raise ViewsError(f"the views at {self._base} are unreachable; check --views-url and that a worker "
                             "runs.") from None
        if answer.status_code == 200:
            return ViewAnswer(answer.json())
        if answer.status_code == 404:
            return ViewAnswer(None)
        if answer.status_code in (503, 504):  # not there yet (or the owner is moving): ask again next round
            return ViewAnswer(None, settled=False)
        if answer.status_code in (401, 403):
            raise ViewsError("the views refused the token; set WEB_TOKEN (or --token) to the workers' token.")
        raise ViewsError(f"GET {path} answered {answer.status_code}: {_problem(answer)}")


def _problem(answer: requests.Response) -> str:
    try:
        return str(answer.json().get("error", answer.text[:200]))
    except ValueError:
        return answer.text[:200]
