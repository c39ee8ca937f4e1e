"""Blueprint ``update``: SPARQL 1.1 Update at ``/update`` (W3C SPARQL 1.1 Protocol, update operation).

* ``POST`` ``application/sparql-update`` (the update is the UTF-8 body; ``using-graph-uri``
  and ``using-named-graph-uri`` in the URL), or ``POST`` ``application/x-www-form-urlencoded``
  (``update=``, the dataset parameters in the body or the URL). Success is ``204 No Content``
  once the write is committed and visible to every reader.
* Read-only server (the default): 403 "The server is read-only.", whatever the request.
  Updates on: a bearer token first (401), then the request (:mod:`service.writes`).
* Errors as short ``text/plain``: several updates, ``query=``, non-UTF-8 text, a syntax
  error (with line and column), a failed operation, an update that names its own dataset
  and the protocol's → 400; a wrong or missing media type → 415; a body over
  ``UPDATE_MAX_BYTES`` → 413; ``LOAD`` and ``SERVICE`` → 422; past ``UPDATE_TIMEOUT`` → 503;
  ``GET`` and other methods → 405. A request is one transaction: if any operation fails,
  nothing is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Blueprint, Request, Response, current_app, request

from service.errors import BadQuery, ReadOnly, UnsupportedMediaType
from service.store import get_store
from service.update_guard import preflight_update, screen_update, with_protocol_dataset
from service.web.sparql import _body, _iris, _pairs  # the protocol's strict form and body readers
from service.writes import authorise, note_write

__all__ = ["bp", "UpdateRequest", "read_update_request"]

bp = Blueprint("update", __name__)

_FORM = "application/x-www-form-urlencoded"
_UPDATE = "application/sparql-update"


@dataclass(frozen=True)
class UpdateRequest:
    """One protocol update request: its text and the protocol dataset."""

    update: str
    using: tuple[str, ...] = ()
    using_named: tuple[str, ...] = ()


def read_update_request(req: Request, max_bytes: int) -> UpdateRequest:
    """Read an update request the way the SPARQL 1.1 Protocol defines it.

    :param max_bytes: the update size cap (form bodies may be 3x, for percent-encoding).
    :raises BadQuery: no update or several, ``query=``, non-UTF-8 text, a malformed graph IRI (400).
    :raises UnsupportedMediaType: neither a form nor ``application/sparql-update`` (415).
    :raises service.errors.PayloadTooLarge: a body over the cap (413).
    """
    url = _pairs(req.query_string, "query string")
    if req.mimetype == _FORM:
        body = _pairs(_body(req, 3 * max_bytes), "form body")
    elif req.mimetype == _UPDATE:
        charset = req.mimetype_params.get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise BadQuery(f"A SPARQL update must be sent as UTF-8, not charset={charset}.")
        try:
            body = [("update", _body(req, max_bytes).decode("utf-8"))]
        except UnicodeDecodeError:
            raise BadQuery("The update is not valid UTF-8.") from None
    else:
        raise UnsupportedMediaType(f"POST an update as {_UPDATE} or {_FORM}, not {req.mimetype or 'no media type'}.")
    pairs = url + body
    if any(k == "query" for k, _ in pairs):
        raise BadQuery("Queries are not accepted at /update: send them to /sparql.")
    updates = [v for k, v in pairs if k == "update"]
    if len(updates) != 1:
        raise BadQuery("No update: send an 'update' parameter or an application/sparql-update body." if not updates
                       else f"{len(updates)} updates were given: give exactly one 'update'.")
    return UpdateRequest(updates[0], _iris(pairs, "using-graph-uri"), _iris(pairs, "using-named-graph-uri"))


@bp.route("/update", methods=["POST"])
def update() -> Response:
    """Run one SPARQL 1.1 update request (204 when committed)."""
    authorise(current_app, request)
    started = time.monotonic()
    cfg = current_app.config
    max_bytes = int(cfg["UPDATE_MAX_BYTES"])
    req = read_update_request(request, max_bytes)
    screen_update(req.update, max_bytes)
    text = with_protocol_dataset(req.update, req.using, req.using_named)
    store = get_store()
    if not store.supports_update:
        raise ReadOnly("The store has no update endpoint configured.")
    if not hasattr(store, "writer"):  # the embedded store's writer process runs the pre-flight itself
        preflight_update(text, 2 * max_bytes)  # the size was checked above, before USING clauses were added
    store.update(text, base_iri=f"{cfg['BASE_URI']}update")
    note_write(current_app, request, f"update of {len(req.update.encode())} bytes", started)
    return Response(status=204)


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-store"
    return resp
