"""Bulk ledger traffic for load tests: a seeded plan of postings, written by SQL one posting per transaction.

The plan is pure (a random.Random in, postings out) and never overdraws: it tracks every balance.
`write_postings` runs a chunk of the plan inside PostgreSQL, one committed database transaction
per posting (the balance update and the transaction row together), so a single writer commits
in transaction id order: the id order of `transactions` is the commit order.
Event times are explicit (a simulated clock that only moves forward), so the traffic spans
several UTC days and the rules' time windows see realistic gaps.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Dict, List, Optional, Sequence

import psycopg

__all__ = ["Posting", "LoadPlan", "write_postings", "LoadRunner"]

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Posting:
    account_id: int
    kind: str  # "deposit" or "withdrawal"
    amount: Decimal
    created_at: datetime


class LoadPlan:
    """Seeded traffic over a fixed set of accounts: small postings, lone large withdrawals and bursts.

    A burst is a funding deposit followed by 3-6 large withdrawals (200.00-2000.00) minutes apart,
    so the rapid rule fires on some bursts and not on others (gaps straddle its 10 minute window),
    and the burst rule fires once an account's last five large withdrawals add up.
    """

    def __init__(self, rng: random.Random, accounts: Sequence[int], start: datetime, *,
                 burst_probability: float = 0.012, lone_large_probability: float = 0.01,
                 mean_step_seconds: float = 10.0) -> None:
        self.rng = rng
        self.accounts = list(accounts)
        self.clock = start
        self.balances: Dict[int, Decimal] = {a: Decimal("0.00") for a in self.accounts}
        self.burst_probability = burst_probability
        self.lone_large_probability = lone_large_probability
        self.mean_step_seconds = mean_step_seconds
        self._pending: List[Posting] = []

    def _money(self, low: str, high: str) -> Decimal:
        cents = self.rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))
        return (Decimal(cents) / 100).quantize(CENT)

    def _tick(self, seconds: float) -> datetime:
        # Whole seconds, sometimes zero: equal created_at values and exact window edges happen.
        self.clock += timedelta(seconds=int(seconds))
        return self.clock

    def _posting(self, account: int, kind: str, amount: Decimal, at: datetime) -> Posting:
        self.balances[account] += amount if kind == "deposit" else -amount
        assert self.balances[account] >= 0, "the plan never overdraws"
        return Posting(account, kind, amount, at)

    def _burst(self, account: int) -> List[Posting]:
        amounts = [self._money("200.00", "2000.00") for _ in range(self.rng.randint(3, 6))]
        postings = [self._posting(account, "deposit", sum(amounts, Decimal(0)), self._tick(1))]
        for amount in amounts:
            # 0 s to 6 min apart: three of them may or may not fit in 10 minutes.
            postings.append(self._posting(account, "withdrawal", amount, self._tick(self.rng.randint(0, 360))))
        return postings

    def next(self) -> Posting:
        if self._pending:
            return self._pending.pop(0)
        account = self.rng.choice(self.accounts)
        at = self._tick(self.rng.expovariate(1 / self.mean_step_seconds))
        roll = self.rng.random()
        if roll < self.burst_probability:
            first, *rest = self._burst(account)
            self._pending.extend(rest)
            return first
        if roll < self.burst_probability + self.lone_large_probability:
            amount = self._money("200.00", "1500.00")
            if self.balances[account] < amount:
                return self._posting(account, "deposit", amount, at)
            return self._posting(account, "withdrawal", amount, at)
        amount = self._money("5.00", "180.00")
        if self.rng.random() < 0.45 and self.balances[account] >= amount:
            return self._posting(account, "withdrawal", amount, at)
        return self._posting(account, "deposit", amount, at)

    def take(self, n: int) -> List[Posting]:
        return [self.next() for _ in range(n)]


# One server-side loop over the chunk; COMMIT after each posting makes it its own transaction.
# The balance moves first (row lock, as the demo ledger does), then the transaction row.
_WRITE_CHUNK = """
DO $load$
DECLARE p record;
BEGIN
  FOR p IN SELECT * FROM jsonb_to_recordset(%s::jsonb)
           AS x(ord int, account_id bigint, kind text, amount numeric, created_at timestamptz) ORDER BY ord
  LOOP
    UPDATE accounts SET balance = balance + CASE WHEN p.kind = 'deposit' THEN p.amount ELSE -p.amount END,
                        updated_at = now()
     WHERE id = p.account_id;
    INSERT INTO transactions (account_id, kind, amount, created_at)
         VALUES (p.account_id, p.kind, p.amount, p.created_at);
    COMMIT;
  END LOOP;
