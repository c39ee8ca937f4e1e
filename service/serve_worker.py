"""A gunicorn threaded worker that bounds the time a client has to send a request head.

gunicorn's ``gthread`` worker keeps idle connections in its poller (idle keep-alives are
closed after ``keepalive`` seconds), but as soon as the first bytes of a request arrive the
connection goes to one of the worker's threads, which then blocks until the request line and
headers are complete. A client that sends them one byte a second (slowloris) holds that
thread as long as it likes, and ``workers × threads`` such clients stop the server.

:class:`HeadTimeoutWorker` reads request heads in its event loop instead, without blocking:
a connection goes to a thread only once its head is complete (a blank line was received, or
64 KiB, which gunicorn's own header limits then judge). A connection whose head is not
complete ``head_timeout`` seconds after it was accepted (or, on a kept-alive connection, after
the first byte of the next request) is closed, with one INFO line in the log. As a backstop,
a thread that must still read part of a head waits no longer than that deadline either.
Request bodies and responses are not affected. :func:`worker_class` makes the class gunicorn
gets, with the configured timeout (``KG_REQUEST_HEAD_TIMEOUT``, see :mod:`service.serve`).
TLS terminated by gunicorn itself skips the event-loop reading (only the backstop applies).
"""

from __future__ import annotations

import errno
import selectors
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker, TConn

__all__ = ["HeadTimeoutWorker", "worker_class"]

HEAD_CHUNK = 64 * 1024  # past this many bytes without a blank line, a thread's parser judges the head


def head_complete(data: bytes | bytearray) -> bool:
    r"""Whether ``data`` holds the blank line that ends a request head.

    >>> head_complete(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), head_complete(b"GET / HTTP/1.1\r\nHost: a\r\n")
    (True, False)
    """
    return b"\n\r\n" in data or b"\n\n" in data


class _HeadDeadline:
    """The connection's socket as the request parser sees it while it reads one request head.

    >>> import socket
    >>> a, b = socket.socketpair()
    >>> guard = _HeadDeadline(a, 0.2)
    >>> b.sendall(b"GET / HT")
    >>> guard.recv(100), guard.expired
    (b'GET / HT', False)
    >>> guard.recv(100), guard.expired  # nothing more within the deadline: an end of stream
    (b'', True)
    >>> a.close(); b.close()
    """

    def __init__(self, sock: Any, seconds: float) -> None:
        self.sock = sock
        self.deadline = time.monotonic() + seconds
        self.expired = False

    def recv(self, size: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.expired = True
            return b""
        self.sock.settimeout(remaining)
        try:
            return bytes(self.sock.recv(size))
        except TimeoutError:
            self.expired = True
            return b""


class HeadTimeoutWorker(ThreadWorker):  # type: ignore[misc]
    """``gthread`` that reads request heads in its event loop, within ``head_timeout`` seconds."""

    head_timeout: float = 10.0

    def init_process(self) -> None:
        self._heads: dict[Any, float] = {}  # connections whose head is incomplete -> deadline (event loop only)
        super().init_process()

    def accept(self, server: Any, listener: Any) -> None:
        """Accept a connection and wait, in the poller, for its head (its deadline starts now)."""
        if self.cfg.is_ssl:
            return super().accept(server, listener)  # type: ignore[no-any-return]
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return None
        conn = TConn(self.cfg, sock, client, server)
        self.nr_conns += 1
        self._wait_head(conn)
        with self._lock:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))
        return None

    def _wait_head(self, conn: Any) -> None:
        conn.head = bytearray()
        conn.head_deadline = time.monotonic() + self.head_timeout
        self._heads[conn] = conn.head_deadline

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """Read what the client sent without blocking; hand the connection to a thread once its head is whole."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)  # type: ignore[no-any-return]
        if conn not in self._heads:  # a kept-alive connection: the next request begins
            with self._lock:
                try:
                    self._keep.remove(conn)
                except ValueError:  # closed as idle meanwhile
                    return None
            self._wait_head(conn)
        try:
            data = conn.sock.recv(HEAD_CHUNK)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            data = b""
        if not data:  # the client left
            self._drop(conn)
            return None
        conn.head += data
        if not head_complete(conn.head) and len(conn.head) < HEAD_CHUNK:
            return None  # stays in the poller until more arrives or the deadline passes
        del self._heads[conn]
        with self._lock:
            self.poller.unregister(conn.sock)
        conn.init()
        conn.parser.unreader.unread(bytes(conn.head))
        conn.head = bytearray()
        self.enqueue_req(conn)
        return None

    def _drop(self, conn: Any) -> None:
        """Forget and close a connection waiting for its head."""
        self._heads.pop(conn, None)
        self.nr_conns -= 1
        with self._lock:
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
        conn.close()

    def murder_keepalived(self) -> None:
        """Close idle kept-alive connections (gunicorn), then those whose head is overdue."""
        super().murder_keepalived()
        now = time.monotonic()
        for conn in [conn for conn, deadline in self._heads.items() if deadline <= now]:
            self.log.info("Closed a connection from %s: no complete request head within %g s",
                          _peer(conn.client), self.head_timeout)
            self._drop(conn)

    def handle(self, conn: Any) -> Any:
        """Read and answer one request (in a pool thread); what is left of the head to read, within the deadline."""
        seconds = getattr(conn, "head_deadline", time.monotonic() + self.head_timeout) - time.monotonic()
        guard = conn.parser.unreader.sock = _HeadDeadline(conn.sock, seconds)
        try:
            return super().handle(conn)
        finally:
            if guard.expired:
                self.log.info("Closed a connection from %s: no complete request head within %g s",
                              _peer(conn.client), self.head_timeout)
            _disarm(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        """The head is complete: lift the deadline for the body and the response, then answer."""
        _disarm(conn)
        return super().handle_request(req, conn)


def _disarm(conn: Any) -> None:
    """Give the parser the plain blocking socket again (no timeout)."""
    if isinstance(conn.parser.unreader.sock, _HeadDeadline):
        conn.parser.unreader.sock = conn.sock
        try:
            conn.sock.settimeout(None)
        except OSError:  # already closed
            pass


def _peer(client: Any) -> str:
    """``host:port`` of a client address (a tuple, or a string for Unix sockets).

    >>> _peer(("127.0.0.1", 5000)), _peer("unix")
    ('127.0.0.1:5000', 'unix')
    """
    return f"{client[0]}:{client[1]}" if isinstance(client, tuple) else str(client)


def worker_class(head_timeout: float) -> type[HeadTimeoutWorker]:
    """The worker class for gunicorn's ``worker_class`` setting, with ``head_timeout`` seconds.

    >>> worker_class(2.5).head_timeout
    2.5
    """
    return type("HeadTimeoutWorker", (HeadTimeoutWorker,), {"head_timeout": float(head_timeout)})
