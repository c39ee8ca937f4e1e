"""HTTP exchanges with a remote SPARQL engine: explicit timeouts, caps, and honest errors.

Used by :mod:`service.store.remote` (which builds the protocol requests with SPARQLWrapper).
Contract of :meth:`Upstream.send` + :meth:`Upstream.check`:

* ``connect_timeout`` bounds TCP/TLS set-up; failing or timing out there, a refused
  connection or an unknown host is :class:`UpstreamError` (502).
* ``read_timeout`` bounds every wait for data once connected (:class:`UpstreamTimeout`,
  504), and a watchdog shuts the socket after ``connect_timeout + read_timeout`` in all,
  so a server dripping a byte at a time cannot hold a worker either. SPARQLWrapper's own
  ``setTimeout`` is one integer given to the process-wide ``urlopen``, hence this module.
* No proxies from the environment, no redirects followed, bodies capped at ``max_bytes``.
* Partial answers are errors, never relayed as complete: HTTP 206, ``X-SQL-State``
  (``S1TAT``: Virtuoso's "anytime" time limit → 504) and ``X-SPARQL-MaxRows`` (its row
  cap → 502); a row cap seen in a header is remembered in :attr:`Upstream.row_caps`.
* An upstream 400 becomes :class:`BadQuery` with the engine's message cut before the
  echoed query and without host names, ``host:port`` pairs, URL authorities or IPv4
  addresses (:func:`sanitise`): the engine's internal names never reach clients.
* Credentials answer Basic or Digest challenges (Virtuoso's ``/sparql-auth`` uses Digest).
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from typing import Any

from service.errors import BadQuery, UpstreamError, UpstreamTimeout

__all__ = ["Upstream", "Reply", "sanitise", "DEFAULT_ROW_CAPS"]

log = logging.getLogger(__name__)

#: Virtuoso's default ``ResultSetMaxRows``: it also truncates CONSTRUCT answers, silently.
DEFAULT_ROW_CAPS = frozenset({10_000})
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_AUTHORITY = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/\s<>\"']+", re.IGNORECASE)
_HOST_PORT = re.compile(r"\b[\w-]+(?:\.[\w-]+)*:\d{2,5}\b")


def sanitise(text: str, hosts: Iterable[str]) -> str:
    """An engine's error message without the echoed query, engine prefix or host names.

    >>> sanitise("Virtuoso 37000 Error SP030: SPARQL compiler, line 3: syntax error at 'x'\\n\\n"
    ...          "SPARQL query:\\ndefine input:default-graph-uri <http://db.lan:8890/g> x", ["db.lan:8890"])
    "SPARQL compiler, line 3: syntax error at 'x'"
    >>> sanitise("db.lan (10.0.0.7) failed on db-2.lan:8890, see http://db.lan/x", ["db.lan"])
    'remote-engine (remote-engine) failed on remote-engine, see http://remote-engine/x'
    """
    head = text.split("SPARQL query:", 1)[0].strip()
    head = re.sub(r"^Virtuoso \w+ Error \w+(?:\.\.\.)?: *", "", head)
    head = _AUTHORITY.sub(r"\1remote-engine", head)
    for host in sorted(set(hosts), key=len, reverse=True):
        if host:
            head = head.replace(host, "remote-engine")
    head = _HOST_PORT.sub("remote-engine", _IPV4.sub("remote-engine", head))
    return " ".join(head.split())[:500] or "no message"


class _ConnectFailed(OSError):
    """TCP or TLS set-up failed or timed out."""


class _TimedConnection:
    """Mixin: connect within the connection's timeout, then wait at most ``read_timeout``."""

    read_timeout = 30.0

    def connect(self) -> None:
        try:
            super().connect()  # type: ignore[misc]
        except OSError as exc:
            raise _ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        sock = getattr(self, "sock", None)
        if sock is not None:
            sock.settimeout(self.read_timeout)
            # http.client forgets the socket once a "Connection: close" response is open
            # (the response reads it on its own); the watchdog still needs it.
            self.raw_sock = sock


class _HTTP(_TimedConnection, http.client.HTTPConnection):
    pass


class _HTTPS(_TimedConnection, http.client.HTTPSConnection):
    pass


