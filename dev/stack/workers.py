"""Faust workers on the local stack: how to start one, and how to know it is ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from .layout import REPO_ROOT, StackLayout
from .processes import wait_until

__all__ = ["worker_env", "worker_command", "start_worker", "health", "wait_ready"]


def worker_env(layout: StackLayout, name: str, *, web_port: int, app_id: str = "ledgerstream",
               extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    data_dir = layout.workers_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        **layout.env_values(),
        "APP_ID": app_id,
        "DATA_DIR": str(data_dir),
        "WEB_PORT": str(web_port),
        "WEB_URL": f"http://127.0.0.1:{web_port}",
        **(extra or {}),
    }


def worker_command(env: Mapping[str, str]) -> List[str]:
    """The worker's command line; with LOG_FORMAT=json the CLI prints no banner (every line is JSON)."""
    quiet = ["--quiet"] if env.get("LOG_FORMAT") == "json" else []
    return [sys.executable, "-m", "faust", *quiet, "-A", "app", "worker", "-l", env.get("LOG_LEVEL", "info")]


def start_worker(env: Mapping[str, str], log_file: Path) -> subprocess.Popen:
    """A worker process in its own session, logging to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            worker_command(env),
            cwd=REPO_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def health(web_url: str) -> Optional[dict]:
    try:
        with urllib.request.urlopen(f"{web_url}/health", timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return None


def wait_ready(web_url: str, process: subprocess.Popen, *, timeout: float = 120) -> None:
    wait_until(
        lambda: (health(web_url) or {}).get("status") == "ready", timeout=timeout, what="The worker",
        interval=0.5, failed=lambda: None if process.poll() is None else f"it exited with {process.returncode}",
    )
