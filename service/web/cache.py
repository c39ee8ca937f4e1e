"""A response cache for repeated ``/sparql`` queries and named-query API calls.

On an unchanged dataset the same request gets the same answer, so the second one need
not run the query. :func:`cached` wraps a view's work: the key is the request's meaning
(query text or query name and arguments, the dataset parameters, the media type content
negotiation chose, the page) plus the dataset version: the cache lives in
:func:`service.dataset_meta.per_build` (dropped when ``build-info.json`` changes) and its
keys also hold ``app.extensions["kg_data_generation"]`` (bumped after each acknowledged
write), so a new build or a write is never answered from an older version.

Only ``200`` answers are kept (errors are raised as exceptions and never reach the
cache); entries are evicted least-recently-used past ``RESPONSE_CACHE_BYTES`` (per
process; ``0`` turns the cache off; always off on the remote backend), and an answer over an eighth of it is not kept.
Answers carry ``X-Cache: hit`` or ``miss``.

Concurrent identical requests on a cold key are coalesced: the first one runs the query, the
others wait for its answer (up to the query and queue timeouts, then they run it themselves)
and get it, or its error, instead of all running the same query at once (a thundering herd:
eight connections asking one 1-s aggregate on a 2-core machine made each wait several
seconds). An answer too large to keep is still handed to the requests that waited for it.

>>> c = ResponseCache(100)
>>> c.put(("q",), Entry(b"x" * 10, 200, ()))
>>> c.get(("q",)).body, c.size
(b'xxxxxxxxxx', 10)
>>> c.put(("big",), Entry(b"x" * 13, 200, ()))  # over 100 // 8: not kept
>>> c.get(("big",)) is None
True
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from flask import Response, current_app

from service.dataset_meta import per_build
from service.errors import KGError

__all__ = ["Entry", "ResponseCache", "cached", "response_cache"]

#: Headers of the view's answer that are kept (the blueprints' after_request hooks add the rest).
_KEPT = ("Content-Type", "Link", "Vary", "Content-Disposition")


@dataclass(frozen=True)
class Entry:
    """One cached answer: body, status and the headers the view set."""

    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]


class Flight:
    """One computation of a key that other requests wait for: its answer or its error."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.waiters = 0  # requests that joined it
        self.entry: Entry | None = None
        self.error: KGError | None = None


class ResponseCache:
    """A thread-safe LRU of :class:`Entry`, bounded by the bytes of the bodies, and the
    computations under way (:meth:`join`, :meth:`land`)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.size, self.hits, self.misses = max_bytes, 0, 0, 0
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._flights: dict[Hashable, Flight] = {}
        self._lock = threading.Lock()

    def join(self, key: Hashable) -> tuple[Flight, bool]:
        """The computation of ``key`` under way, and whether the caller must run it (the first)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                flight.waiters += 1
                return flight, False
            flight = self._flights[key] = Flight()
            return flight, True

    def land(self, key: Hashable, flight: Flight, entry: Entry | None, error: KGError | None) -> None:
        """End ``flight`` with its answer (kept if it fits) or its error; wake whoever waits."""
        if entry is not None:
            self.put(key, entry)
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.entry, flight.error = entry, error
        flight.done.set()

    def get(self, key: Hashable) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, entry: Entry) -> None:
        if len(entry.body) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= len(old.body)
            self._entries[key] = entry
            self.size += len(entry.body)
            while self.size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.size -= len(evicted.body)

    def __len__(self) -> int:
        return len(self._entries)


def response_cache() -> ResponseCache | None:
    """The current app's cache for the current dataset version (None: turned off).

    Off on the remote backend: its data may change outside this process (another server's
    writes, a ``build --target remote``), and nothing here would see the new version.
    """
    limit = int(current_app.config.get("RESPONSE_CACHE_BYTES", 0))
    if limit <= 0 or current_app.config.get("BACKEND") != "oxigraph":
        return None
    return per_build("response-cache", lambda: ResponseCache(limit))


def cached(key: tuple[Hashable, ...], compute: Callable[[], Response]) -> Response:
    """``compute()``'s answer, from the cache when this dataset version already gave it.

    :param key: what makes the answer (the caller's view name first, then its inputs).
    """
    cache = response_cache()
    if cache is None:
        return compute()
    full_key = (current_app.extensions.get("kg_data_generation", 0), *key)  # read before running
    entry = cache.get(full_key)
    if entry is not None:
        return _replay(entry)
    flight, first = cache.join(full_key)
    if not first:
        cfg = current_app.config
        if flight.done.wait(float(cfg["QUERY_TIMEOUT"]) + float(cfg["QUERY_QUEUE_TIMEOUT"]) + 5):
            if flight.error is not None:
                raise copy.copy(flight.error)  # the same request failed just now: fail alike
            if flight.entry is not None:
                return _replay(flight.entry)
        return _miss(compute())  # not shareable (streamed, not a 200) or the first one is stuck
    try:
        resp = compute()
    except KGError as exc:
        cache.land(full_key, flight, None, exc)
        raise
    except BaseException:
        cache.land(full_key, flight, None, None)
        raise
    cache.land(full_key, flight, _entry(resp), None)
    return _miss(resp)


def _entry(resp: Response) -> Entry | None:
    if resp.status_code != 200 or resp.is_streamed:
        return None
    return Entry(resp.get_data(), resp.status_code, tuple((n, v) for n, v in resp.headers.items() if n in _KEPT))


def _miss(resp: Response) -> Response:
    resp.headers["X-Cache"] = "miss"
    return resp


def _replay(entry: Entry) -> Response:
    resp = Response(entry.body, status=entry.status)
    for name, value in entry.headers:
        resp.headers[name] = value
    resp.headers["X-Cache"] = "hit"
    return resp
