"""Crash consistency: a worker SIGKILLed again and again during 20,000 postings, once losing its local
state, ends with every balance, turnover and alert exactly as the ledger says: nothing lost, nothing doubled.

The expected alerts come from an independent oracle (tests/support/oracle.py) over the `transactions`
table; balances and turnover from the database itself. The run is seeded: CRASH_TEST_SEED repeats it.
"""

from __future__ import annotations

import os
import random
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from dev.stack.layout import StackLayout
from tests.support import oracle
from tests.support.consistency import (
    alert_mismatches,
    balance_low_events,
    balance_mismatches,
    ledger_transactions,
    sql_balances,
    sql_turnover,
    summary,
    topic_alerts,
    turnover_mismatches,
    view_alerts,
    wait_until_views_agree,
)
from tests.support.ledger_load import LoadPlan, LoadRunner
from tests.support.ledger_sql import open_account
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.long]

ACCOUNTS = 200
POSTINGS = 20_000
#: Postings per second: the load lasts about two minutes, long enough for every kill and restart.
RATE = 160
KILLS = 4
#: Event time of the first posting; the load spans about three UTC days from here.
START = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
#: Catching up after the load, on two shared cores: generous.
CATCH_UP = 300


@dataclass
class Kill:
    posted: int  # postings committed when the worker died
    wiped: bool  # its local RocksDB folder deleted before the restart
    recovery: float  # seconds from the restart to /health ready


def test_sigkills_and_a_lost_local_state_during_the_load_lose_and_double_nothing(db, stack_env, start_test_worker):
    seed = int(os.environ.get("CRASH_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ncrash consistency: seed {seed} (CRASH_TEST_SEED={seed} repeats this run)")
    rng = random.Random(seed)
    layout = StackLayout.from_env(stack_env)
    accounts = [open_account(db, "0")[1] for _ in range(ACCOUNTS)]
    app_id = f"crash-{uuid.uuid4().hex[:8]}"
    name = f"{app_id}-worker"

    # One kill at a random posting within each of KILLS equal stretches of the load, and the
    # local state deleted at one of them (not the first: by then the changelogs hold plenty).
    stretch = (0.9 - 0.08) * POSTINGS / KILLS
    kill_points = [int(0.08 * POSTINGS + i * stretch + rng.random() * stretch) for i in range(KILLS)]
    wipe = rng.randrange(1, KILLS)
    # The end of the load waits for the last restart, so every kill happens while postings flow.
    hold_at = POSTINGS - 500
    plan = LoadPlan(random.Random(rng.getrandbits(64)), accounts, START)
    load = LoadRunner(stack_env["DATABASE_URL"], plan, total=POSTINGS, rate=RATE, hold_at=hold_at)

    started = time.monotonic()
    worker = start_test_worker(app_id=app_id, name=name, ready_timeout=240)
    print(f"worker ready in {time.monotonic() - started:.1f} s; load: {POSTINGS} postings over {ACCOUNTS} "
          f"accounts at {RATE}/s; kills at postings {kill_points}, local state deleted at kill {wipe + 1}")
    kills = []
    load.start()
    try:
        for index, point in enumerate(kill_points):
            posted = load.wait_posted(point, timeout=600)
            assert not load.done, f"the load ended before kill {index + 1}: {load.error!r}"
            worker.kill()
            if index == wipe:
                shutil.rmtree(layout.workers_dir / name)
            restarted = time.monotonic()
            worker = start_test_worker(app_id=app_id, name=name, ready_timeout=300)
            kills.append(Kill(posted, index == wipe, time.monotonic() - restarted))
            print(f"kill {index + 1}: SIGKILL at {posted} postings committed"
                  f"{', local state deleted' if index == wipe else ''}; ready again in {kills[-1].recovery:.1f} s")
        load.release()
        load.join(timeout=600)
        load_done = time.monotonic()

        txns = ledger_transactions(db, accounts)
        assert len(txns) == POSTINGS
        balances = sql_balances(db, accounts)
        turnover = sql_turnover(db, accounts)
        # The oracle agrees with the database where both can say: a check on the oracle itself.
        opening = {a: Decimal("0.00") for a in accounts}
        assert {a: str(b) for a, b in oracle.expected_balances(txns, opening).items()} == balances
        assert oracle.expected_turnover(txns) == turnover
        expected = oracle.expected_alerts(txns)
        by_rule = {rule: sum(a.rule == rule for a in expected.values()) for rule in (oracle.RAPID, oracle.BURST)}
        assert min(by_rule.values()) >= 50, f"the load should make both rules fire many times: {by_rule}"

        url = worker.url
        wait_until_views_agree(url, accounts, balances, turnover, expected, timeout=CATCH_UP)
        caught_up = time.monotonic() - load_done
        on_topic = eventually(lambda: topic_alerts(stack_env["KAFKA_BOOTSTRAP"], accounts),
                              lambda t: set(expected) <= t.ids, timeout=CATCH_UP, interval=2,
                              what="every expected alert on alerts.withdrawals")

        # Settled: now everything at once, exactly.
        assert balance_mismatches(url, balances) == []
        assert turnover_mismatches(url, turnover) == []
        assert alert_mismatches(expected, view_alerts(url, accounts)) == {}
        assert summary(on_topic.mismatches(expected)) == {}

        # BalanceLow: one event per crossing of the threshold, none lost to a crash; a re-sent event
        # has the same id (it derives from the account and the change's LSN), so distinct ids count.
        crossings = oracle.expected_balance_low_crossings(txns, opening)
        assert sum(crossings.values()) >= 20, f"the load should cross the BalanceLow threshold often: {crossings}"

        def low_counts():
            found = balance_low_events(stack_env["KAFKA_BOOTSTRAP"], accounts)
            return {a: len(ids) for a, ids in found.items() if ids}

        low = eventually(low_counts, lambda n: all(n.get(a, 0) >= c for a, c in crossings.items()),
                         timeout=CATCH_UP, interval=2, what="a BalanceLow event for every crossing")
        missing_low = {a: c - low.get(a, 0) for a, c in crossings.items() if low.get(a, 0) < c}
        extra_low = {a: n - crossings.get(a, 0) for a, n in low.items() if n > crossings.get(a, 0)}
        assert missing_low == {}, f"BalanceLow events lost (account: how many): {missing_low}"
        assert extra_low == {}, f"BalanceLow events with ids of their own beyond the crossings: {extra_low}"
        print(f"load: {len(txns)} transactions (+{len(txns)} balance updates) over {len(accounts)} accounts, "
              f"{len(turnover)} account-days, "
              f"{sum(t.kind == 'withdrawal' and t.amount >= 200 for t in txns)} large withdrawals")
        print(f"kills: {len(kills)}; recovery (start to ready): "
              + ", ".join(f"{k.recovery:.1f} s{' (from changelogs)' if k.wiped else ''}" for k in kills))
        print(f"caught up {caught_up:.1f} s after the load ended; total {time.monotonic() - started:.0f} s")
        print(f"alerts: {len(expected)} expected ({by_rule[oracle.RAPID]} rapid, {by_rule[oracle.BURST]} burst), "
              f"all served once with equal fields; on the topic {len(on_topic.ids)} ids, "
              f"{on_topic.resent} re-sent copies (at-least-once, same fields)")
        print(f"BalanceLow: {sum(crossings.values())} crossings in the ledger, as many distinct events")
    finally:
        load.stop()  # the workers are stopped by their fixture
