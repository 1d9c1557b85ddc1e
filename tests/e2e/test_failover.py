"""Three workers, killed in turn while the ledger posts: the survivors keep answering for every key,
and the end state equals the ledger and the alert oracle.

Each worker is SIGKILLed once (one of them losing its local state), and left dead until the
survivors serve all of its keys: that time is the failover time, printed per kill. With a standby
replica (TABLE_STANDBY_REPLICAS=1) the survivors hold warm copies of the dead worker's partitions.
A prober asks random keys of the live workers all along: every answer is the key's row, or a JSON
503 with Retry-After while its partition moves, never an error or a wrong "not found". The run is
seeded: FAILOVER_TEST_SEED repeats it; FAILOVER_TEST_STANDBY=0 runs it without standbys.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

import pytest

from dev.stack.layout import StackLayout
from tests.support import oracle
from tests.support.consistency import (
    balance_mismatches,
    ledger_transactions,
    sql_balances,
    sql_turnover,
    summary,
    topic_alerts,
    wait_until_views_agree,
)
from tests.support.ledger_load import LoadPlan, LoadRunner
from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.long]

WORKERS = 3
ACCOUNTS = 120
POSTINGS = 6_000
RATE = 100  # postings per second: a minute of load, long enough for the three kills
START = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)
#: Until the survivors serve every key of a dead worker: a session timeout, a rebalance, recovery.
FAILOVER_DEADLINE = 120
CATCH_UP = 300


class Prober:
    """Asks a random key of a random live worker, one request at a time, and keeps every answer."""

    def __init__(self, accounts: List[int], rng: random.Random) -> None:
        self.accounts, self.rng = accounts, rng
        self.live: List[str] = []
        self.answers: List[Tuple[str, int, int, Optional[str]]] = []  # url, account, status, problem
        self._lock = threading.Lock()  # held for the length of one request
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, url: str) -> None:
        with self._lock:
            self.live.append(url)

    def remove(self, url: str) -> None:
        """Stop asking `url`; returns once no request to it is under way (so a kill breaks none)."""
        with self._lock:
            self.live.remove(url)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                if not self.live:
                    continue
                url, account = self.rng.choice(self.live), self.rng.choice(self.accounts)
                self.answers.append((url, account, *_ask(f"{url}/accounts/{account}")))

    def problems(self) -> List[Tuple[str, int, int, Optional[str]]]:
        return [a for a in self.answers if a[3] is not None]


def _ask(url: str) -> Tuple[int, Optional[str]]:
    """(status, None) for a good answer: the row, or a JSON 503 that says when to retry."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        body = exc.read()[:300]
        if exc.code == 503 and exc.headers.get("Retry-After") and body.startswith(b"{"):
            return 503, None
        return exc.code, body.decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


def unanswered(urls: List[str], accounts: List[int]) -> List[int]:
    """The accounts that some live worker cannot serve right now (every account asked of every worker)."""
    def served(pair: Tuple[str, int]) -> bool:
        status, problem = _ask(f"{pair[0]}/accounts/{pair[1]}")
        return status == 200 and problem is None

    pairs = [(url, account) for url in urls for account in accounts]
    with ThreadPoolExecutor(8) as pool:
        ok = list(pool.map(served, pairs))
    return sorted({account for (_, account), good in zip(pairs, ok, strict=True) if not good})


# An open defect, kept visible rather than skipped: behind the hot-key test's backlog (make test-long), a run
# ended with turnover days short (59 account-days, up to half their count) after the kills, although the
# crash test passes. Where a failover still loses turnover updates is not found yet (docs/reliability.md).
@pytest.mark.xfail(reason="open defect: turnover updates can be lost when workers are killed in turn under a big "
                          "backlog (see docs/reliability.md, Known defect)", strict=False)
