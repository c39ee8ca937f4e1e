"""Blueprint ``graphstore``: the SPARQL 1.1 Graph Store HTTP Protocol at ``/rdf-graph-store``.

Graphs are identified indirectly (``/rdf-graph-store?graph=<IRI>``, ``?default`` for the
default graph) or directly: ``/rdf-graph-store/<path>`` is the graph whose IRI is
``{BASE_URI}rdf-graph-store/<path>`` (the configured base, never the request's ``Host``), a
namespace apart from the ``/id/`` resources.

* ``GET``/``HEAD``: the graph, in the format ``Accept`` (or ``format=``) asks for
  (Turtle by default; any graph format of :mod:`service.conneg`); 404 if it does not exist.
  Allowed on a read-only server.
* ``PUT`` replaces the graph, ``POST`` adds to it (201 if it was created, else 204);
  ``POST`` to ``/rdf-graph-store`` without a graph creates a new graph and answers 201 with
  its IRI in ``Location``; ``DELETE`` removes it (204, or 404). Bodies: Turtle, N-Triples,
  N-Quads and TriG (default-graph triples only), RDF/XML, JSON-LD, or ``multipart/form-data``
  whose parts are such documents (POST). Every write needs the bearer token
  (:mod:`service.writes`), is one transaction, and runs in the killable writer.
* Errors: bad RDF, a refused DTD, a remote JSON-LD ``@context``, a bad graph IRI → 400;
  an unknown media type → 415; a body over ``UPDATE_MAX_BYTES`` → 413; a read over
  ``QUERY_MAX_RESULT_BYTES`` → 422; read-only → 403.
"""

from __future__ import annotations

import time
import uuid

from flask import Blueprint, Request, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from service import conneg
from service.errors import BadQuery, NotFound, PayloadTooLarge, ReadOnly, UnsupportedMediaType
from service.store import GraphStore, get_store
from service.store.rdfio import UPLOAD_FORMATS
from service.web.sparql import _ABSOLUTE_IRI, _body, _pairs
from service.writes import authorise, note_write

__all__ = ["bp", "PREFIX", "upload_media_type"]

bp = Blueprint("graphstore", __name__)

#: The Graph Store's path (and, under ``BASE_URI``, the namespace of directly identified graphs).
PREFIX = "rdf-graph-store"
_NO_TARGET = object()


def upload_media_type(value: str) -> str:
    """The canonical media type of an upload (aliases of :mod:`service.conneg` accepted).

    >>> upload_media_type("application/x-turtle")
    'text/turtle'

    :raises UnsupportedMediaType: not an RDF format this server reads (415).
    """
    value = value.strip().lower()
    for fmt in conneg.formats_of("graph"):
        if value == fmt.media_type or value in fmt.aliases:
            value = fmt.media_type
    if value not in UPLOAD_FORMATS:
        raise UnsupportedMediaType(f"Cannot read {value or 'a body without a media type'}: send one of "
                                   f"{', '.join(sorted(set(UPLOAD_FORMATS) - {'application/x-turtle'}))}.")
    return value


def _indirect_target(req: Request) -> object:
    """``graph=`` → its IRI, ``default`` → ``None``, neither → ``_NO_TARGET``.

    :raises BadQuery: both, several graphs, or a graph that is not an absolute IRI.
    """
    pairs = _pairs(req.query_string, "query string")
    graphs = [v for k, v in pairs if k == "graph"]
    default = any(k == "default" for k, _ in pairs)
    if len(graphs) > 1 or (graphs and default):
        raise BadQuery("Name one graph: a single 'graph' parameter, or 'default'.")
    if graphs:
        if not _ABSOLUTE_IRI.fullmatch(graphs[0]):
            raise BadQuery(f"graph must be an absolute IRI: {graphs[0][:200]!r}")
        return graphs[0]
    return None if default else _NO_TARGET