END
$load$;
"""


def write_postings(db: psycopg.Connection, postings: Sequence[Posting]) -> None:
    """Commit each posting as its own database transaction, in order (`db` must be autocommit)."""
    rows = [{"ord": i, "account_id": p.account_id, "kind": p.kind, "amount": str(p.amount),
             "created_at": p.created_at.isoformat()} for i, p in enumerate(postings)]
    # DO takes no parameters: the chunk travels as a JSON literal (digits, dates and two fixed words).
    literal = json.dumps(rows).replace("'", "''")
    db.execute(_WRITE_CHUNK.replace("%s", f"'{literal}'"))


class LoadRunner:
    """Writes `total` postings of a plan on a thread, in chunks, at about `rate` postings per second.

    With `hold_at`, the runner stops once that many are committed until `release()`: a test that
    must act while the load is still under way (say, kill a worker) can hold the end back.
    `posted` counts what is committed; `wait_posted(n)` blocks until n are (or the load stopped).
    """

    def __init__(self, database_url: str, plan: LoadPlan, *, total: int, rate: float, chunk: int = 50,
                 hold_at: Optional[int] = None) -> None:
        self.database_url = database_url
        self.plan = plan
        self.total = total
        self.rate = rate
        self.chunk = chunk
        self.hold_at = hold_at
        self.posted = 0
        self.error: Optional[BaseException] = None
        self._changed = threading.Condition()
        self._released = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-load", daemon=True)

    def start(self) -> "LoadRunner":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with psycopg.connect(self.database_url, autocommit=True) as db:
                started = time.monotonic()
                while self.posted < self.total and not self._stop.is_set():
                    limit = self.total
                    if self.hold_at is not None and not self._released.is_set():
                        limit = self.hold_at
                        if self.posted >= limit:
                            self._released.wait()
                            started = time.monotonic() - self.posted / self.rate  # no rush after the hold
                            continue
                    n = min(self.chunk, limit - self.posted)
                    write_postings(db, self.plan.take(n))
                    with self._changed:
                        self.posted += n
                        self._changed.notify_all()
                    # Pace: the next chunk is due when the rate says so (a rate limit, not a wait on anything).
                    self._stop.wait(max(0.0, started + self.posted / self.rate - time.monotonic()))
        except BaseException as exc:  # reported to the test by join()
            self.error = exc
        finally:
            with self._changed:
                self._stop.set()
                self._changed.notify_all()

    @property
    def done(self) -> bool:
        return self._stop.is_set()

    def wait_posted(self, n: int, *, timeout: float) -> int:
        """Block until `n` postings are committed, the load holds or ends, or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self.posted >= min(n, self._ceiling()) or self._stop.is_set(),
                                   timeout=timeout)
            return self.posted

    def _ceiling(self) -> int:
        return self.hold_at if self.hold_at is not None and not self._released.is_set() else self.total

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self._stop.set()
        self._released.set()

    def join(self, *, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the load did not finish within {timeout:.0f} s ({self.posted}/{self.total})")
        if self.error is not None:
            raise AssertionError(f"the load failed after {self.posted} postings: {self.error!r}") from self.error
