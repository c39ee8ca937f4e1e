"""F10: slow request heads (slowloris) cannot stop the server.

Three times as many connections as the server has threads (2 workers × 4) each send one
byte of a never-ending request head every second. With ``KG_REQUEST_HEAD_TIMEOUT`` = 2 s
(:mod:`service.serve_worker`), ``/health`` and a page still answer within 1 s while they are
open, the server closes every one of them within the timeout plus a margin, and its log has no
traceback. The control case serves with the setting at 0 (gunicorn's plain ``gthread``
worker, one process): the same connections hold its threads and the same requests do not all
answer within 1 s, so the first test can fail.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.conftest import kg_settings
from tests.hardening.harness import Server
from tests.hardening.traffic import targets

WORKERS, THREADS = 2, 4  # service.serve: 4 threads per worker process
SLOW = 3 * WORKERS * THREADS
HEAD_TIMEOUT = 2
MARGIN = 2.5  # the worker checks deadlines once a second; a loaded machine adds the rest
HEAD = b"GET /health HTTP/1.1\r\nHost: kg.test\r\nX-Slow: " + b"a" * 4000  # no blank line: never complete


class Drip:
    """``n`` connections sending one byte of :data:`HEAD` each per second, from one thread.

    ``closed`` maps a connection's index to the seconds from its opening to the server closing it.
    """

    def __init__(self, port: int, n: int) -> None:
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
        self.opened = time.monotonic()
        self.closed: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sent = 0
        while not self._stop.is_set() and sent < len(HEAD):
            for i, sock in enumerate(self.socks):
                if i not in self.closed:
                    try:
                        sock.send(HEAD[sent:sent + 1])
                    except OSError:
                        self._close(i)
            sent += 1
            until = time.monotonic() + 1.0
            while (left := until - time.monotonic()) > 0 and not self._stop.is_set():
                live = [sock for i, sock in enumerate(self.socks) if i not in self.closed]
                if not live:
                    return
                for sock in select.select(live, [], [], min(left, 0.1))[0]:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self._close(self.socks.index(sock))

    def _close(self, i: int) -> None:
        self.closed.setdefault(i, time.monotonic() - self.opened)

    @property
    def open(self) -> int:
        return len(self.socks) - len(self.closed)

    def wait_all_closed(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.open and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.socks:
            sock.close()


def serve(kg_config: dict[str, Any], log: Path, head_timeout: float, workers: int = WORKERS) -> Server:
    return Server(kg_settings(kg_config, REQUEST_HEAD_TIMEOUT=head_timeout), log, workers=workers)


def a_page(server: Server) -> str:
    """A commune's HTML page, fetched concurrently first so every worker has it warm."""
    page = next(path for kind, path in targets(server) if kind == "page")
    with ThreadPoolExecutor(WORKERS * THREADS) as pool:
        assert all(r.status == 200 for r in pool.map(lambda _: server.get(page), range(4 * WORKERS * THREADS)))
    return page


def probe(server: Server, page: str) -> list[tuple[str, int, float]]:
    """``/health`` and the page, three times each (so both workers likely serve some): path, status, seconds.

    Each request may take at most 1 s (status 0 past it).
    """
    replies = []
    for _ in range(3):
        for path in ("/health", page):
            reply = server.get(path, timeout=1)
            ok = reply.status == 200 and (path == "/health" or b"<html" in reply.body.lower())
            replies.append((path, reply.status if ok else 0, round(reply.seconds, 3)))
    return replies


@pytest.fixture(scope="module")
def guarded_server(built_kg: Any, kg_config: dict[str, Any], hardening_dir: Path) -> Iterator[Server]:
    server = serve(kg_config, hardening_dir / "slowloris-server.log", HEAD_TIMEOUT)
    yield server
    server.stop()


def test_slow_heads_do_not_block_the_server(guarded_server: Server) -> None:
    server = guarded_server
    page = a_page(server)
    mark = len(server.log())
    drip = Drip(server.port, SLOW)
    try:
        time.sleep(0.5)  # every slow connection has sent bytes: on plain gthread, each now holds a thread
        replies = probe(server, page)
        still_open = drip.open
        assert all(status == 200 and seconds < 1 for _, status, seconds in replies), replies
        assert still_open == SLOW, f"only {still_open} of {SLOW} slow connections were open during the checks"
        drip.wait_all_closed(HEAD_TIMEOUT + MARGIN + 2)
        assert drip.open == 0, f"{drip.open} slow connections still open after {HEAD_TIMEOUT + MARGIN + 2} s"
        late = {i: round(s, 2) for i, s in drip.closed.items() if s > HEAD_TIMEOUT + MARGIN}
        assert not late, f"closed later than {HEAD_TIMEOUT} + {MARGIN} s: {late}"
        early = {i: round(s, 2) for i, s in drip.closed.items() if s < HEAD_TIMEOUT - 0.1}
        assert not early, f"closed before the {HEAD_TIMEOUT} s timeout: {early}"
    finally:
        drip.close()
    server.health_within(1.0)
    log = server.log()[mark:]
    assert "Traceback" not in log and "unhandled error" not in log, log[-2000:]
    assert log.count("no complete request head within 2 s") == SLOW, log[-2000:]


def test_silent_connections_are_closed(guarded_server: Server) -> None:
    """Connections that never send a byte are closed at the same deadline (counted from accept)."""
    socks = [socket.create_connection(("127.0.0.1", guarded_server.port), timeout=HEAD_TIMEOUT + MARGIN)
             for _ in range(3)]
    opened = time.monotonic()
    try:
        for sock in socks:
            assert sock.recv(1) == b""  # the server closed it (a timeout here raises)
        assert HEAD_TIMEOUT - 0.1 < time.monotonic() - opened < HEAD_TIMEOUT + MARGIN
    finally:
        for sock in socks:
            sock.close()


def test_complete_heads_still_work(guarded_server: Server) -> None:
    """A head sent in pieces within the timeout, and kept-alive connections, are answered."""
    with socket.create_connection(("127.0.0.1", guarded_server.port), timeout=5) as sock:
        for piece in (b"GET /hea", b"lth HTTP/1.1\r\nHost: kg.test\r\n", b"Connection: close\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.3)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    conn = http.client.HTTPConnection("127.0.0.1", guarded_server.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/health")
            reply = conn.getresponse()
            reply.read()
            assert reply.status == 200 and not reply.will_close
            time.sleep(0.2)
        conn.request("POST", "/sparql", body="query=ASK%20%7B%7D",
                     headers={"Content-Type": "application/x-www-form-urlencoded",
                              "Accept": "application/sparql-results+json"})
        reply = conn.getresponse()
        assert reply.status == 200 and b"boolean" in reply.read()
    finally:
        conn.close()


def test_control_plain_gthread_is_blocked(built_kg: Any, kg_config: dict[str, Any], hardening_dir: Path) -> None:
    """Without the bounded head time (setting 0: gunicorn's gthread), the same attack blocks requests."""
    # One worker process: with two, the kernel may hand most slow connections to one of them and
    # the probe's requests to the other, which would make this control a matter of luck.
    server = serve(kg_config, hardening_dir / "slowloris-control.log", 0, workers=1)
    try:
        page = a_page(server)
        drip = Drip(server.port, SLOW)
        try:
            time.sleep(0.5)
            replies = probe(server, page)
            assert not all(status == 200 for _, status, _ in replies), f"all answered without the fix: {replies}"
            assert drip.open == SLOW
        finally:
            drip.close()
    finally:
        server.stop()