def _parts(req: Request, max_bytes: int) -> list[tuple[bytes, str]]:
    """The uploaded documents: the body, or each file of a ``multipart/form-data`` body."""
    if req.mimetype == "multipart/form-data":
        req.max_content_length = max_bytes
        try:
            files = list(req.files.values())
        except RequestEntityTooLarge:
            raise PayloadTooLarge(f"The request body is over the {max_bytes:,}-byte limit.") from None
        if not files:
            raise BadQuery("The multipart body holds no document (send each as a file part with its media type).")
        return [(f.read(), upload_media_type(f.mimetype)) for f in files]
    media = upload_media_type(req.mimetype)
    charset = req.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8", "us-ascii") and media != "application/rdf+xml":
        raise BadQuery(f"Send {media} as UTF-8, not charset={charset}.")
    return [(_body(req, max_bytes), media)]


def _writable() -> GraphStore:
    store = get_store()
    if not store.supports_update:
        raise ReadOnly("The store has no update endpoint configured.")
    return store


def _serve(target: object) -> Response:
    """One Graph Store request on ``target`` (an IRI, ``None`` for the default graph, or ``_NO_TARGET``)."""
    cfg = current_app.config
    if request.method in ("GET", "HEAD"):
        if target is _NO_TARGET:
            raise BadQuery("Name the graph: ?graph=<IRI> or ?default.")
        fmt = next((v for k, v in _pairs(request.query_string, "query string") if k == "format"), None)
        media = conneg.negotiate(request.accept_mimetypes, "graph", fmt)
        body = get_store().graph(target, media, int(cfg["QUERY_MAX_RESULT_BYTES"]))  # type: ignore[arg-type]
        if body is None:
            raise NotFound("No such graph in the store.")
        resp = Response(body, mimetype=media)
        resp.headers["Vary"] = "Accept"
        return resp
    authorise(current_app, request)
    started = time.monotonic()
    store = _writable()
    if request.method == "DELETE":
        if target is _NO_TARGET:
            raise BadQuery("Name the graph to delete: ?graph=<IRI> or ?default.")
        if not store.drop_graph(target):  # type: ignore[arg-type]
            raise NotFound("No such graph in the store.")
        note_write(current_app, request, f"delete of {_label(target)}", started)
        return Response(status=204)
    parts = _parts(request, int(cfg["UPDATE_MAX_BYTES"]))
    created_here = target is _NO_TARGET
    if created_here:
        if request.method != "POST":
            raise BadQuery("Name the graph to replace: ?graph=<IRI> or ?default.")
        target = f"{cfg['BASE_URI']}{PREFIX}/{uuid.uuid4().hex}"
    created = store.write_graph(target, parts, replace=request.method == "PUT")  # type: ignore[arg-type]
    note_write(current_app, request, f"{request.method} of {sum(len(b) for b, _ in parts)} bytes to "
                                     f"{_label(target)}", started)
    resp = Response(status=201 if created or created_here else 204)
    if created_here:
        resp.headers["Location"] = str(target)
    return resp


def _label(target: object) -> str:
    return "the default graph" if target is None else f"<{str(target)[:200]}>"


@bp.route(f"/{PREFIX}", methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
def indirect() -> Response:
    """A graph named by ``?graph=<IRI>`` or ``?default`` (or, for POST, a new graph)."""
    return _serve(_indirect_target(request))


@bp.route(f"/{PREFIX}/<path:name>", methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
def direct(name: str) -> Response:
    """The graph whose IRI is this URL under ``BASE_URI``."""
    from urllib.parse import quote

    iri = f"{current_app.config['BASE_URI']}{PREFIX}/{quote(name, safe=_IRI_SAFE)}"
    if not _ABSOLUTE_IRI.fullmatch(iri):
        raise BadQuery("This path does not make a valid graph IRI.")
    return _serve(iri)


_IRI_SAFE = "/:@!$&'()*+,;=-._~%"


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if request.method not in ("GET", "HEAD"):
        resp.headers["Cache-Control"] = "no-store"
    return resp