def test_three_workers_killed_in_turn_keep_serving_and_lose_nothing(db, stack_env, start_test_worker):
    seed = int(os.environ.get("FAILOVER_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nfailover: seed {seed} (FAILOVER_TEST_SEED={seed} repeats this run)")
    rng = random.Random(seed)
    layout = StackLayout.from_env(stack_env)
    accounts = [open_account(db, "0")[1] for _ in range(ACCOUNTS)]
    app_id = f"failover-{uuid.uuid4().hex[:8]}"
    standby = os.environ.get("FAILOVER_TEST_STANDBY", "1")  # 0 compares the failover without a standby
    settings = {"TABLE_STANDBY_REPLICAS": standby}
    names = [f"{app_id}-{i}" for i in range(WORKERS)]
    workers = {name: start_test_worker(app_id=app_id, name=name, env=settings, wait=False) for name in names}
    for worker in workers.values():
        eventually(lambda w=worker: _ask(f"{w.url}/readyz")[0], lambda status: status == 200, timeout=240,
                   what="every worker ready")

    kill_order = rng.sample(names, WORKERS)
    wiped = rng.choice(kill_order)
    kill_points = sorted(rng.randrange(int(POSTINGS * (0.1 + 0.25 * i)), int(POSTINGS * (0.3 + 0.25 * i)))
                         for i in range(WORKERS))
    plan = LoadPlan(random.Random(rng.getrandbits(64)), accounts, START)
    load = LoadRunner(stack_env["DATABASE_URL"], plan, total=POSTINGS, rate=RATE, hold_at=POSTINGS - 300)
    prober = Prober(accounts, random.Random(rng.getrandbits(64)))
    for worker in workers.values():
        prober.add(worker.url)
    eventually(lambda: unanswered([w.url for w in workers.values()], accounts), lambda left: not left,
               timeout=120, what="every account served by every worker before the load")
    print(f"{WORKERS} workers with {standby} standby replica(s); {POSTINGS} postings over {ACCOUNTS} accounts "
          f"at {RATE}/s; kills at postings {kill_points}: {kill_order}, local state deleted for {wiped}")

    failovers: Dict[str, float] = {}
    started = time.monotonic()
    load.start()
    prober.start()
    try:
        for name, point in zip(kill_order, kill_points, strict=True):
            load.wait_posted(point, timeout=600)
            assert not load.done, f"the load ended before the kill of {name}: {load.error!r}"
            victim = workers.pop(name)
            prober.remove(victim.url)
            victim.kill()
            killed = time.monotonic()
            if name == wiped:
                shutil.rmtree(layout.workers_dir / name)
            survivors = [w.url for w in workers.values()]
            eventually(lambda s=survivors: unanswered(s, accounts), lambda left: not left,
                       timeout=FAILOVER_DEADLINE, interval=0.2, what=f"every account served without {name}")
            failovers[name] = time.monotonic() - killed
            print(f"killed {name} at {load.posted} postings; the survivors served every account "
                  f"{failovers[name]:.1f} s later")
            workers[name] = start_test_worker(app_id=app_id, name=name, env=settings, ready_timeout=300)
            prober.add(workers[name].url)
        load.release()
        load.join(timeout=600)
        load_done = time.monotonic()

        txns = ledger_transactions(db, accounts)
        assert len(txns) == POSTINGS
        balances = sql_balances(db, accounts)
        turnover = sql_turnover(db, accounts)
        opening = {a: Decimal("0.00") for a in accounts}
        assert {a: str(b) for a, b in oracle.expected_balances(txns, opening).items()} == balances
        expected = oracle.expected_alerts(txns)
        assert len(expected) >= 10, f"the load should make the rules fire: {len(expected)} alerts"

        urls = [w.url for w in workers.values()]
        wait_until_views_agree(urls[0], accounts, balances, turnover, expected, timeout=CATCH_UP)
        caught_up = time.monotonic() - load_done
        for url in urls[1:]:  # any worker answers any key, with the same rows
            assert balance_mismatches(url, balances) == []
        on_topic = eventually(lambda: topic_alerts(stack_env["KAFKA_BOOTSTRAP"], accounts),
                              lambda t: set(expected) <= t.ids, timeout=CATCH_UP, interval=2,
                              what="every expected alert on alerts.withdrawals")
        assert summary(on_topic.mismatches(expected)) == {}
    finally:
        prober.stop()
        load.stop()

    statuses = Counter(status for _, _, status, _ in prober.answers)
    assert prober.problems() == [], f"bad answers from live workers: {summary(prober.problems())}"
    assert statuses[200] >= len(prober.answers) * 0.5, statuses
    print(f"prober: {len(prober.answers)} answers from live workers during the kills: {dict(statuses)}")
    print("failover (kill to every account served by the survivors): "
          + ", ".join(f"{failovers[n]:.1f} s{' (state deleted)' if n == wiped else ''}" for n in kill_order))
    print(f"caught up {caught_up:.1f} s after the load; alerts: {len(expected)} expected, all on the topic, "
          f"{on_topic.resent} re-sent copies; total {time.monotonic() - started:.0f} s")
