"""`make run`: the local stack, a worker and the demo ledger, until Ctrl-C stops what this started."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import List

from dev.demo_ledger.connection import redact
from ops.connectors.connect_client import ConnectError
from ops.connectors.connector_files import ConnectorFileError

from .alert_printer import print_alerts_in_background
from .layout import REPO_ROOT, StackLayout
from .manager import down, status, up
from .processes import StackError, stop_process
from .prometheus import add_scrape_target, prometheus_running, remove_scrape_target
from .workers import start_worker, wait_ready, worker_env

__all__ = ["main"]


def main() -> int:
    layout = StackLayout.from_env()
    started_stack = any(row.state == "stopped" for row in status(layout))
    children: List[subprocess.Popen] = []
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        up(layout)
        worker_log = layout.log_file("worker-1")
        worker = start_worker(worker_env(layout, "worker-1", web_port=layout.web_port), worker_log)
        children.append(worker)
        add_scrape_target(layout, "worker-1", layout.web_port, {"app_id": "ledgerstream"})
        print(f"worker: starting (log {worker_log.relative_to(REPO_ROOT)})", flush=True)
        wait_ready(layout.web_url, worker)
        ledger_log = layout.log_file("ledger")
        with open(ledger_log, "ab") as log:
            children.append(subprocess.Popen(
                [sys.executable, "-m", "dev.demo_ledger",
                 "--rate", "5", "--customers", "20", "--burst-probability", "0.02"],
                cwd=REPO_ROOT, env=worker_env(layout, "ledger", web_port=layout.web_port),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))
        _print_urls(layout)
        print_alerts_in_background(layout.web_url, lambda line: print(line, flush=True))
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    raise StackError(f"{' '.join(child.args[2:4])} exited with {child.returncode}; "
                                     "see .stack/logs for why.")
            time.sleep(0.5)
        return 0
    except (StackError, ConnectError, ConnectorFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\nstopping", flush=True)
        for child in reversed(children):
            stop_process(child, timeout=20)
        remove_scrape_target(layout, "worker-1")
        if started_stack:
            down(layout)


def _print_urls(layout: StackLayout) -> None:
    web = layout.web_url
    print(
        f"\nledgerstream is running. Open the console: {web}/console\n"
        "  (live alerts, accounts and customers, the pipeline's state; it asks for WEB_TOKEN when one is set)\n"
        "Or the JSON views:\n"
        f"  {web}/status              the pipeline's state (lag, freshness, dead letters, connectors)\n"
        f"  {web}/readyz              worker readiness (/livez: liveness)\n"
        f"  {web}/metrics             the worker's Prometheus metrics\n"
        f"  {web}/accounts/1          an account's live balance (any id the demo ledger opened)\n"
        f"  {web}/accounts/1/turnover today's deposits and withdrawals of the account\n"
        f"  {web}/customers/1         a customer's accounts and total balance\n"
        f"  {web}/alerts/1            the account's fraud alerts, oldest first\n"
        f"  {web}/live/alerts         new alerts as they happen (Server-Sent Events)\n"
        f"  {redact(layout.connect_url)}/connectors/ledger-postgres/status   the Debezium connector\n"
        + (f"  {layout.prometheus_url}/graph?g0.expr=ledgerstream_consumer_lag_records"
           "   Prometheus (lag, freshness...)\n"
           if prometheus_running(layout) else "") +
        "Logs: .stack/logs/ (worker-1.log, ledger.log, kafka.log, postgres.log, connect.log)\n"
        "New alerts are printed below as the demo ledger's bursts trigger them.\n"
        "Press Ctrl-C to stop everything this started.\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