class _Exchange(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """One request's connections, and the watchdog's way to shut them at the deadline."""

    def __init__(self, read_timeout: float) -> None:
        urllib.request.HTTPHandler.__init__(self)
        urllib.request.HTTPSHandler.__init__(self)
        self.read_timeout, self.expired = read_timeout, False
        self.connections: list[http.client.HTTPConnection] = []
        # Auth handlers drop the 401 they answer without closing it: close every response here.
        self.responses: list[http.client.HTTPResponse] = []

    def _factory(self, cls: type[_HTTP] | type[_HTTPS]) -> Any:
        def make(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            conn = cls(*args, **kwargs)
            conn.read_timeout = self.read_timeout
            self.connections.append(conn)
            return conn
        return make

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        self.responses.append(self.do_open(self._factory(_HTTP), req))
        return self.responses[-1]

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        self.responses.append(self.do_open(self._factory(_HTTPS), req, context=self._context))  # type: ignore[attr-defined]
        return self.responses[-1]

    def close(self) -> None:
        resources: list[http.client.HTTPResponse | http.client.HTTPConnection] = [*self.responses, *self.connections]
        for resource in resources:
            resource.close()

    def expire(self) -> None:
        self.expired = True
        for conn in self.connections:
            sock = conn.sock or getattr(conn, "raw_sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Reply:
    """A complete HTTP answer."""

    status: int
    headers: Message
    body: bytes


class Upstream:
    """Sends requests to one remote engine.

    :param urls: the engine's endpoints (their host names are kept out of error messages
        and are the only URLs the credentials are sent to).
    """

    def __init__(self, urls: Iterable[str], *, user: str | None = None, password: str | None = None,
                 connect_timeout: float = 5.0, read_timeout: float = 30.0, max_bytes: int = 256 << 20) -> None:
        urls = list(urls)
        self.connect_timeout, self.read_timeout, self.max_bytes = connect_timeout, read_timeout, max_bytes
        self.hosts = {part for url in urls for part in (urllib.parse.urlsplit(url).netloc,
                                                        urllib.parse.urlsplit(url).hostname or "")}
        self.row_caps = set(DEFAULT_ROW_CAPS)
        self._passwords: urllib.request.HTTPPasswordMgrWithDefaultRealm | None = None
        if user:
            self._passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            self._passwords.add_password(None, urls, user, password or "")

    def send(self, request: urllib.request.Request) -> Reply:
        """Run one exchange and read the whole body (whatever the status).

        :raises UpstreamError: cannot connect, broken exchange, body over ``max_bytes``.
        :raises UpstreamTimeout: no data within ``read_timeout`` or past the deadline.
        """
        exchange = _Exchange(self.read_timeout)
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), _NoRedirect(), exchange]
        if self._passwords is not None:
            handlers += [urllib.request.HTTPBasicAuthHandler(self._passwords),
                         urllib.request.HTTPDigestAuthHandler(self._passwords)]
        too_slow = f"The remote SPARQL engine did not answer within {self.read_timeout:g}s."
        watchdog = threading.Timer(self.connect_timeout + self.read_timeout, exchange.expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                response: Any = urllib.request.build_opener(*handlers).open(request, timeout=self.connect_timeout)
            except urllib.error.HTTPError as err:
                response = err
            chunks, size = [], 0
            with response:
                while chunk := (response.read(1 << 16) if response.fp is not None else b""):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UpstreamError(f"The remote answer exceeds {self.max_bytes:,} bytes.")
                    chunks.append(chunk)
            if exchange.expired:  # a shut socket can look like a clean end of body
                raise UpstreamTimeout(too_slow)
            return Reply(int(getattr(response, "status", None) or response.code), response.headers, b"".join(chunks))
        except urllib.error.URLError as err:
            if exchange.expired or (isinstance(err.reason, TimeoutError) and not isinstance(err.reason, _ConnectFailed)):
                raise UpstreamTimeout(too_slow) from None
            log.warning("remote SPARQL engine unreachable: %s", err.reason)
            raise UpstreamError(f"Cannot reach the remote SPARQL engine: {sanitise(str(err.reason), self.hosts)}") from None
        except TimeoutError:
            log.warning("remote SPARQL engine silent for %.1fs", self.read_timeout)
            raise UpstreamTimeout(too_slow) from None
        except (http.client.HTTPException, OSError) as err:
            if exchange.expired:
                raise UpstreamTimeout(too_slow) from None
            raise UpstreamError(f"The remote SPARQL engine broke the exchange ({type(err).__name__}).") from None
        finally:
            watchdog.cancel()
            exchange.close()

    def check(self, reply: Reply) -> Reply:
        """``reply`` if it is a complete success, else the matching error of the family.

        :raises UpstreamError: partial answer (row cap), refused credentials, engine failure.
        :raises UpstreamTimeout: partial answer (time limit), 408/504, or an S1TAT error.
        :raises BadQuery: the engine rejected the query (400), message sanitised.
        """
        headers, status = reply.headers, reply.status
        state, cap = headers.get("X-SQL-State", ""), headers.get("X-SPARQL-MaxRows", "")
        if status == 206 or state or cap:
            if cap.isdigit():
                self.row_caps.add(int(cap))
            log.warning("remote SPARQL engine sent a partial answer (%d, state=%s, max-rows=%s)", status, state, cap)
            if state == "S1TAT":
                raise UpstreamTimeout("The remote SPARQL engine hit its time limit and sent an incomplete answer.")
            raise UpstreamError(f"The remote SPARQL engine sent an incomplete answer "
                                f"(HTTP {status}{', row limit ' + cap if cap else ''}{', state ' + state if state else ''}).")
        if 200 <= status < 300:
            return reply
        text = reply.body[:4000].decode("utf-8", "replace")
        log.warning("remote SPARQL engine answered %d: %s", status, text[:300])
        if status == 400:
            raise BadQuery(f"SPARQL error from the remote engine: {sanitise(text, self.hosts)}")
        if status in (408, 504) or "S1TAT" in text:
            raise UpstreamTimeout()
        if status in (401, 403):
            raise UpstreamError("The remote SPARQL engine refused our credentials.")
        raise UpstreamError(f"The remote SPARQL engine failed ({status}): {sanitise(text, self.hosts)}")
