"""Unit tests of the benchmark's results folder: the generated index of runs and the profile summary kept
in results.json (no broker, no plots)."""

import gzip
import json
from pathlib import Path

from dev.bench.index import mean_rates, render_index
from dev.bench.profile import read_profile


def _throughput(impl, workers, rate, error=None):
    return {"impl": impl, "workers": workers, "label": f"{impl} x{workers}", "events_per_s": rate, "error": error}


def _run(folder: Path, name: str, commit: str, throughput, latency_low=()) -> Path:
    run = folder / name
    run.mkdir()
    (run / "results.json").write_text(json.dumps({
        "commit": commit, "dataset": {"transactions": 1000}, "throughput": throughput,
        "latency_low": list(latency_low)}))
    return run


def test_mean_rates_average_the_successful_runs_of_each_implementation_and_worker_count():
    rates = mean_rates({"throughput": [_throughput("ledgerstream", 1, 100.0), _throughput("ledgerstream", 1, 300.0),
                                       _throughput("ledgerstream", 1, 9999.0, error="worker died"),
                                       _throughput("ledgerstream", 2, 500.0)]})
    assert rates == {("ledgerstream", 1): 200.0, ("ledgerstream", 2): 500.0}


def test_the_index_has_a_row_per_run_oldest_first_and_marks_the_one_latest_points_at(tmp_path):
    _run(tmp_path, "2026-01-01T0100Z", "a" * 40, [_throughput("ledgerstream", 1, 300.0), _throughput("quix", 1, 200.0)])
    _run(tmp_path, "2026-01-01T0000Z", "b" * 40,
         [_throughput("ledgerstream", 1, 100.0), _throughput("quix", 1, 400.0), _throughput("ledgerstream", 2, 150.0),
          _throughput("quix", 2, 600.0)],
         latency_low=[{"impl": "ledgerstream", "received_ms_p50": 70.4, "received_ms_p99": 160.6},
                      {"impl": "quix", "received_ms_p50": 110.0, "received_ms_p99": 350.0}])
    (tmp_path / "no-results").mkdir()
    (tmp_path / "latest").symlink_to("2026-01-01T0100Z")

    rows = [line for line in render_index(tmp_path).splitlines() if line.startswith("| [")]

    assert len(rows) == 2
    older, newer = rows
    assert older.startswith("| [2026-01-01T0000Z](2026-01-01T0000Z/report.md) | `bbbbbbbbbbbb` |")
    assert "| 100 | 400 | 0.25x | 150 | 600 | 0.25x | 70 / 161; 110 / 350 |" in older
    assert "(latest)" not in older
    assert newer.startswith("| [2026-01-01T0100Z](2026-01-01T0100Z/report.md) (latest) |")
    assert "| 300 | 200 | 1.50x | - | - | - | - |" in newer


def test_a_gzipped_raw_profile_sums_to_the_summary_results_json_keeps(tmp_path):
    raw = tmp_path / "profile.txt.gz"
    with gzip.open(raw, "wt") as f:
        f.write("main (app.py:1);decode_change (cdc/decode.py:41) 3\n"
                "main (app.py:1);judge (detection/withdrawals.py:9) 1\n"
                "_find_and_load (<frozen importlib._bootstrap>:1176);main (app.py:1) 5\n")

    summary = read_profile(raw).summary()

    assert summary["samples"] == 4 and summary["startup"] == 5
    assert summary["shares"] == {"job: decode the Debezium record (cdc/, projections/transactions.py)": 0.75,
                                 "job: rules and rule state rows (detection/, tables/rule_state.py)": 0.25}
    assert summary["top_self"][0] == ["decode_change (cdc/decode.py)", 0.75]
    assert json.loads(json.dumps(summary)) == summary
