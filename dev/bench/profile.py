"""Where a worker's time goes: py-spy's raw (collapsed) stacks, summed into categories and functions.

    python -m dev.bench.profile PROFILE.txt[.gz]   # print the summary of a `py-spy record --format raw` file

Each sample is one stack (py-spy counts only threads that are running, so samples are CPU time).
A sample goes to the category of the deepest frame that a rule below claims (the most specific
code that was running); frames no rule claims (asyncio, the Kafka client's connection, C calls
such as RocksDB or orjson, which py-spy shows as their caller) count for the nearest claimed
caller. Samples whose stack imports modules or handles a rebalance are start-up, not steady state,
and are left out of the percentages.
"""

from __future__ import annotations

import gzip
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["Profile", "read_profile", "CATEGORIES"]

Frame = Tuple[str, str]  # (function, file)
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")

#: (category, test on one frame); the first rule that claims the deepest claimable frame wins.
#: Paths are py-spy's, relative to the repository; the rules also claim the paths these modules had
#: before the layout change (rules/, eventcodec/, batching/), so a profile recorded then still sorts.
CATEGORIES: List[Tuple[str, object]] = [
    ("job: decode the Debezium record (cdc/, projections/transactions.py)",
     lambda f, p: p.startswith("cdc/") or p == "projections/transactions.py" or p == "projections/fields.py"),
    ("job: turnover (projections/turnover.py)", lambda f, p: p == "projections/turnover.py"),
    ("job: rules and rule state rows (detection/, tables/rule_state.py)",
     lambda f, p: p.startswith(("detection/", "rules/")) or p == "tables/rule_state.py"),
    ("job: alerts - rows and Avro envelope (projections/alerts.py, schemas/)",
     lambda f, p: p == "projections/alerts.py" or p.startswith("eventcodec/") or p.startswith("schemas/")
     or f == "publish_alert"),
    ("table reads: RocksDB get + JSON decode", lambda f, p: f in ("SerializedStore.__getitem__",
                                                                 "SerializedStore.__contains__")),
    ("table writes: RocksDB put + JSON encode", lambda f, p: f in ("SerializedStore.__setitem__",
                                                                  "SerializedStore.__delitem__")),
    ("sending: changelog and alert records (Faust producer buffer, aiokafka producer, socket writes)",
     lambda f, p: p.startswith("aiokafka/producer/") or p == "faust/transport/producer.py"
     or (p == "faust/transport/drivers/aiokafka.py" and f.startswith("Producer."))
     or (p == "faust/topics.py" and ("send" in f or "publish" in f or "prepare" in f))
     or (p == "faust/tables/base.py" and ("changelog" in f or f.endswith("on_key_set")))
     or (p == "faust/channels.py" and "send" in f)),
    ("consuming: fetch thread, record parsing (aiokafka consumer, Faust consumer)",
     lambda f, p: p.startswith("aiokafka/consumer/") or p == "faust/transport/consumer.py"
     or p == "mode/threads.py" or (p == "faust/transport/drivers/aiokafka.py" and "Consumer" in f)
     or p.startswith("aiokafka/record/")),
    ("Faust per-event machinery: stream, conductor, acks, sensors, wait_first",
     lambda f, p: p in ("faust/streams.py", "faust/transport/conductor.py", "faust/events.py")
     or p.startswith("faust/sensors/") or p.startswith("faust/_cython") or p == "faust/agents/agent.py"
     or (p == "mode/services.py" and f.startswith("Service.wait")) or p == "faust/channels.py"
     or p == "mode/utils/futures.py"),
    ("batch agents: delivery, row cache, flush (engine/batching/)",
     lambda f, p: p.startswith(("engine/batching/", "batching/"))),
    ("agent body (agents/*.py glue)", lambda f, p: p.startswith("agents/")),
]
_STARTUP = ("_find_and_load", "on_rebalance", "on_partitions_assigned", "_on_partitions_assigned",
            "Recovery", "on_recovery_completed")


def _frame(text: str) -> Frame:
    m = _FRAME.match(text)
    return (m.group(1), m.group(2)) if m else (text, "")


class Profile:
    def __init__(self, stacks: Sequence[Tuple[List[Frame], int]]):
        self.startup = 0
        self.by_category: Counter = Counter()
        self.self_time: Counter = Counter()
        self.inclusive: Counter = Counter()
        self.samples = 0
        for frames, n in stacks:
            if any(any(mark in f for mark in _STARTUP) or "importlib" in p or f == "SSLContext.load_default_certs"
                   for f, p in frames):
                self.startup += n
                continue
            self.samples += n
            self.by_category[self._category(frames)] += n
            self.self_time[frames[-1]] += n
            for frame in set(frames):
                self.inclusive[frame] += n

    @staticmethod
    def _category(frames: List[Frame]) -> str:
        for func, path in reversed(frames):
            for name, claims in CATEGORIES:
                if claims(func, path):
                    return name
        if any(p.startswith("asyncio/") or p == "selectors.py" for _, p in frames):
            return "asyncio event loop: scheduling, selector, tasks"
        return "other"

    def shares(self) -> Dict[str, float]:
        return {k: v / self.samples for k, v in self.by_category.most_common()} if self.samples else {}

    def top_self(self, n: int = 15) -> List[Tuple[str, float]]:
        return [(f"{func} ({path})", c / self.samples) for (func, path), c in self.self_time.most_common(n)]

    def summary(self, top: int = 10) -> Dict[str, object]:
        """What a report needs, small enough for results.json: the raw stacks need not be kept."""
        return {"samples": self.samples, "startup": self.startup, "shares": self.shares(),
                "top_self": [list(x) for x in self.top_self(top)]}

    def share_of(self, func: str, path: Optional[str] = None) -> float:
        return sum(c for (f, p), c in self.inclusive.items() if f == func and (path is None or p == path)) \
            / max(1, self.samples)


def read_profile(path: Path) -> Profile:
    """A py-spy raw profile, plain or gzip-compressed (as the benchmark keeps it: `*.txt.gz`)."""
    path = Path(path)
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([_frame(f) for f in stack.split(";")], int(count)))
    return Profile(stacks)


def main(argv=None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    profile = read_profile(Path(args[0]))
    print(f"{profile.samples} steady-state samples ({profile.startup} start-up samples left out)")
    for name, share in profile.shares().items():
        print(f"  {100 * share:5.1f}%  {name}")
    print("top functions by own time:")
    for name, share in profile.top_self():
        print(f"  {100 * share:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
