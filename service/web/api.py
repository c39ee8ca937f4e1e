"""Blueprint ``api``: the named-query catalogue as a REST API, with its OpenAPI description.

``GET /api/queries`` lists the catalogue; ``GET /api/queries/<name>?<params>`` runs one
query (tables as SPARQL JSON, plain JSON records, CSV or TSV; graphs as Turtle, JSON-LD or
N-Triples, or as a CSV/TSV table of triples), chosen by ``Accept`` or ``format=``, one page
at a time (``limit``/``offset``, ``Link`` headers). ``/api/openapi.json`` and ``/api/docs``
describe the same catalogue. Errors are ``application/problem+json`` with a ``code``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.datastructures import MIMEAccept, MultiDict
from werkzeug.http import HTTP_STATUS_CODES

from service import __version__, conneg
from service.catalogue import (MAX_LIMIT, NamedQuery, Page, bind, get_catalogue, paging, run_graph, run_table)
from service.errors import BadParameter, KGError, NotAcceptable
from service.results import to_csv, to_records, to_sparql_json, to_tsv
from service.store import get_store
from service.store.executor import get_engine
from service.web.openapi import MEDIA_TYPES, openapi_document, query_summary
from service.web.cache import cached

__all__ = ["bp", "TABLE_FORMATS", "GRAPH_FORMATS", "choose_format", "run_named", "triples_table"]

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

#: ``format=`` name → media type, default first (one table, shared with the OpenAPI document).
TABLE_FORMATS: dict[str, str] = MEDIA_TYPES["table"]
GRAPH_FORMATS: dict[str, str] = MEDIA_TYPES["graph"]
_ALIASES = {"ttl": "turtle", "json-ld": "jsonld", "nt": "ntriples"}


def choose_format(returns: str, accept: MIMEAccept | None, format_param: str | None) -> tuple[str, str]:
    """``(format name, media type)`` for a query that returns ``table`` or ``graph``.

    ``format=`` (a name or a media type) wins over ``Accept``; for graphs ``json`` means
    JSON-LD. No ``Accept`` (or ``*/*``) gets the first format.

    :raises BadParameter: an unknown ``format`` (400, listing the allowed ones).
    :raises NotAcceptable: no offered media type matches ``Accept`` (406).

    >>> choose_format("table", None, "csv")
    ('csv', 'text/csv')
    >>> choose_format("graph", MIMEAccept([("application/ld+json", 1)]), None)
    ('jsonld', 'application/ld+json')
    >>> choose_format("table", MIMEAccept([("application/json; charset=utf-8", 1)]), None)
    ('records', 'application/json')
    """
    table = TABLE_FORMATS if returns == "table" else GRAPH_FORMATS
    if format_param:
        wanted = format_param.strip().lower()
        wanted = _ALIASES.get(wanted, "jsonld" if wanted == "json" and returns == "graph" else wanted)
        for name, media in table.items():
            if wanted in (name, media):
                return name, media
        raise BadParameter(f"Unknown format {format_param[:40]!r} for this query; use one of {', '.join(table)}.",
                           code="unknown-format", details={"parameter": "format", "allowed": list(table)})
    if not accept:
        name = next(iter(table))
        return name, table[name]
    offered = list(table.values()) + (["application/json"] if returns == "graph" else [])
    match = conneg.without_parameters(accept).best_match(offered)  # "application/json; charset=utf-8" too
    if match is None:
        raise NotAcceptable(f"This query answers in {', '.join(table.values())}; none matches Accept.")
    if match == "application/json" and returns == "graph":
        match = GRAPH_FORMATS["jsonld"]
    return next(n for n, m in table.items() if m == match), match


def triples_table(ntriples: bytes) -> list[dict[str, str]]:
    """Rows ``subject``/``predicate``/``object`` (N-Triples terms) of an N-Triples document.

    >>> triples_table(b'<urn:a> <urn:p> "x y" .\\n')
    [{'subject': '<urn:a>', 'predicate': '<urn:p>', 'object': '"x y"'}]
    """
    rows = []
    for line in ntriples.decode("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            subject, predicate, rest = line.split(" ", 2)
            rows.append({"subject": subject, "predicate": predicate, "object": rest.rstrip(" .")})
    return rows


def run_named(query: NamedQuery, args: Mapping[str, str], format_name: str, media_type: str,
              limit: int, offset: int) -> tuple[bytes, Page]:
    """Bind ``args``, run one page of ``query`` and serialise it.

    The query runs through the ``/sparql`` engine (:func:`service.store.executor.get_engine`):
    in a killable worker with the hard timeout and answer caps (503/422), without the
    pre-flight (the catalogue was validated at startup, parameters are bound as RDF terms).

    :raises BadParameter: see :func:`service.catalogue.bind`.
    """
    terms = bind(query, args)
    store, engine = get_store(), get_engine()  # the /sparql engine: hard timeout and answer caps
    if query.returns == "graph":
        rdf_type = media_type if format_name not in ("csv", "tsv") else GRAPH_FORMATS["ntriples"]
        page = run_graph(store, query, terms, limit=limit, offset=offset, media_type=rdf_type, engine=engine)
        if format_name not in ("csv", "tsv"):
            return page.body, page
        variables: tuple[str, ...] = ("subject", "predicate", "object")
        rows = triples_table(page.body)
    else:
        page = run_table(store, query, terms, limit=limit, offset=offset, engine=engine,
                         max_rows=int(current_app.config["QUERY_MAX_ROWS"]))
        variables, rows = page.variables, page.rows
    if format_name == "json":
        body = json.dumps(to_sparql_json(variables, rows), ensure_ascii=False)
    elif format_name == "records":
        body = json.dumps(to_records(variables, rows), ensure_ascii=False)
    else:
        body = (to_csv if format_name == "csv" else to_tsv)(variables, rows)
    return body.encode("utf-8"), page


def _single_args() -> dict[str, str]:
    repeated = sorted(k for k, v in request.args.lists() if len(v) > 1)
    if repeated:
        raise BadParameter(f"Parameter(s) given more than once: {', '.join(repeated)}.",
                           details={"parameters": repeated})
    return request.args.to_dict()


def _link(args: Mapping[str, str], limit: int, offset: int, rel: str) -> str:
    query = MultiDict([(k, v) for k, v in args.items() if k not in ("limit", "offset")])
    query.update({"limit": str(limit), "offset": str(offset)})
    # A relative reference: the Host header is never echoed back (RFC 8288 resolves it).
    return f'<{request.script_root}{request.path}?{urlencode(list(query.items(multi=True)))}>; rel="{rel}"'


@bp.get("/queries")
def list_queries() -> Response:
    """The catalogue: every query with its descriptions, parameters and formats."""
    catalogue = get_catalogue()
    return _json([query_summary(q) for q in catalogue])


@bp.get("/queries/<name>")
def run_query(name: str) -> Response:
    """Run a named query with the request's parameters."""
    query = get_catalogue().get(name)
    args = _single_args()
    format_name, media_type = choose_format(query.returns, request.accept_mimetypes or None, args.get("format"))
    limit, offset = paging(args.get("limit"), args.get("offset"))
    key = ("api", name, tuple(sorted(args.items())), format_name, media_type, limit, offset)
    return cached(key, lambda: _answer(query, args, format_name, media_type, limit, offset))


def _answer(query: NamedQuery, args: Mapping[str, str], format_name: str, media_type: str,
            limit: int, offset: int) -> Response:
    started = time.perf_counter()
    body, page = run_named(query, args, format_name, media_type, limit, offset)
    log.info("named query %s: %s page at %d in %.3fs", query.name, format_name, offset, time.perf_counter() - started)
    resp = Response(body, mimetype=media_type)  # text/* types get "; charset=utf-8"
    links = []
    if page.has_more:
        links.append(_link(args, limit, offset + limit, "next"))
    if offset > 0:
        links.append(_link(args, limit, max(offset - limit, 0), "prev"))
    if links:
        resp.headers["Link"] = ", ".join(links)
    resp.headers["Vary"] = "Accept"
    return resp


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of the API, generated from the catalogue."""
    return _json(openapi_document(get_catalogue(), __version__))


@bp.get("/docs")
def docs() -> str:
    """A human documentation page of the catalogue (no external scripts or styles)."""
    queries = [query_summary(q) for q in get_catalogue()]
    return render_template("api/docs.html", queries=queries, max_limit=MAX_LIMIT, version=__version__)


@bp.after_request
def _headers(resp: Response) -> Response:
    if request.method in ("GET", "HEAD"):
        resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.errorhandler(KGError)
def _problem(exc: KGError) -> Response:
    """Errors under ``/api`` as RFC 9457 problem details with a stable ``code``."""
    codes = {400: "bad-request", 404: "not-found", 406: "not-acceptable", 413: "too-large",
             429: "too-many-requests", 503: "store-unavailable"}
    body: dict[str, Any] = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(exc.status, "Error"),
                            "status": exc.status, "detail": exc.message,
                            "code": getattr(exc, "code", None) or codes.get(exc.status, "error")}
    body.update(getattr(exc, "details", {}) or {})
    resp = Response(json.dumps(body, ensure_ascii=False), status=exc.status, mimetype="application/problem+json")
    if getattr(exc, "retry_after", None):
        resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


def _json(data: Any) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, indent=1), mimetype="application/json")

