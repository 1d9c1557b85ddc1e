"""Running one implementation over loaded events and measuring it: throughput runs and paced (latency) runs.

Every implementation runs as its own processes (ledgerstream: the real `faust -A app worker`,
started as dev/stack/workers.py starts it; the peers: python -m dev.bench.peers.*), watched from outside
by a Sampler. The processing window of a run is the wall time from its first processed event to
its last: for ledgerstream what its worker reports on /health (its batch agent's first and last
record; for the per-event baseline the first and last record of its turnover changelog, one per
event), for the peers their own progress file. CPU seconds are the worker processes'
own, interpolated over that window; startup and shutdown are outside it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set

from dev.stack.layout import REPO_ROOT, StackLayout
from dev.stack.workers import health, start_worker, worker_env

from . import kafka
from .dataset import Dataset, render_transaction
from .measure import Sampler, percentile

__all__ = ["Context", "Outcome", "Latency", "run_ledgerstream", "run_peer", "run_paced", "stop_all",
           "LEDGERSTREAM_ALERTS", "INPUT", "OTHER_SOURCES"]

INPUT = "ledger.public.transactions"
LEDGERSTREAM_ALERTS = "alerts.withdrawals"
#: Topics a ledgerstream worker reads besides the transactions; created empty, as `make up` does.
OTHER_SOURCES = ("ledger.public.customers", "ledger.public.accounts", "outbox.event.account",
                 "outbox.event.customer")

_started: List[subprocess.Popen] = []
_lock = threading.Lock()


def _spawn(argv: Sequence[str], log_file: Path, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(list(argv), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return _track(process)


def _track(process: subprocess.Popen) -> subprocess.Popen:
    with _lock:
        _started.append(process)
    return process


def _stop(process: subprocess.Popen, timeout: float = 30.0, sig: int = signal.SIGTERM) -> None:
    """Signal the process's own process group (it leads one), then SIGKILL the group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever it left in its group
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=10)


def stop_all() -> None:
    """Stop every process this benchmark started and has not stopped yet."""
    with _lock:
        processes = list(_started)
    for process in processes:
        _stop(process, timeout=10)


