"""A throwaway broker for one test: the stack's Tansu binary on its own port, in memory, pausable."""

from __future__ import annotations

import signal
import subprocess

from dev.stack.broker import tansu_binary
from dev.stack.processes import port_is_open, wait_until

__all__ = ["Broker"]


class Broker:
    def __init__(self, port: int, log) -> None:
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"
        self.log = log
        self.process = None

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: port_is_open("127.0.0.1", self.port), timeout=30, what="The throwaway broker")

    def pause(self) -> None:
        """An outage: the broker keeps its connections and data but answers nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=30)
