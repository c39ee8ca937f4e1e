"""Whole answers of resource pages and documents, replayed before Flask runs.

A page or RDF document of an unchanged dataset is the same for the same request, and its
body is already kept by the page cache (:mod:`service.web.pages`); what is left per request
is Flask's own work (request context, routing, content negotiation, headers), which costs
several times the replay. This WSGI middleware keeps the *complete* answer (status, every
header, body) of a ``GET`` that the page views marked cacheable (``environ["kg.front"]``),
under a key made of everything such an answer depends on: path, query string, the
``Accept*`` headers, ``Cookie`` (the language), ``Origin``, ``Host`` and scheme. It replays
it to the next identical request.

What is never replayed: other methods, requests with conditional or range headers (Flask
answers them, with a 304 when due), answers other than ``200``, answers that set a cookie
or are not ``Cache-Control: public``, and any answer of another dataset version: the key
holds the same stamp as :func:`service.dataset_meta.per_build` (``build-info.json``'s
``stat`` and the write generation). Fair use (:mod:`service.web.fairuse`) charges a replay
like any request; a refused client goes through Flask, which answers the ``429``.

Only on the embedded backend (the remote engine's data can change outside this process),
bounded by ``PAGES_CACHE_BYTES`` (``0`` turns it off), least recently used out first.
Replays carry ``X-Cache: hit``.

>>> c = FrontCache(lambda e, s: [b"x"], limit=100, stamp=lambda: 1)
>>> c.get(("k",), 1) is None  # a miss (the request then goes to Flask, and its answer is kept)
True
>>> c.put(("k",), 1, "200 OK", [("Content-Length", "10")], b"x" * 10)
>>> c.get(("k",), 1)[2], c.size
(b'xxxxxxxxxx', 10)
>>> c.get(("k",), 2) is None, c.size  # another dataset version: everything is dropped
(True, 0)
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["FLAG", "FrontCache", "init_app", "mark"]

#: The environ key a view sets to offer its answer to the front cache.
FLAG = "kg.front"

_KEY_HEADERS = ("PATH_INFO", "QUERY_STRING", "SCRIPT_NAME", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING",
                "HTTP_ACCEPT_LANGUAGE", "HTTP_COOKIE", "HTTP_ORIGIN", "HTTP_HOST", "wsgi.url_scheme")
_BYPASS_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
                   "HTTP_IF_RANGE", "HTTP_RANGE", "HTTP_CACHE_CONTROL", "HTTP_PRAGMA")

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_Entry = tuple[str, list[tuple[str, str]], bytes]


def mark(environ: dict[str, Any]) -> None:
    """Offer this request's answer to the front cache (it still decides, see the module)."""
    environ[FLAG] = True


class FrontCache:
    """The middleware around ``app`` (a WSGI callable).

    :param stamp: the dataset version, called once per request.
    :param admit: ``admit(environ)`` charges fair use and returns a release callable, or
        ``None`` when the client is refused (the request then goes to ``app``).
    """

    def __init__(self, app: Wsgi, *, limit: int, stamp: Callable[[], Any],
                 admit: Callable[[dict[str, Any]], Callable[[], None] | None] | None = None) -> None:
        self.app, self.limit, self.size = app, limit, 0
        self._stamp, self._admit = stamp, admit
        self._version: Any = None
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], version: Any) -> _Entry | None:
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self.size, self._version = 0, version
                return None
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[Any, ...], version: Any, status: str, headers: list[tuple[str, str]],
            body: bytes) -> None:
        if len(body) > self.limit // 8:
            return
        with self._lock:
            if version != self._version or key in self._entries:
                return
            self._entries[key] = (status, headers, body)
            self.size += len(body)
            while self.size > self.limit:
                _, (_, _, old) = self._entries.popitem(last=False)
                self.size -= len(old)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or any(h in environ for h in _BYPASS_HEADERS):
            return self.app(environ, start_response)
        key = tuple(environ.get(h) for h in _KEY_HEADERS)
        version = self._stamp()
        entry = self.get(key, version)
        if entry is not None:
            release = self._admit(environ) if self._admit else _nothing
            if release is not None:
                try:
                    status, headers, body = entry
                    start_response(status, [*headers, ("X-Cache", "hit")])
                    return [body]
                finally:
                    release()
            return self.app(environ, start_response)  # refused: Flask answers the 429
        return self._fill(environ, start_response, key, version)

    def _fill(self, environ: dict[str, Any], start_response: StartResponse, key: tuple[Any, ...],
              version: Any) -> Iterable[bytes]:
        seen: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        answer = self.app(environ, capture)
        if not environ.get(FLAG) or not seen or not seen[0].startswith("200 "):
            return answer
        names = {name.lower(): value for name, value in seen[1]}
        if "set-cookie" in names or "public" not in names.get("cache-control", ""):
            return answer
        try:  # the marked views answer whole bodies, never streams
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        self.put(key, version, seen[0], list(seen[1]), body)
        return [body]


def _nothing() -> None:
    return None


def init_app(app: Flask) -> None:
    """Wrap ``app.wsgi_app`` (embedded backend, ``PAGES_CACHE_BYTES`` > 0 only)."""
    limit = int(app.config.get("PAGES_CACHE_BYTES", 0))
    if limit <= 0 or app.config.get("BACKEND") != "oxigraph":
        return
    info = os.path.join(os.path.dirname(os.path.abspath(str(app.config["STORE_PATH"]))), "build-info.json")
    ext = app.extensions

    def stamp() -> Any:
        try:
            st = os.stat(info)
        except OSError:
            return (None, ext.get("kg_data_generation", 0))
        return ((st.st_mtime_ns, st.st_size), ext.get("kg_data_generation", 0))

    app.wsgi_app = FrontCache(app.wsgi_app, limit=limit, stamp=stamp,  # type: ignore[method-assign]
                              admit=_fair_use(app))


def _fair_use(app: Flask) -> Callable[[dict[str, Any]], Callable[[], None] | None] | None:
    """Fair use for replays: the same client, exemptions and charges as :mod:`fairuse`."""
    from service.errors import TooManyRequests
    from service.web.fairuse import client_address

    fair = app.extensions.get("kg_fairuse")
    if fair is None:
        return None
    trusted, exempt = tuple(app.config["FAIRUSE_TRUSTED_PROXIES"]), frozenset(app.config["FAIRUSE_EXEMPT"])

    def admit(environ: dict[str, Any]) -> Callable[[], None] | None:
        client = client_address(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), trusted)
        if client in exempt:
            return _nothing
        try:
            fair.admit(client)
        except TooManyRequests:
            return None
        started = time.monotonic()
        return lambda: fair.release(client, time.monotonic() - started)

    return admit