@dataclass
class Context:
    workdir: Path
    say: Callable[[str], None] = print
    sample_interval: float = 0.1

    def logs(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"


@dataclass
class Outcome:
    """One throughput run."""

    label: str
    impl: str
    workers: int
    events: int
    window_s: float = 0.0
    total_s: float = 0.0
    cpu_s: float = 0.0
    worker_cpu_s: List[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    broker_cpu_s: float = 0.0
    alerts: Optional[int] = None
    alerts_expected: Optional[int] = None
    alerts_match: Optional[bool] = None
    load_avg: float = 0.0
    note: str = ""
    error: Optional[str] = None
    alert_ids: Set[str] = field(default_factory=set, repr=False)

    @property
    def events_per_s(self) -> float:
        return self.events / self.window_s if self.window_s > 0 else 0.0

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_s if self.cpu_s > 0 else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("alert_ids")
        d["events_per_s"] = self.events_per_s
        d["events_per_s_per_worker"] = self.events_per_s / max(1, self.workers)
        d["events_per_cpu_s"] = self.events_per_cpu_s
        return d


def _wait(condition: Callable[[], bool], timeout: float, what: str, alive: Callable[[], Optional[str]],
          interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        reason = alive()
        if reason:
            raise RuntimeError(f"{what}: {reason}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done within {timeout:.0f} s")
        time.sleep(interval)


def _exited(processes: Sequence[subprocess.Popen], logs: Sequence[Path]) -> Callable[[], Optional[str]]:
    def check() -> Optional[str]:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                return f"a process exited with {process.returncode}; see {log.name}: {_tail(log)}"
        return None

    return check


def _tail(log: Path, lines: int = 3) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _settle_alerts(bootstrap: str, topic: str, since: Dict[int, int], expected: int, timeout: float = 30) -> None:
    """Wait until `expected` alerts are on the topic, or their number stops changing for 3 s."""
    deadline, last, stable_since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        n = kafka.total(kafka.end_offsets(bootstrap, topic), since)
        if n >= expected:
            return
        if n != last:
            last, stable_since = n, time.monotonic()
        elif time.monotonic() - stable_since > 3:
            return
        time.sleep(0.3)


def alert_ids_of(records) -> List[str]:
    from schemas.codec.envelope import decode_envelope

    return [decode_envelope(r.value, {"WithdrawalAlert": 1}).payload.alert_id for r in records]


def _check_alerts(outcome: Outcome, ids: List[str], expected: Set[str]) -> None:
    outcome.alert_ids = set(ids)
    outcome.alerts = len(ids)
    outcome.alerts_expected = len(expected)
    # Equal work: the same set of ids, each once (a replay would repeat an id).
    outcome.alerts_match = outcome.alert_ids == expected and len(ids) == len(set(ids))


# --------------------------------------------------------------------------- ledgerstream


def _window_rules_catalog(ctx: Context) -> str:
    """The shipped catalogue's time and count window rules only: what the peers implement, so every
    implementation computes the same alerts (expected_alert_ids)."""
    import yaml

    from detection.catalog import DEFAULT_CATALOG

    path = ctx.workdir / "window-rules.yaml"
    if not path.exists():
        catalog = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
        rules = [rule for rule in catalog["rules"] if rule["kind"] in ("time-window", "count-window")]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
    return str(path)


def _ledgerstream_workers(ctx: Context, broker: kafka.Broker, app_id: str, n: int,
                          extra: Optional[Dict[str, str]] = None, app_module: Optional[str] = None):
    """`n` workers as dev/stack/workers.py starts them (or of the Faust app in `app_module`)."""
    layout = StackLayout.from_env({"STACK_DIR": str(ctx.workdir / "stack"), "STACK_KAFKA_PORT": str(broker.port)})
    workers = []
    for i in range(n):
        port = kafka.free_port()
        name = f"{app_id}-{i}"
        env = worker_env(layout, name, web_port=port, app_id=app_id,
                         extra={"LOG_LEVEL": "info", "RULE_CATALOG": _window_rules_catalog(ctx), **(extra or {})})
        log = ctx.logs(name)
        if app_module is None:
            process = _track(start_worker(env, log))
        else:
            process = _spawn([sys.executable, "-m", "faust", "-A", app_module, "worker", "-l", "info"], log, env)
        workers.append((process, log, f"http://127.0.0.1:{port}"))
    return workers


BASELINE = "dev.bench.baseline.per_event"
TRANSACTIONS_AGENT = "agents.transactions.fold_transactions"
#: The batch agents the accounts load goes through, and the baseline's tables they write (one
#: changelog record per event there).
ACCOUNTS_AGENTS = {"agents.accounts.project_account_balances": "balance_by_account",
                   "agents.customers.fold_account_updates_into_customers": "customer_overview"}


def _agent_progress(urls: Sequence[str], agent: str) -> List[dict]:
    """A batch agent's progress on each worker's /health (engine/batching/agents.py)."""
    found = []
    for url in urls:
        progress = ((health(url) or {}).get("batch_agents") or {}).get(agent)
        if progress is not None:
            found.append(progress)
    return found


def run_ledgerstream(ctx: Context, broker: kafka.Broker, events: int, expected: Set[str], *, workers: int = 1,
                     label: str = "", timeout: float = 1800, profile_to: Optional[Path] = None,
                     app_module: Optional[str] = None, extra_agents: Optional[Dict[str, int]] = None,
                     env: Optional[Dict[str, str]] = None, impl: str = "ledgerstream") -> Outcome:
    """The real worker(s) over `events` transactions already on ledger.public.transactions.

    The product's worker reports on /health how many records its batch agent handled and when
    the first and last were: that is its processing window, measured inside the worker as the
    peers measure theirs. `app_module` runs another Faust app instead (the per-event baseline),
    whose tables get one changelog record per event: the window is from the first to the last
    record of those changelogs. `env` adds to the workers' environment; `extra_agents` adds batch
    agents (ACCOUNTS_AGENTS) that must also handle a number of records (the accounts load).
    """
    app_id = f"bench-{uuid.uuid4().hex[:6]}"
    outcome = Outcome(label or f"ledgerstream x{workers}", impl, workers, events,
                      load_avg=os.getloadavg()[0])
    agents = {TRANSACTIONS_AGENT: events, **(extra_agents or {})}
    targets: Dict[str, int] = {}
    if app_module is not None:
        targets = {f"{app_id}-turnover_by_account_day-changelog": events,
                   **{f"{app_id}-{ACCOUNTS_AGENTS[a]}-changelog": c for a, c in (extra_agents or {}).items()}}
    since = kafka.end_offsets(broker.bootstrap, LEDGERSTREAM_ALERTS)
    started = time.time()
    procs = _ledgerstream_workers(ctx, broker, app_id, workers, env, app_module)
    urls = [url for _, _, url in procs]
    spy = None
    with Sampler(ctx.sample_interval) as sampler:
        sampler.watch(broker.process.pid)
        for process, _, _ in procs:
            sampler.watch(process.pid)
        if profile_to is not None:
            spy = _track(subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(procs[0][0].pid), "--rate", "100",
                 "--nonblocking", "--format", "raw", "--output", str(profile_to)],
                stdout=subprocess.DEVNULL, stderr=open(ctx.logs("py-spy"), "ab"), start_new_session=True))
        try:
            alive = _exited([p for p, _, _ in procs], [log for _, log, _ in procs])

            def done() -> bool:
                if app_module is None:
                    return all(sum(p["records"] for p in _agent_progress(urls, a)) >= c for a, c in agents.items())
                return all(kafka.total(kafka.end_offsets(broker.bootstrap, t)) >= c for t, c in targets.items())

            _wait(done, timeout, outcome.label, alive)
            outcome.total_s = time.time() - started
            _settle_alerts(broker.bootstrap, LEDGERSTREAM_ALERTS, since, len(expected))
            windows = [kafka.first_and_last_timestamps(broker.bootstrap, t) for t in targets]
            if app_module is None:
                windows += [(p["first_at"], p["last_at"]) for a in agents for p in _agent_progress(urls, a)
                            if p["records"]]
            first, last = min(w[0] for w in windows), max(w[1] for w in windows)
            outcome.window_s = last - first
            outcome.worker_cpu_s = [sampler.cpu_between(p.pid, first, last) for p, _, _ in procs]
            outcome.cpu_s = sum(outcome.worker_cpu_s)
            outcome.broker_cpu_s = sampler.cpu_between(broker.process.pid, first, last)
            outcome.peak_rss_mb = max(sampler.peak_rss(p.pid) for p, _, _ in procs) / 2**20
        except (RuntimeError, TimeoutError) as exc:
            outcome.error = str(exc)
        finally:
            if spy is not None:
                _stop(spy, timeout=60, sig=signal.SIGINT)
            for process, _, _ in procs:
                threading.Thread(target=_stop, args=(process,)).start()
            for process, _, _ in procs:
                while process.poll() is None:
                    time.sleep(0.1)
    if outcome.error is None:
        records = kafka.read_records(broker.bootstrap, LEDGERSTREAM_ALERTS, since)
        _check_alerts(outcome, alert_ids_of(records), expected)
    return outcome


# --------------------------------------------------------------------------- peers

PEERS = {
    "quix": ("Quix Streams", "dev.bench.peers.quix_job"),
    "bytewax": ("Bytewax", "dev.bench.peers.bytewax_job"),
    "bare": ("bare aiokafka loop (decode only)", "dev.bench.peers.bare"),
    "bare-logic": ("bare aiokafka loop + the job's logic", "dev.bench.peers.bare"),
}


def _peer_argv(kind: str, bootstrap: str, topic: str, output: str, group: str, state_dir: Path,
               progress: Path) -> List[str]:
    module = PEERS[kind][1]
    argv = [sys.executable, "-m", module, "--bootstrap", bootstrap, "--input", topic, "--progress", str(progress)]
    if kind == "quix":
        argv += ["--output", output, "--group", group, "--state-dir", str(state_dir)]
    elif kind == "bytewax":
        argv += ["--output", output]
    elif kind == "bare-logic":
        argv += ["--logic", "--output", output]
    return argv


def _progress(files: Sequence[Path]) -> List[dict]:
    out = []
    for f in files:
        try:
            out.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            out.append({"count": 0, "first": None, "last": None, "ready": False})
    return out


def _start_peers(ctx: Context, kind: str, bootstrap: str, topic: str, output: str, workers: int, tag: str):
    group = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
    procs, logs, files = [], [], []
    for i in range(workers):
        name = f"{tag}-{i}"
        progress = ctx.workdir / "progress" / f"{name}.json"
        progress.parent.mkdir(parents=True, exist_ok=True)
        progress.unlink(missing_ok=True)
        log = ctx.logs(name)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        procs.append(_spawn(_peer_argv(kind, bootstrap, topic, output, group, ctx.workdir / "state" / name, progress),
                            log, env))
        logs.append(log)
        files.append(progress)
    return procs, logs, files


def run_peer(ctx: Context, broker: kafka.Broker, kind: str, events: int, expected: Optional[Set[str]], *,
             topic: str = INPUT, workers: int = 1, label: str = "", timeout: float = 900) -> Outcome:
    output = f"bench.{kind}.alerts.{uuid.uuid4().hex[:6]}"
    if kind != "bare":
        kafka.create_topics(broker.bootstrap, [output])
    name = PEERS[kind][0]
    outcome = Outcome(label or (f"{name} x{workers}" if workers > 1 else name), kind, workers, events,
                      load_avg=os.getloadavg()[0])
    started = time.time()
    procs, logs, files = _start_peers(ctx, kind, broker.bootstrap, topic, output, workers,
                                      f"{kind}-{uuid.uuid4().hex[:6]}")
    with Sampler(ctx.sample_interval) as sampler:
        sampler.watch(broker.process.pid)
        for p in procs:
            sampler.watch(p.pid)
        try:
            _wait(lambda: sum(s["count"] for s in _progress(files)) >= events, timeout, outcome.label,
                  _exited(procs, logs), interval=0.2)
            outcome.total_s = time.time() - started
            if expected is not None:
                _settle_alerts(broker.bootstrap, output, {}, len(expected))
            states = [s for s in _progress(files) if s["first"] is not None]
            first, last = min(s["first"] for s in states), max(s["last"] for s in states)
            outcome.window_s = last - first
            outcome.worker_cpu_s = [sampler.cpu_between(p.pid, first, last) for p in procs]
            outcome.cpu_s = sum(outcome.worker_cpu_s)
            outcome.broker_cpu_s = sampler.cpu_between(broker.process.pid, first, last)
            outcome.peak_rss_mb = max(sampler.peak_rss(p.pid) for p in procs) / 2**20
        except (RuntimeError, TimeoutError) as exc:
            outcome.error = str(exc)
        finally:
            for p in procs:
                _stop(p)
    if outcome.error is None and expected is not None:
        _check_alerts(outcome, alert_ids_of(kafka.read_records(broker.bootstrap, output)), expected)
    return outcome


# --------------------------------------------------------------------------- paced runs


@dataclass
class Latency:
    """One paced run: end-to-end latency from the commit time in the source record to the alert."""

    label: str
    impl: str
    rate: float
    events: int
    achieved_rate: float = 0.0
    #: Alert record timestamp (set by the producer when the alert is sent) minus source.ts_ms.
    produced_ms: List[float] = field(default_factory=list)
    #: Wall time a consumer of the alert topic received it minus source.ts_ms.
    received_ms: List[float] = field(default_factory=list)
    cpu_share: float = 0.0
    alerts_match: Optional[bool] = None
    error: Optional[str] = None

    def as_dict(self) -> dict:
        d = asdict(self)
        for name in ("produced_ms", "received_ms"):
            values = d.pop(name)
            d[f"{name}_p50"] = percentile(values, 50)
            d[f"{name}_p90"] = percentile(values, 90)
            d[f"{name}_p99"] = percentile(values, 99)
            d[f"{name}_max"] = max(values) if values else None
            d[f"{name}_n"] = len(values)
        return d


class _AlertReceiver(threading.Thread):
    """Reads an alert topic from its start and notes when each record arrived."""

    def __init__(self, bootstrap: str, topic: str):
        super().__init__(name="bench-alert-receiver", daemon=True)
        from confluent_kafka import Consumer, TopicPartition

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-recv-{uuid.uuid4().hex[:6]}",
                                  "enable.auto.commit": False, "fetch.wait.max.ms": 20,
                                  "fetch.error.backoff.ms": 20})
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(4)])
        self.received: List[tuple] = []  # (wall ms, record timestamp ms, value)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for m in self.consumer.consume(1000, timeout=0.05):
                if m.error() is None:
                    self.received.append((time.time() * 1000, m.timestamp()[1], m.value()))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        self.consumer.close()


