"""Prometheus on the local stack: Debian's `prometheus` as one more process, scraping the workers started here.

Workers are found through files: each worker the stack starts (make run, the tests) gets a
target file under <stack>/prometheus/targets/, which Prometheus watches (file_sd), so a worker
is scraped from its first seconds and forgotten when its file is removed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Mapping, Optional

from .layout import StackLayout
from .processes import pid_alive, port_is_open, read_pid, start_detached, stop_pid, wait_until

__all__ = ["SERVICE", "prometheus_binary", "prometheus_running", "start_prometheus", "stop_prometheus",
           "add_scrape_target", "remove_scrape_target", "SCRAPE_INTERVAL"]

SERVICE = "prometheus"
#: Short, for a local stack where a test waits on what Prometheus has seen.
SCRAPE_INTERVAL = "2s"


def prometheus_binary() -> Optional[str]:
    return shutil.which("prometheus")


def _folder(layout: StackLayout) -> Path:
    return layout.root / "prometheus"


def _config(layout: StackLayout) -> str:
    targets = _folder(layout) / "targets"
    return (
        "# Written by dev/stack/prometheus.py on each start.\n"
        "global:\n"
        f"  scrape_interval: {SCRAPE_INTERVAL}\n"
        f"  evaluation_interval: {SCRAPE_INTERVAL}\n"
        "scrape_configs:\n"
        "  - job_name: ledgerstream\n"
        "    file_sd_configs:\n"
        f"      - files: ['{targets}/*.json']\n"
        "        refresh_interval: 5s\n"
    )


def prometheus_running(layout: StackLayout) -> bool:
    return pid_alive(read_pid(layout.pid_file(SERVICE)))


def start_prometheus(layout: StackLayout, *, timeout: float = 30) -> None:
    folder = _folder(layout)
    (folder / "targets").mkdir(parents=True, exist_ok=True)
    (folder / "prometheus.yml").write_text(_config(layout))
    pid = start_detached(
        [prometheus_binary() or "prometheus", f"--config.file={folder / 'prometheus.yml'}",
         f"--storage.tsdb.path={folder / 'data'}", "--storage.tsdb.retention.time=1d",
         f"--web.listen-address=127.0.0.1:{layout.prometheus_port}"],
        log_file=layout.log_file(SERVICE), pid_file=layout.pid_file(SERVICE),
    )
    wait_until(
        lambda: port_is_open("127.0.0.1", layout.prometheus_port), timeout=timeout, what="Prometheus",
        failed=lambda: None if pid_alive(pid) else "it exited; see the stack's logs/prometheus.log",
    )


def stop_prometheus(layout: StackLayout) -> None:
    stop_pid(read_pid(layout.pid_file(SERVICE)))
    layout.pid_file(SERVICE).unlink(missing_ok=True)


def add_scrape_target(layout: StackLayout, name: str, web_port: int, labels: Mapping[str, str] = ()) -> Path:
    """Have Prometheus scrape the worker `name` on `web_port` (labelled worker=<name> and `labels`)."""
    target = _folder(layout) / "targets" / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    entry = [{"targets": [f"127.0.0.1:{web_port}"], "labels": {"worker": name, **dict(labels)}}]
    partial = target.with_suffix(".tmp")  # written whole, then renamed: Prometheus never reads half a file
    partial.write_text(json.dumps(entry))
    partial.replace(target)
    return target


def remove_scrape_target(layout: StackLayout, name: str) -> None:
    (_folder(layout) / "targets" / f"{name}.json").unlink(missing_ok=True)
