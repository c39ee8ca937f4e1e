"""What every write route shares: the read-only switch, the bearer token, the data generation.

* :func:`authorise` runs before a write reads its body: 403 "The server is read-only."
  when ``UPDATES`` is off (whatever the token), else 401 with ``WWW-Authenticate: Bearer``
  when the ``Authorization`` header is missing or not a bearer token, and 401 with
  ``error="invalid_token"`` when the token is wrong (compared in constant time). The token
  is never logged or echoed. Cookies are never consulted, so there is no CSRF surface, and
  write routes send no CORS headers.
* :func:`note_write` records an acknowledged write: it increments
  ``app.extensions["kg_data_generation"]`` (per-build caches, :func:`service.dataset_meta.per_build`,
  drop their values) and logs one audit line.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from service.errors import ReadOnly, Unauthorized

if TYPE_CHECKING:
    from flask import Flask, Request

__all__ = ["init_app", "authorise", "note_write", "REALM"]

log = logging.getLogger(__name__)

REALM = "territory-kg"
_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Start the data generation at 0; with updates on, mark this run (ETags change across restarts)."""
    app.extensions["kg_data_generation"] = 0
    if app.config["UPDATES"]:
        app.extensions["kg_data_writes"] = (uuid.uuid4().hex, 0, datetime.now(timezone.utc).replace(microsecond=0))


def authorise(app: Flask, request: Request) -> None:
    """Let a write through, or refuse it.

    :raises ReadOnly: updates are off (403).
    :raises Unauthorized: no bearer token, or a wrong one (401, with the challenge).
    """
    if not app.config["UPDATES"]:
        raise ReadOnly()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("This write needs a bearer token: send 'Authorization: Bearer <token>'.",
                           challenge=f'Bearer realm="{REALM}"')
    expected = str(app.config["UPDATE_TOKEN"]).encode()
    if not hmac.compare_digest(token.strip().encode("utf-8", "replace"), expected):
        log.warning("write refused: wrong bearer token from %s", request.remote_addr)
        raise Unauthorized("The bearer token is not valid.",
                           challenge=f'Bearer realm="{REALM}", error="invalid_token"')


def note_write(app: Flask, request: Request, what: str, started: float) -> None:
    """Record an acknowledged write: bump the generation, log one audit line (never the token).

    :param what: a short description (operation and graph), already free of secrets.
    :param started: ``time.monotonic()`` when the write began.
    """
    with _LOCK:
        generation = app.extensions.get("kg_data_generation", 0) + 1
        app.extensions["kg_data_generation"] = generation
        run = app.extensions.get("kg_data_writes")
        if run:
            app.extensions["kg_data_writes"] = (run[0], generation,
                                                datetime.now(timezone.utc).replace(microsecond=0))
    log.info("write %s from %s: %s in %.0f ms (generation %d)", request.method, request.remote_addr, what,
             (time.monotonic() - started) * 1000, generation)
