"""The benchmark's goals table (dev/bench/goals.py): each goal judged from one run's figures, or said unmeasured."""

from __future__ import annotations

from dev.bench.goals import POSTINGS_PER_CPU_S_BEFORE, goals_table, judge_goals


def row(impl, workers=1, *, per_cpu=10_000.0, per_s=10_000.0, error=None):
    return {"impl": impl, "workers": workers, "events_per_cpu_s": per_cpu, "events_per_s": per_s, "error": error}


def latency(impl, p99, cpu):
    return {"impl": impl, "received_ms_p99": p99, "cpu_share": cpu}


def run(**extra):
    return {"latency": [latency("ledgerstream", 900, 0.5), latency("quix", 1000, 0.5), latency("bytewax", 950, 0.4)],
            "latency_low": [latency("ledgerstream", 100, 0.05), latency("quix", 300, 0.07),
                            latency("bytewax", 200, 0.09)],
            "accounts_load": [{"impl": "ledgerstream", "events": 20_000,
                               "cpu_s": 20_000 / (2 * POSTINGS_PER_CPU_S_BEFORE - 1)}], **extra}



def test_each_goal_is_judged_from_the_runs_figures():
    tp = [row("ledgerstream", per_cpu=16_000), row("quix", per_cpu=10_000), row("bytewax", per_cpu=10_600),
          row("bare-logic", per_cpu=17_000), row("ledgerstream", 2, per_s=21_000), row("quix", 2, per_s=10_000)]
    goals = {g.goal: g for g in judge_goals(run(), tp)}
    first = next(g for text, g in goals.items() if "1.5x the best peer in events per CPU-s" in text)
    assert first.verdict == "met" and "Bytewax" in first.figures          # 16,000 / 10,600 = 1.51
    assert next(g for t, g in goals.items() if "0.9 of the framework-free" in t).verdict == "met"
    assert next(g for t, g in goals.items() if "twice the" in t).verdict == "not met"   # one posting short of 2x
    assert next(g for t, g in goals.items() if t.startswith("Two workers")).verdict == "met"
    assert next(g for t, g in goals.items() if "at 1,000 events/s" in t and "p99" in t).verdict == "met"
    assert next(g for t, g in goals.items() if "half of the maximum" in t).verdict == "met"
    assert next(g for t, g in goals.items() if t.startswith("Worker CPU")).verdict == "met"
    assert sum(g.verdict == "not measured" for g in goals.values()) == 3   # whole-job peers, recovery, failover


def test_a_slower_ledgerstream_or_a_failed_run_is_said_so():
    tp = [row("ledgerstream", per_cpu=14_000), row("quix", per_cpu=10_000), row("bytewax", per_cpu=9_000),
          row("bare-logic", per_cpu=20_000), row("ledgerstream", 2, error="it died"), row("quix", 2)]
    r = run(latency=[latency("ledgerstream", 1100, 0.5), latency("quix", 1000, 0.5)])
    goals = {g.goal: g.verdict for g in judge_goals(r, tp)}
    assert [v for t, v in goals.items() if "1.5x the best peer in events" in t] == ["not met"]
    assert [v for t, v in goals.items() if t.startswith("Two workers")] == ["not measured"]
    assert [v for t, v in goals.items() if "half of the maximum" in t] == ["not met"]
    lines = goals_table(judge_goals(r, tp))
    assert lines[0].startswith("| goal |") and lines[-1].endswith(".") and "not met" in lines[-1]
