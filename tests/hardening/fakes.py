"""A misbehaving SPARQL engine on 127.0.0.1, standing in for a remote Virtuoso.

The fault is the thing under test (hardening.md X1/X2), so a real engine would not do: this
one answers every request according to :attr:`FakeEngine.mode`:

``ok``            an empty, valid answer (SPARQL JSON, or N-Triples when asked for a graph)
``slow-ok``       the same after :attr:`FakeEngine.delay` seconds
``down``          nothing listens: connections are refused
``silent``        accepts, reads the request, never answers
``drip``          a 200 header, then one byte per second
``partial-time``  206 with ``X-SQL-State: S1TAT`` (Virtuoso's "anytime" partial answer)
``partial-rows``  200 with ``X-SPARQL-MaxRows: 10000`` (its row cap)
``huge``          a 200 body that never ends (megabytes of JSON)
``error400``      400 with internal host names and the echoed query, Virtuoso style
``xmlbomb``       200 SPARQL XML results carrying a billion-laughs entity bomb
"""

from __future__ import annotations

import socket
import threading
import time

__all__ = ["FakeEngine", "XML_BOMB"]

EMPTY_JSON = b'{"head":{"vars":["s"]},"results":{"bindings":[]}}'
XML_BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
            + b"".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
                       for i in range(1, 10))
            + b']>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head><variable name="s"/></head>'
              b'<results><result><binding name="s"><literal>&lol9;</literal></binding></result></results></sparql>')
INTERNAL = (b"Virtuoso 37000 Error SP030: SPARQL compiler, line 1: syntax error at 'x' before 'y' on "
            b"db-internal.corp:8890 (10.20.30.40)\n\nSPARQL query:\ndefine input:default-graph-uri "
            b"<http://db-internal.corp:8890/graph> SELECT x y")


class FakeEngine:
    """A threaded TCP server answering by :attr:`mode` (see the module docstring)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.connections = 0
        self.port = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._listen()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sparql"

    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.1)
        self.port = int(sock.getsockname()[1])
        self._sock = sock

    def set_mode(self, mode: str, delay: float = 0.0) -> None:
        """Switch behaviour; ``down`` closes the listening socket, any other mode reopens it."""
        self.delay = delay
        if mode == "down" and self._sock is not None:
            sock, self._sock = self._sock, None
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, which holds the socket
            except OSError:
                pass
            sock.close()
            time.sleep(0.3)  # past the accept timeout: the port is really closed now
        elif mode != "down" and self._sock is None:
            self._listen()
        self.mode = mode
        self.connections = 0

    def _accept(self) -> None:
        while not self._stop.is_set():
            sock = self._sock
            if sock is None:
                time.sleep(0.05)
                continue
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.mode), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bytes:
        data = b""
        conn.settimeout(5)
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
                while len(body) < length and (chunk := conn.recv(65536)):
                    body += chunk
        return head

    def _serve(self, conn: socket.socket, mode: str) -> None:
        try:
            head = self._read_request(conn)
            wants_graph = b"n-triples" in head.lower()
            if mode in ("ok", "slow-ok"):
                time.sleep(self.delay)
                if wants_graph:
                    conn.sendall(_response(200, "application/n-triples", b""))
                else:
                    conn.sendall(_response(200, "application/sparql-results+json", EMPTY_JSON))
            elif mode == "silent":
                self._hold(conn, 30)
            elif mode == "drip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                             b"Content-Length: 52\r\n\r\n")
                for byte in EMPTY_JSON:
                    if self._stop.wait(1.0):
                        return
                    conn.sendall(bytes([byte]))
            elif mode == "partial-time":
                conn.sendall(_response(206, "application/sparql-results+json", EMPTY_JSON,
                                       b"X-SQL-State: S1TAT\r\nX-SQL-Message: RC...: Returning incomplete results\r\n"))
            elif mode == "partial-rows":
                conn.sendall(_response(200, "application/sparql-results+json", EMPTY_JSON,
                                       b"X-SPARQL-MaxRows: 10000\r\n"))
            elif mode == "huge":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                             b"Content-Length: 2000000000\r\n\r\n" + b'{"head":{"vars":["s"]},"results":{"bindings":[')
                row = b'{"s":{"type":"literal","value":"' + b"x" * 1000 + b'"}},'
                for _ in range(20_000):  # 20 MB at most, then give up
                    conn.sendall(row * 10)
            elif mode == "error400":
                conn.sendall(_response(400, "text/plain", INTERNAL))
            elif mode == "xmlbomb":
                conn.sendall(_response(200, "application/sparql-results+xml", XML_BOMB))
        except OSError:
            pass
        finally:
            conn.close()

    def _hold(self, conn: socket.socket, seconds: float) -> None:
        """Keep the connection open and quiet until the client leaves or ``seconds`` pass."""
        conn.settimeout(0.2)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                if conn.recv(1) == b"":
                    return
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._sock is not None:
            self._sock.close()


def _response(status: int, media_type: str, body: bytes, extra: bytes = b"") -> bytes:
    reason = {200: b"OK", 206: b"Partial Content", 400: b"Bad Request"}[status]
    return (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n"
            % (status, reason, media_type.encode(), len(body)) + extra + b"\r\n" + body)
