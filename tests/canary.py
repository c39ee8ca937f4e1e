"""A TCP listener on 127.0.0.1 that counts the connections it is offered.

Nothing a client sends may make the service connect anywhere (``SERVICE``, ``FROM``, ``LOAD``,
XML external entities, JSON-LD remote contexts): tests point such requests at a canary and
assert its count stays 0. Shared by ``tests/web`` and ``tests/hardening``.
"""

from __future__ import annotations

import socket
import threading

__all__ = ["Canary"]


class Canary:
    """A TCP listener on 127.0.0.1 counting the connections it is offered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.count += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
