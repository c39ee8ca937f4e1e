"""Per-client fair use: a concurrency limit and a request-time budget, 429 + ``Retry-After`` past them.

The client is the peer address of the connection (``REMOTE_ADDR``). ``X-Forwarded-For`` is
believed only when that peer is one of ``FAIRUSE_TRUSTED_PROXIES``; the client is then the
right-most address of the header that is not itself a trusted proxy (so a client cannot
choose its identity by sending its own header through the proxy). Without trusted proxies the
header is ignored: behind a reverse proxy, list it, or every client looks like the proxy.

Two limits, each disabled by 0 (:mod:`service.config`):

* ``FAIRUSE_MAX_CONCURRENT``: requests a client may have in progress at once; one more is
  refused at once with 429 and ``Retry-After: 1``.
* ``FAIRUSE_TIME_BUDGET`` seconds of request time per ``FAIRUSE_WINDOW`` seconds: every
  request is charged its wall time (at least :data:`MIN_CHARGE`, so floods of cheap
  requests count too, the lesson WDQS learnt in 2017) to a bucket that drains at
  ``budget / window`` seconds per second. A client whose bucket is full is refused with 429
  and a ``Retry-After`` saying when it will have room again.

``FAIRUSE_EXEMPT`` clients (loopback by default: local tools, benchmarks, health checks) and
``/health`` and static files are never limited. The accounting lives in each server process:
with N gunicorn workers a client may get up to N times the limits, depending on which worker
its connections reach.

>>> fair = FairUse(max_concurrent=1, budget=10, window=10, clock=lambda: 0.0)
>>> fair.admit("192.0.2.1")
>>> fair.admit("192.0.2.1")
Traceback (most recent call last):
...
service.errors.TooManyRequests: This client already has 1 request(s) in progress; the limit is 1.
>>> fair.release("192.0.2.1", 12.0)
>>> fair.admit("192.0.2.1")
Traceback (most recent call last):
...
service.errors.TooManyRequests: This client used its 10 s of request time per 10 s; retry in 2 s.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.errors import TooManyRequests

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["FairUse", "MIN_CHARGE", "client_address", "init_app"]

#: Seconds every request is charged at least.
MIN_CHARGE = 0.002
_MAX_CLIENTS = 10_000  # idle entries are dropped past this many
_EXEMPT_ENDPOINTS = frozenset({"health", "static"})


@dataclass
class _Account:
    active: int = 0
    used: float = 0.0
    stamp: float = 0.0


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: Iterable[str]) -> str:
    """The client of a request: the peer, or what trusted proxies say in ``X-Forwarded-For``.

    >>> client_address("203.0.113.9", "10.0.0.1", [])
    '203.0.113.9'
    >>> client_address("127.0.0.1", "198.51.100.7, 10.0.0.1", ["127.0.0.1", "10.0.0.1"])
    '198.51.100.7'
    >>> client_address("127.0.0.1", "forged, 198.51.100.7", ["127.0.0.1"])
    '198.51.100.7'
    >>> client_address("127.0.0.1", "not-an-address", ["127.0.0.1"])
    '127.0.0.1'
    """
    peer = remote_addr or "unknown"
    trusted = set(trusted_proxies)
    if peer not in trusted or not forwarded_for:
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if hop in trusted:
            continue
        return hop if _is_ip(hop) else peer
    return peer


class FairUse:
    """Per-client accounting (thread-safe).

    :param max_concurrent: requests in progress per client (0: no limit).
    :param budget: seconds of request time per ``window`` seconds (0: no limit).
    :param clock: a monotonic clock (tests pass their own).
    """

    def __init__(self, max_concurrent: int, budget: float, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_concurrent, self.budget, self.window = int(max_concurrent), float(budget), float(window)
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()

    def _account(self, client: str, now: float) -> _Account:
        account = self._accounts.get(client)
        if account is None:
            if len(self._accounts) >= _MAX_CLIENTS:
                self._prune(now)
            account = self._accounts[client] = _Account(stamp=now)
        elif self.budget:
            account.used = max(0.0, account.used - (now - account.stamp) * self.budget / self.window)
        account.stamp = now
        return account

    def _prune(self, now: float) -> None:
        for client in [c for c, a in self._accounts.items() if a.active == 0 and
                       a.used - (now - a.stamp) * self.budget / self.window <= 0]:
            del self._accounts[client]

    def admit(self, client: str) -> None:
        """Count one more request of ``client`` in progress.

        :raises TooManyRequests: over the concurrency limit or the time budget (429).
        """
        with self._lock:
            account = self._account(client, self._clock())
            if self.max_concurrent and account.active >= self.max_concurrent:
                raise TooManyRequests(f"This client already has {account.active} request(s) in progress; "
                                      f"the limit is {self.max_concurrent}.", retry_after=1)
            if self.budget and account.used >= self.budget:
                wait = max(1, math.ceil((account.used - self.budget) * self.window / self.budget))
                raise TooManyRequests(f"This client used its {self.budget:g} s of request time per "
                                      f"{self.window:g} s; retry in {wait} s.", retry_after=wait)
            account.active += 1

    def release(self, client: str, seconds: float) -> None:
        """One request of ``client`` ended after ``seconds``: charge it (at least :data:`MIN_CHARGE`)."""
        with self._lock:
            account = self._account(client, self._clock())
            account.active = max(0, account.active - 1)
            if self.budget:
                account.used += max(seconds, MIN_CHARGE)

    def usage(self, client: str) -> tuple[int, float]:
        """``(requests in progress, seconds charged and not yet drained)`` of ``client``."""
        with self._lock:
            account = self._account(client, self._clock())
            return account.active, account.used


def init_app(app: Flask) -> None:
    """Hook fair use into ``app`` (nothing when both limits are 0)."""
    from flask import g, request

    cfg = app.config
    if not cfg["FAIRUSE_MAX_CONCURRENT"] and not cfg["FAIRUSE_TIME_BUDGET"]:
        return
    fair = FairUse(cfg["FAIRUSE_MAX_CONCURRENT"], cfg["FAIRUSE_TIME_BUDGET"], cfg["FAIRUSE_WINDOW"])
    trusted, exempt = tuple(cfg["FAIRUSE_TRUSTED_PROXIES"]), frozenset(cfg["FAIRUSE_EXEMPT"])
    app.extensions["kg_fairuse"] = fair

    @app.before_request
    def _admit() -> None:
        if request.endpoint in _EXEMPT_ENDPOINTS:
            return
        client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), trusted)
        if client in exempt:
            return
        fair.admit(client)
        g.kg_fairuse = (client, time.monotonic())

    @app.teardown_request
    def _release(_exc: BaseException | None) -> None:
        entry = g.pop("kg_fairuse", None)
        if entry is not None:
            fair.release(entry[0], time.monotonic() - entry[1])
