"""Blueprint ``sparql``: the SPARQL 1.1 Protocol at ``/sparql`` and the service description.

``/sparql`` follows the W3C SPARQL 1.1 Protocol:

* a query by ``GET ?query=``, by ``POST`` ``application/x-www-form-urlencoded``
  (``query=``; ``default-graph-uri``/``named-graph-uri`` in the URL or the body), or by
  ``POST`` ``application/sparql-query`` (the dataset parameters in the URL);
* the dataset: ``default-graph-uri``/``named-graph-uri`` when given (overriding the query's
  ``FROM``/``FROM NAMED``), else the query's own, else the union of the named graphs as the
  default graph (:func:`service.store.oxigraph.dataset_options`);
* the answer's format by ``Accept`` (q-values) or ``format=`` (:mod:`service.conneg`),
  with ``Vary: Accept``; CORS for any origin (``GET``/``POST`` and the preflight);
* errors as short ``text/plain`` bodies: two queries, an empty one, a query both in the
  URL and the body, non-UTF-8 text, an update → 400; a wrong or missing POST media
  type → 415; other methods → 405 with ``Allow``; nothing acceptable → 406; the limits of
  :mod:`service.sparql_guard` and :mod:`service.store.executor` → 413/422/503;
* ``GET`` without a query: the SPARQL Service Description (Turtle, RDF/XML, JSON-LD…).

Updates are :mod:`service.web.update` (``/update``), graphs :mod:`service.web.graphstore`.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Blueprint, Request, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from service import conneg
from service.errors import BadQuery, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from service.sparql_guard import screen
from service.store import Dataset, get_store
from service.store.executor import get_engine, named_graphs
from service.web.cache import cached

if TYPE_CHECKING:
    import rdflib

__all__ = ["bp", "ProtocolRequest", "read_query_request", "service_description", "render_query_ui"]

bp = Blueprint("sparql", __name__)

_FORM = "application/x-www-form-urlencoded"
_QUERY = "application/sparql-query"
_UPDATE = "application/sparql-update"
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|\\^`]*")
_UPDATE_ELSEWHERE = "Updates are not accepted at /sparql: POST them to /update (this server is read-only)."


@dataclass(frozen=True)
class ProtocolRequest:
    """One protocol request: its query (``None``: none given), dataset and ``format=``."""

    query: str | None
    dataset: Dataset
    format: str | None = None


def _pairs(raw: bytes, where: str) -> list[tuple[str, str]]:
    """Strictly decode ``application/x-www-form-urlencoded`` data (werkzeug would replace bad UTF-8).

    >>> _pairs(b"query=ASK%20%7B%7D&format=csv", "body")
    [('query', 'ASK {}'), ('format', 'csv')]
    >>> _pairs(b"query=%FF", "body")
    Traceback (most recent call last):
    ...
    service.errors.BadQuery: The body is not valid UTF-8.
    """
    try:
        return urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                                      errors="strict", max_num_fields=1000)
    except UnicodeDecodeError:
        raise BadQuery(f"The {where} is not valid UTF-8.") from None
    except ValueError:
        raise BadQuery(f"The {where} has too many fields.") from None


def _body(req: Request, limit: int) -> bytes:
    """The body, read no further than ``limit`` + 1 bytes.

    Werkzeug refuses a declared ``Content-Length`` over the limit but silently *truncates*
    a chunked body at it, hence the extra byte: getting it means the body was too large.
    """
    req.max_content_length = limit + 1
    try:
        data: bytes | None = req.get_data(cache=True)
    except RequestEntityTooLarge:
        data = None
    if data is None or len(data) > limit:
        raise PayloadTooLarge(f"The request body is over the {limit:,}-byte limit.")
    return data


def _iris(pairs: list[tuple[str, str]], name: str) -> tuple[str, ...]:
    values = tuple(v for k, v in pairs if k == name)
    for value in values:
        if not _ABSOLUTE_IRI.fullmatch(value):
            raise BadQuery(f"{name} must be an absolute IRI: {value[:200]!r}")
    return values


def read_query_request(req: Request, max_bytes: int) -> ProtocolRequest:
    """Read a query request the way the SPARQL 1.1 Protocol defines it.

    :param max_bytes: the query size cap (form bodies may be 3x, for percent-encoding).
    :raises BadQuery: an update, several queries, a query in both URL and body, a POST
        without a query, non-UTF-8 text, a malformed graph IRI (400).
    :raises UnsupportedMediaType: a POST that is neither a form nor a query (415).
    :raises PayloadTooLarge: a body over the cap (413).
    """
    url = _pairs(req.query_string, "query string")
    body: list[tuple[str, str]] = []
    if req.method == "POST":
        if req.mimetype == _FORM:
            body = _pairs(_body(req, 3 * max_bytes), "form body")
        elif req.mimetype == _QUERY:
            charset = req.mimetype_params.get("charset", "utf-8").lower()
            if charset not in ("utf-8", "utf8"):
                raise BadQuery(f"A SPARQL query must be sent as UTF-8, not charset={charset}.")
            try:
                body = [("query", _body(req, max_bytes).decode("utf-8"))]
            except UnicodeDecodeError:
                raise BadQuery("The query is not valid UTF-8.") from None
        elif req.mimetype == _UPDATE:
            raise BadQuery(_UPDATE_ELSEWHERE)
        else:
            raise UnsupportedMediaType(f"POST a query as {_QUERY} or {_FORM}, not {req.mimetype or 'no media type'}.")
    if any(k in ("update", "using-graph-uri", "using-named-graph-uri") for k, _ in url + body):
        raise BadQuery(_UPDATE_ELSEWHERE)
    in_url, in_body = [v for k, v in url if k == "query"], [v for k, v in body if k == "query"]
    if in_url and in_body:
        raise BadQuery("The query is given twice, in the URL and in the body: give it once.")
    queries = in_url + in_body
    if len(queries) > 1:
        raise BadQuery(f"{len(queries)} queries were given: give exactly one 'query'.")
    if req.method == "POST" and not queries:
        raise BadQuery("No query: send a 'query' parameter or an application/sparql-query body.")
    pairs = url + body
    formats = [v for k, v in pairs if k == "format"]
    dataset = Dataset(_iris(pairs, "default-graph-uri"), _iris(pairs, "named-graph-uri"))
    return ProtocolRequest(queries[0] if queries else None, dataset, ",".join(formats) or None)


def _formats(kind: str | None, fmt: str | None) -> tuple[str, str]:
    """The (result, graph) media types to ask the engine for; 406 only for the expected kind."""
    chosen: dict[str, str] = {}
    kinds: tuple[conneg.Kind, ...] = ("results", "graph")
    for each in kinds:
        try:
            chosen[each] = conneg.negotiate(request.accept_mimetypes, each, fmt)
        except (NotAcceptable, BadQuery):
            if each == kind:
                raise
            chosen[each] = conneg.formats_of(each)[0].media_type
    return chosen["results"], chosen["graph"]


@bp.route("/sparql", methods=["GET", "POST"])
def query() -> Response:
    """Answer one SPARQL query, or describe the service when there is none."""
    cfg = current_app.config
    req = read_query_request(request, int(cfg["QUERY_MAX_BYTES"]))
    if req.query is None:
        return _describe(req.format)
    screened = screen(req.query, int(cfg["QUERY_MAX_BYTES"]), cfg["SERVICE_ALLOWLIST"])
    result_type, graph_type = _formats(screened.kind, req.format)
    text = req.query

    def run() -> Response:
        out = get_engine().execute(text, result_type, graph_type, req.dataset)
        return Response(out.body, mimetype=out.media_type)

    # the key: the text, the dataset, and the media type negotiated for this kind of answer
    media = {"results": (result_type,), "graph": (graph_type,)}.get(screened.kind or "", (result_type, graph_type))
    return cached(("sparql", text, req.dataset.default_graphs, req.dataset.named_graphs, *media), run)


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint == "sparql.query":
        resp.headers.add("Vary", "Accept")
        resp.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
            resp.headers["Access-Control-Max-Age"] = "86400"
    return resp


def service_description(endpoint: str, base: str, graphs: Iterable[str],
                        update_endpoint: str | None = None) -> rdflib.Dataset:
    """The SPARQL 1.1 Service Description of ``endpoint`` as an rdflib ``Dataset`` (default graph).

    :param base: the configured ``BASE_URI``; the VoID description is ``{base}.well-known/void``.
    :param graphs: the store's named graphs.
    :param update_endpoint: with updates on, the update endpoint: described as a second
        ``sd:Service`` (``sd:supportedLanguage sd:SPARQL11Update``) over the same dataset,
        since ``endpoint`` itself refuses updates.

    >>> sd = service_description("http://kg.test/sparql", "http://kg.test/", ["urn:g"])
    >>> from rdflib import URIRef
    >>> (None, URIRef("http://www.w3.org/ns/sparql-service-description#endpoint"),
    ...  URIRef("http://kg.test/sparql")) in sd.default_graph
    True
    >>> sd = service_description("http://kg.test/sparql", "http://kg.test/", [], "http://kg.test/update")
    >>> language = URIRef("http://www.w3.org/ns/sparql-service-description#supportedLanguage")
    >>> sorted(str(o).rsplit("#")[1] for o in sd.default_graph.objects(None, language))
    ['SPARQL11Query', 'SPARQL11Update']
    """
    from rdflib import RDF, RDFS, BNode, Dataset, Namespace, URIRef

    sd, void = Namespace("http://www.w3.org/ns/sparql-service-description#"), Namespace("http://rdfs.org/ns/void#")
    data = Dataset()
    g = data.default_graph
    for prefix, ns in (("sd", sd), ("void", void), ("formats", "http://www.w3.org/ns/formats/")):
        data.bind(prefix, ns)
    service, dataset, default = BNode("service"), BNode("dataset"), BNode("default")
    description = URIRef(f"{base}.well-known/void")
    g.add((service, RDF.type, sd.Service))
    g.add((service, sd.endpoint, URIRef(endpoint)))
    g.add((service, sd.supportedLanguage, sd.SPARQL11Query))
    g.add((service, sd.feature, sd.UnionDefaultGraph))
    for fmt in conneg.FORMATS:
        g.add((service, sd.resultFormat, URIRef(fmt.iri)))
    g.add((service, sd.defaultDataset, dataset))
    g.add((service, RDFS.seeAlso, description))
    for cls in (sd.Dataset, void.Dataset):
        g.add((dataset, RDF.type, cls))
    g.add((dataset, void.sparqlEndpoint, URIRef(endpoint)))
    g.add((dataset, RDFS.seeAlso, description))
    g.add((dataset, sd.defaultGraph, default))
    g.add((default, RDF.type, sd.Graph))
    for n, name in enumerate(sorted(graphs)):
        named = BNode(f"graph{n}")
        g.add((dataset, sd.namedGraph, named))
        g.add((named, RDF.type, sd.NamedGraph))
        g.add((named, sd.name, URIRef(name)))
    if update_endpoint is not None:
        updates = BNode("update-service")
        g.add((updates, RDF.type, sd.Service))
        g.add((updates, sd.endpoint, URIRef(update_endpoint)))
        g.add((updates, sd.supportedLanguage, sd.SPARQL11Update))
        g.add((updates, sd.defaultDataset, dataset))
        g.add((updates, RDFS.seeAlso, description))
    return data


def render_query_ui(description: str) -> Response | None:
    """The browser query page for a browser's ``GET /sparql``: YASGUI (:mod:`service.web.queryui`).

    :param description: the service description as Turtle, shown on the page.
    """
    from service.web.queryui import query_page

    return query_page(description)


def _describe(fmt: str | None) -> Response:
    from service.dataset_meta import per_build

    graphs = per_build("sparql-named-graphs", lambda: named_graphs(get_store()))  # again after each write
    base = str(current_app.config["BASE_URI"])
    data = service_description(f"{base}sparql", base, graphs,
                               f"{base}update" if current_app.config["UPDATES"] else None)
    graph_types = [f.media_type for f in conneg.formats_of("graph")]
    accept = conneg.without_parameters(request.accept_mimetypes)  # "text/html; charset=utf-8" is HTML
    if not fmt and accept.best_match([*graph_types, "text/html"]) == "text/html":
        text = data.default_graph.serialize(format="turtle")
        return render_query_ui(text) or Response(text, mimetype="text/plain")
    media = conneg.negotiate(request.accept_mimetypes, "graph", fmt)
    name = conneg.by_media_type(media).rdflib_name
    body = data.serialize(format=name) if name in ("nquads", "trig") else \
        data.default_graph.serialize(format=name)
    return Response(body, mimetype=media)