def _pace(bootstrap: str, topic: str, dataset: Dataset, rate: float) -> Dict[int, int]:
    """Send the postings at `rate` per second, each with its commit time set to its send time."""
    p = kafka.producer(bootstrap, **{"linger.ms": 0})
    commit_ms: Dict[int, int] = {}
    start = time.monotonic()
    sent = 0
    n = len(dataset.postings)
    while sent < n:
        due = min(n, int((time.monotonic() - start) * rate) + 1)
        while sent < due:
            posting, record = dataset.postings[sent], dataset.transactions[sent]
            now_us = int(time.time() * 1_000_000)
            p.produce(topic, value=render_transaction(posting, commit_us=now_us), key=record.key,
                      partition=record.partition)
            commit_ms[posting.txn_id] = now_us // 1000
            sent += 1
        p.poll(0)
        time.sleep(0.002)
    p.flush(60)
    return commit_ms


def run_paced(ctx: Context, impl: str, dataset: Dataset, expected: Set[str], rate: float, *,
              label: str = "", app_module: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> Latency:
    """A fresh broker; the implementation started and ready; then `dataset` sent at `rate` events/s."""
    label = label or ("ledgerstream" if impl == "ledgerstream" else PEERS[impl][0])
    result = Latency(label, impl, rate, len(dataset.postings))
    with kafka.Broker(ctx.logs(f"kafka-paced-{impl}")) as broker:
        kafka.create_topics(broker.bootstrap, (INPUT,) + OTHER_SOURCES)
        if impl == "ledgerstream":
            kafka.create_topics(broker.bootstrap, [LEDGERSTREAM_ALERTS])
            app_id = f"bench-{uuid.uuid4().hex[:6]}"
            (process, log, url), = _ledgerstream_workers(ctx, broker, app_id, 1, env, app_module)
            procs, logs, output = [process], [log], LEDGERSTREAM_ALERTS
            ready = lambda: (health(url) or {}).get("status") == "ready"  # noqa: E731
            done = lambda: kafka.total(kafka.committed(  # noqa: E731
                broker.bootstrap, app_id, INPUT)) >= len(dataset.postings)
        else:
            output = f"bench.{impl}.alerts.{uuid.uuid4().hex[:6]}"
            kafka.create_topics(broker.bootstrap, [output])
            procs, logs, files = _start_peers(ctx, impl, broker.bootstrap, INPUT, output, 1, f"paced-{impl}")
            ready = lambda: all(s.get("ready") for s in _progress(files)) and files[0].exists()  # noqa: E731
            done = lambda: sum(s["count"] for s in _progress(files)) >= len(dataset.postings)  # noqa: E731
        receiver = None
        try:
            alive = _exited(procs, logs)
            _wait(ready, 180, f"{label} to be ready", alive)
            time.sleep(2)  # let the consumer settle on its assignment before the clock starts
            receiver = _AlertReceiver(broker.bootstrap, output)
            receiver.start()
            with Sampler(0.5) as sampler:
                sampler.watch(procs[0].pid)
                started = time.time()
                commit_ms = _pace(broker.bootstrap, INPUT, dataset, rate)
                paced_s = time.time() - started
                result.achieved_rate = len(dataset.postings) / paced_s
                result.cpu_share = sampler.cpu_between(procs[0].pid, started, started + paced_s) / paced_s
                _wait(done, 300, f"{label} to catch up", alive)
            deadline = time.monotonic() + 30
            while len(receiver.received) < len(expected) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)
        except (RuntimeError, TimeoutError) as exc:
            result.error = str(exc)
        finally:
            if receiver is not None:
                receiver.stop()
            for p in procs:
                _stop(p)
        if result.error is None:
            from schemas.codec.envelope import decode_envelope

            ids = []
            for recv_ms, ts_ms, value in receiver.received:
                payload = decode_envelope(value, {"WithdrawalAlert": 1}).payload
                ids.append(payload.alert_id)
                cause = commit_ms[payload.trigger_txn_id]
                result.received_ms.append(recv_ms - cause)
                result.produced_ms.append(ts_ms - cause)
            result.alerts_match = set(ids) == expected and len(ids) == len(set(ids))
    return result
