"""A TCP proxy for tests that cut connections: what the client sees when a network path breaks."""

from __future__ import annotations

import socket
import threading
from typing import List, Tuple

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target`; `cut()` breaks every open connection, `refuse()` every new
    one until `accept()`: a network path that goes down and comes back. `sent` holds every byte clients
    sent through it (what the target received), for tests of what goes over the wire."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._open: List[socket.socket] = []
        self.connections = 0
        self.sent = bytearray()
        self._closed = False
        self._refusing = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._refusing.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
                self.connections += 1
            for source, sink, record in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, record), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if record:
                    with self._lock:
                        self.sent += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def refuse(self) -> None:
        self._refusing.set()

    def accept(self) -> None:
        self._refusing.clear()

    def cut(self) -> int:
        """Break every open connection; how many there were."""
        with self._lock:
            broken, self._open = self._open, []
        for sock in broken:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        return len(broken) // 2

    def close(self) -> None:
        self._closed = True
        self._server.close()
        self.cut()
