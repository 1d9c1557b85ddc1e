"""What a process costs while it works: CPU seconds and memory, sampled from outside (psutil, /proc).

A `Sampler` thread reads each watched process's CPU time (user + system, all threads) and RSS
every `interval` seconds; `cpu_between` interpolates the CPU seconds a process spent between two
wall-clock instants (the processing window, known afterwards from the records' timestamps), and
`peak_rss` is the kernel's own high-water mark (VmHWM), read before the process ends.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import psutil

__all__ = ["Sampler", "percentile"]


@dataclass
class _Track:
    process: psutil.Process
    samples: List[Tuple[float, float, int]] = field(default_factory=list)  # (wall time, cpu s, rss)
    hwm: int = 0


class Sampler:
    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self._tracks: Dict[int, _Track] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def watch(self, pid: int) -> None:
        with self._lock:
            self._tracks[pid] = _Track(psutil.Process(pid))
        self._sample(pid)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            for pid in list(self._tracks):
                self._sample(pid)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in list(self._tracks):
                self._sample(pid)

    def _sample(self, pid: int) -> None:
        track = self._tracks[pid]
        try:
            cpu = track.process.cpu_times()
            rss = track.process.memory_info().rss
            hwm = _vm_hwm(pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return
        with self._lock:
            track.samples.append((time.time(), cpu.user + cpu.system, rss))
            track.hwm = max(track.hwm, hwm or rss)

    def cpu_between(self, pid: int, start: float, end: float) -> float:
        """CPU seconds of `pid` between two wall-clock instants, interpolated between samples."""
        return self._cpu_at(pid, end) - self._cpu_at(pid, start)

    def cpu_total(self, pid: int) -> float:
        samples = self._tracks[pid].samples
        return samples[-1][1] if samples else 0.0

    def _cpu_at(self, pid: int, at: float) -> float:
        samples = self._tracks[pid].samples
        times = [s[0] for s in samples]
        i = bisect.bisect_left(times, at)
        if i == 0:
            return samples[0][1]
        if i >= len(samples):
            return samples[-1][1]
        (t0, c0, _), (t1, c1, _) = samples[i - 1], samples[i]
        return c0 + (c1 - c0) * (at - t0) / (t1 - t0) if t1 > t0 else c1

    def peak_rss(self, pid: int) -> int:
        return self._tracks[pid].hwm

    def rss_series(self, pid: int) -> List[Tuple[float, int]]:
        return [(t, rss) for t, _, rss in self._tracks[pid].samples]


def _vm_hwm(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def percentile(values: List[float], q: float) -> Optional[float]:
    """The q-th percentile (0-100) by linear interpolation, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
