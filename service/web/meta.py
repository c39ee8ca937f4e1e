"""Blueprint ``meta``: the home page, class indexes, search, ontology documentation, VoID, DCAT,
dumps and the sitemap.

Every answer here derives from one build, so each carries an ``ETag`` (the build's tag plus
the variant: media type and language) and ``Last-Modified`` (the build date), answers
conditional requests with 304, and sets ``Cache-Control: public``. Negotiated resources add
``Vary: Accept`` (and ``Accept-Language`` for HTML). RDF documents (``/def/eco``,
``/.well-known/void``, ``/catalog``) come in Turtle, N-Triples, RDF/XML and JSON-LD by
``Accept``, ``?format=`` or a file extension, and as HTML for browsers; RDF uses the
canonical base, HTML links stay on this server. ``/dumps/<name>`` serves only allow-listed
files (:func:`service.dataset_meta.dump_path`) with Werkzeug's conditional and single-range
handling (206, 416).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_file
from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from service import conneg, dataset_meta, i18n
from service.config import namespaces
from service.dataset_meta import build_info, per_build
from service.errors import BadQuery, NotAcceptable, NotFound
from service.iris import Namespaces
from service.ontology_docs import OntologyDoc, load_ontology
from service.search import check_query, get_index, local_url, normalise
from service.store import get_store

__all__ = ["bp", "PAGE_SIZE", "SUGGEST_SIZE", "SITEMAP_MAX_URLS", "RDF_TYPES", "EXTENSIONS"]

log = logging.getLogger(__name__)

bp = Blueprint("meta", __name__)

HTML = "text/html"
JSON = "application/json"
RDF_TYPES = ("text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json")
EXTENSIONS = {"ttl": "text/turtle", "nt": "application/n-triples", "rdf": "application/rdf+xml",
              "jsonld": "application/ld+json", "html": HTML}
PAGE_SIZE = 50
SUGGEST_SIZE = 10
SITEMAP_MAX_URLS = 50_000
MAX_AGE = 300
LICENSE = dataset_meta.LICENSE
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
           'fill="#1a3d8f"/><text x="8" y="12.5" font-size="12" text-anchor="middle" fill="#fff" '
           'font-family="sans-serif">k</text></svg>')

#: Example queries of the home page: titles per language and the query ({eco}, {id}: namespaces).
EXAMPLE_QUERIES: tuple[tuple[dict[str, str], str], ...] = (
    ({"en": "Every figure about Lille with its quoted sentence", "fr": "Chaque chiffre sur Lille et sa phrase citée"},
     "PREFIX eco: <{eco}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
     "PREFIX prov: <http://www.w3.org/ns/prov#>\nPREFIX oa: <http://www.w3.org/ns/oa#>\n"
     "SELECT ?figure ?value ?stated ?quote WHERE {\n  ?obs eco:refArea <{id}commune/59350> ;\n"
     "       rdfs:label ?figure ; eco:obsValue ?value ; eco:statedValueText ?stated ;\n"
     "       prov:wasDerivedFrom/oa:exact ?quote .\n  FILTER(LANG(?figure) = \"en\")\n} LIMIT 50"),
    ({"en": "Competitiveness clusters and the industries they serve",
      "fr": "Pôles de compétitivité et filières qu'ils servent"},
     "PREFIX eco: <{eco}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
     "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
     "SELECT ?cluster ?industry WHERE {\n  ?c a eco:CompetitivenessCluster ; rdfs:label ?cluster ;"
     " eco:servesIndustry/skos:prefLabel ?industry .\n"
     "  FILTER(LANG(?cluster) = \"en\" && LANG(?industry) = \"en\")\n} ORDER BY ?cluster ?industry"),
    ({"en": "The ten most populous communes of the Nord", "fr": "Les dix communes les plus peuplées du Nord"},
     "PREFIX eco: <{eco}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
     "SELECT ?commune ?population WHERE {\n  ?c a eco:Commune ; eco:directlyWithin <{id}departement/59> ;"
     " rdfs:label ?commune .\n  ?obs eco:refArea ?c ; eco:indicator <{id}indicator/legal-population> ;"
     " eco:obsValue ?population .\n} ORDER BY DESC(?population) LIMIT 10"),
)


@bp.after_request
def _headers(resp: Response) -> Response:
    """The same safety headers as the resource pages: CSP (no inline script or style), nosniff."""
    from service.web.pages import CSP

    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return resp


# ---- shared helpers --------------------------------------------------------------------------

def _ns() -> Namespaces:
    return namespaces(current_app.config)


def _lang() -> str:
    """The page language (:func:`service.i18n.choose_language`: ``?lang=``, cookie, ``Accept-Language``)."""
    return i18n.choose_language(request.args.get("lang"), request.cookies.get(i18n.COOKIE), request.accept_languages)


@bp.app_template_filter("meta_number")
def meta_number(value: int, lang: str) -> str:
    """A count written the way ``lang`` writes numbers (``3,782`` / ``3 782``)."""
    return i18n.format_number(str(value), lang)


def ontology_doc() -> OntologyDoc:
    """The normalised ontology (cached per build)."""
    cfg = current_app.config
    return per_build("ontology-doc", lambda: load_ontology(Path(cfg["ONTOLOGY_DIR"]), str(cfg["BASE_URI"])))


def _stats() -> dataset_meta.Statistics:
    return per_build("statistics", lambda: dataset_meta.compute_statistics(get_store(), _ns()))


def _dumps() -> list[dataset_meta.DumpFile]:
    return per_build("dumps", lambda: dataset_meta.list_dumps(Path(current_app.config["DUMPS_DIR"]), build_info()))


def _etag(variant: str) -> str:
    return hashlib.sha256(f"{build_info().tag}|{variant}".encode()).hexdigest()[:24]


def _cached(variant: str, make: Callable[[], Response], vary: Iterable[str] = (), max_age: int = MAX_AGE) -> Response:
    """``make()`` with the build's validators; 304 without calling it when the client's copy is current."""
    info, etag = build_info(), _etag(variant)
    if request.if_none_match.contains(etag):
        resp = Response(status=304)
    else:
        resp = make()
    resp.set_etag(etag)
    if info.built:
        resp.last_modified = info.built
    resp.cache_control.public = True
    resp.cache_control.max_age = max_age
    for header in vary:
        resp.vary.add(header)
    resp.make_conditional(request)  # in place: 304 for a matching If-None-Match / If-Modified-Since
    return resp


def _html(template: str, variant: str, **context: Any) -> Response:
    lang = _lang()
    resp = _cached(f"{HTML}|{lang}|{variant}",
                   lambda: Response(render_template(template, lang=lang, ui=i18n.UI[lang], **context),
                                    mimetype=HTML), vary=("Accept", "Accept-Language", "Cookie"))
    return _remember_language(resp)


def _remember_language(resp: Response) -> Response:
    """Set the ``lang`` cookie when ``?lang=`` chose a language, as resource pages do: the
    choice made with the switch holds on every later page, of either blueprint."""
    asked = (request.args.get("lang") or "").strip().lower()
    if asked in i18n.LANGS and request.cookies.get(i18n.COOKIE) != asked:
        resp.set_cookie(i18n.COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=False,
                        path=request.script_root or "/")
        resp.cache_control.public = False
        resp.cache_control.private = True
    return resp


def _accept() -> MIMEAccept:
    """The request's ``Accept`` without media-type parameters (:func:`service.conneg.without_parameters`):
    ``text/html; charset=utf-8`` asks for HTML, where werkzeug's ``best_match`` would match nothing."""
    return conneg.without_parameters(request.accept_mimetypes)


def _choose(html_first: bool, ext: str | None = None) -> str:
    """The media type of an RDF document's answer (HTML among the offers).

    :raises NotFound: for an unknown file extension.
    :raises NotAcceptable: when nothing offered matches ``Accept`` (406).
    """
    if ext is not None:
        if ext not in EXTENSIONS:
            raise NotFound()
        return EXTENSIONS[ext]
    fmt = request.args.get("format")
    if fmt:
        if fmt.lower() in ("html", HTML):
            return HTML
        chosen = conneg.negotiate(None, "graph", fmt)
    else:
        offers = [HTML, *RDF_TYPES] if html_first else [*RDF_TYPES, HTML]
        if not request.accept_mimetypes:
            return offers[0]
        best = _accept().best_match(offers)
        chosen = best or conneg.negotiate(request.accept_mimetypes, "graph")
    if chosen not in (HTML, *RDF_TYPES):
        raise NotAcceptable()
    return chosen


def _rdf(name: str, media_type: str, graph: Callable[[], Any], links: str) -> Response:
    def make() -> Response:
        fmt = conneg.by_media_type(media_type).rdflib_name or "turtle"
        body = per_build(f"{name}|{media_type}", lambda: graph().serialize(format=fmt, encoding="utf-8"))
        resp = Response(body, mimetype=media_type)
        resp.headers["Link"] = links
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    return _cached(f"{name}|{media_type}", make, vary=("Accept",))


def _links(path: str) -> str:
    alternates = ", ".join(f'<{path}.{ext}>; rel="alternate"; type="{mt}"' for ext, mt in EXTENSIONS.items())
    return f'{alternates}, <{LICENSE}>; rel="license"'


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise BadQuery("'page' must be a positive integer.")
    return int(raw)


# ---- home and class indexes ------------------------------------------------------------------

def _class_counts() -> dict[str, int]:
    eco = _ns().eco_ns
    return {iri[len(eco):]: n for iri, n in _stats().classes.items() if iri.startswith(eco)}


@bp.get("/")
def home() -> Response:
    """The dataset in a page: what it is, counts per class, entry points, SPARQL, licence, build."""
    ns = _ns()
    queries = [(titles[_lang()], "/sparql?query=" + quote(text.replace("{eco}", ns.eco_ns).replace("{id}", ns.id_ns)))
               for titles, text in EXAMPLE_QUERIES]
    return _html("meta/home.html", "home", info=build_info(), counts=_class_counts(), doc=ontology_doc(),
                 queries=queries, dumps=_dumps(), region_url=local_url(ns.mint("region", "32"), ns))


def _members(name: str, lang: str) -> list[tuple[str, str, str]]:
    """``(label, local url, iri)`` of every instance of ``eco:{name}``, sorted by label in ``lang``."""
    ns = _ns()

    def compute() -> list[tuple[str, str, str]]:
        index = get_index()
        rows = get_store().select(f"SELECT DISTINCT ?s {{ ?s a <{ns.eco(name)}> FILTER(isIRI(?s)) }}")
        out = []
        for row in rows:
            iri = row["s"][1:-1]
            entry = index.entries.get(iri)
            label = entry.label(lang) if entry else iri.rsplit("/", 1)[-1]
            out.append((label, local_url(iri, ns), iri))
        return sorted(out, key=lambda item: (normalise(item[0]), item[0], item[2]))

    return per_build(f"members|{name}|{lang}", compute)


@bp.get("/class/")
def class_list() -> Response:
    """Every class of the ontology with its number of instances, as a tree."""
    return _html("meta/classes.html", "classes", doc=ontology_doc(), counts=_class_counts())


@bp.get("/class/<name>")
def class_index(name: str) -> Response:
    """The instances of one class, sorted by label in the page language, :data:`PAGE_SIZE` per page.

    :raises NotFound: for a name that is no class of the ontology or a page past the last.
    """
    doc = ontology_doc()
    term = doc.term(name)
    if term is None or term.kind != "class":
        raise NotFound(f"No class {name!r} in the ontology.")
    page = _page_number()
    lang = _lang()
    members = _members(name, lang)
    pages = max(1, math.ceil(len(members) / PAGE_SIZE))
    if page > pages:
        raise NotFound(f"Page {page} is past the last page ({pages}).")
    items = members[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    return _html("meta/class_index.html", f"class|{name}|{page}", term=term, items=items, page=page, pages=pages,
                 total=len(members), counts=_class_counts(), first=(page - 1) * PAGE_SIZE + 1)


# ---- search ----------------------------------------------------------------------------------

def _hits_json(q: str, limit: int, offset: int) -> dict[str, Any]:
    ns, lang = _ns(), _lang()
    hits, total = get_index().search(q, limit=limit, offset=offset) if q else ([], 0)
    labels = {t.name: t.labels for t in ontology_doc().classes}
    return {"query": q, "lang": lang, "total": total, "offset": offset, "results": [
        {"iri": h.entry.iri, "url": local_url(h.entry.iri, ns), "label": h.entry.label(lang), "matched": h.matched,
         "match": h.match, "class": h.entry.cls,
         "classLabel": labels.get(h.entry.cls, {}).get(lang, h.entry.cls)} for h in hits]}


def _int_arg(name: str, default: int, high: int) -> int:
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or int(raw) > high:
        raise BadQuery(f"'{name}' must be an integer between 0 and {high}.")
    return int(raw)


@bp.get("/search")
@bp.get("/search.json")
def search() -> Response:
    """``?q=`` over every label; HTML, or JSON at ``/search.json`` / ``Accept: application/json``.

    :raises BadQuery: for a query over 200 characters or a bad ``page``/``limit``/``offset``.
    """
    q = check_query(request.args.get("q"))
    wants_json = request.path.endswith(".json") or request.args.get("format") == "json" or (
        _accept().best_match([HTML, JSON]) == JSON)
    if wants_json:
        limit, offset = _int_arg("limit", 20, 100), _int_arg("offset", 0, 1_000_000)
        return _cached(f"search|{JSON}|{_lang()}|{q}|{limit}|{offset}",
                       lambda: jsonify(_hits_json(q, limit, offset)), vary=("Accept", "Accept-Language", "Cookie"))
    page = _page_number()
    data = _hits_json(q, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    pages = max(1, math.ceil(data["total"] / PAGE_SIZE))
    return _html("meta/search.html", f"search|{q}|{page}", q=q, data=data, page=page, pages=pages,
                 first=(page - 1) * PAGE_SIZE + 1)


@bp.get("/search/suggest")
def suggest() -> Response:
    """Autocomplete: at most :data:`SUGGEST_SIZE` hits for ``?q=`` as JSON."""
    q = check_query(request.args.get("q"))
    return _cached(f"suggest|{_lang()}|{q}", lambda: jsonify(_hits_json(q, SUGGEST_SIZE, 0)),
                   vary=("Accept-Language", "Cookie"))


# ---- ontology --------------------------------------------------------------------------------

@bp.get("/def/eco")
@bp.get("/def/eco.<ext>")
@bp.get("/def/eco/<version>")
def ontology(ext: str | None = None, version: str | None = None) -> Response:
    """The ontology: HTML documentation by default, RDF by ``Accept``/``format``/extension.

    :raises NotFound: for an unknown version or extension.
    """
    doc = ontology_doc()
    if version is not None and version != doc.version:
        raise NotFound(f"No version {version!r} of the ontology (current: {doc.version}).")
    media_type = _choose(html_first=True, ext=ext)
    if media_type == HTML:
        return _html("meta/ontology.html", "ontology", doc=doc)
    return _rdf("ontology", media_type, lambda: doc.graph, _links("/def/eco"))


# ---- VoID, DCAT, dumps ---------------------------------------------------------------------

def _void() -> Any:
    return dataset_meta.void_graph(_ns(), build_info(), _stats(), _dumps())


def _dcat() -> Any:
    return dataset_meta.dcat_graph(_ns(), build_info(), _stats(), _dumps())


def _dataset_page(kind: str) -> Response:
    ns, stats = _ns(), _stats()
    eco = ns.eco_ns
    classes = sorted(((iri, iri[len(eco):] if iri.startswith(eco) else iri, n) for iri, n in stats.classes.items()),
                     key=lambda c: (-c[2], c[1]))
    return _html("meta/dataset.html", kind, kind=kind, info=build_info(), stats=stats, dumps=_dumps(),
                 classes=classes, properties=sorted(stats.properties.items(), key=lambda p: (-p[1], p[0])),
                 examples=[(iri, local_url(iri, ns)) for iri in stats.examples],
                 sources=[(s, local_url(s["iri"], ns)) for s in stats.sources], base=ns.base)


@bp.get("/.well-known/void")
@bp.get("/void.<ext>")
def void(ext: str | None = None) -> Response:
    """The VoID description (Turtle by default; HTML when a browser asks)."""
    media_type = _choose(html_first=False, ext=ext)
    if media_type == HTML:
        return _dataset_page("void")
    return _rdf("void", media_type, _void, _links("/void"))


@bp.get("/catalog")
@bp.get("/catalog.<ext>")
def catalog(ext: str | None = None) -> Response:
    """The DCAT-AP catalogue (Turtle by default; HTML when a browser asks)."""
    media_type = _choose(html_first=False, ext=ext)
    if media_type == HTML:
        return _dataset_page("catalog")
    return _rdf("catalog", media_type, _dcat, _links("/catalog"))


@bp.get("/dataset")
def dataset() -> Response:
    """The dataset's IRI: 303 to its description."""
    return Response(status=303, headers={"Location": "/.well-known/void", "Vary": "Accept"})


@bp.get("/dumps/")
@bp.get("/dumps.json")
def dumps_index() -> Response:
    """The dumps with size and SHA-256: HTML, or JSON (``/dumps.json``, ``Accept``, ``?format=json``)."""
    ns, dumps = _ns(), _dumps()
    if request.path.endswith(".json") or request.args.get("format") == "json" or (
            _accept().best_match([HTML, JSON]) == JSON):
        return _cached(f"dumps|{JSON}", lambda: jsonify({"dumps": [
            {"name": d.name, "url": f"/dumps/{d.name}", "downloadURL": f"{ns.base}dumps/{d.name}",
             "bytes": d.size, "sha256": d.sha256, "checksumURL": f"/dumps/{d.checksum_name}",
             "mediaType": d.format.media_type, "compressed": d.format.compressed} for d in dumps]}),
            vary=("Accept",))
    return _html("meta/dumps.html", "dumps", dumps=dumps, info=build_info())


@bp.get("/dumps/<path:name>", merge_slashes=False)  # "//etc" must not redirect
def dump_file(name: str) -> Response:
    """One dump or its ``.sha256``, if allow-listed; ranges by Werkzeug (206, or 416 with ``Content-Range``).

    :raises NotFound: for any other name (traversal, symlinks, unknown files).
    """
    folder = Path(current_app.config["DUMPS_DIR"])
    path = dataset_meta.dump_path(folder, dataset_meta.allowed_dump_names(folder, build_info()), name)
    if path is None:
        raise NotFound("No such dump.")
    mimetype = ("text/plain" if name.endswith(".sha256") else "application/gzip" if name.endswith(".gz")
                else dataset_meta.dump_format(name).media_type)
    try:
        resp = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=3600, download_name=name)
    except RequestedRangeNotSatisfiable:
        resp = Response(status=416, headers={"Content-Range": f"bytes */{path.stat().st_size}"})
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/favicon.ico")
def favicon() -> Response:
    """A small SVG icon (browsers ask for it on every site; a 404 shows as a console error)."""
    return _cached("favicon", lambda: Response(FAVICON, mimetype="image/svg+xml"), max_age=86_400)


# ---- sitemap -------------------------------------------------------------------------------

def _sitemap_urls() -> list[str]:
    ns = _ns()

    def compute() -> list[str]:
        fixed = ["", "class/", "def/eco", "dumps/", "catalog", "search"]
        classes = [f"class/{name}" for name, n in sorted(_class_counts().items()) if n and ontology_doc().term(name)]
        rows = get_store().select("SELECT DISTINCT ?s { ?s ?p ?o FILTER(isIRI(?s)) }")
        pages = sorted("page/" + r["s"][len(ns.id_ns) + 1:-1] for r in rows if r["s"].startswith(f"<{ns.id_ns}"))
        return [ns.base + path for path in (*fixed, *classes, *pages)]

    return per_build("sitemap", compute)


@bp.get("/sitemap.xml")
@bp.get("/sitemap-<int:part>.xml")
def sitemap(part: int | None = None) -> Response:
    """Every page (resources as ``{BASE}page/…``); an index of parts past :data:`SITEMAP_MAX_URLS` URLs.

    :raises NotFound: for a part that does not exist.
    """
    urls, ns = _sitemap_urls(), _ns()
    parts = max(1, math.ceil(len(urls) / SITEMAP_MAX_URLS))
    if part is not None and not 1 <= part <= parts:
        raise NotFound("No such sitemap part.")
    info = build_info()
    lastmod = info.built.strftime("%Y-%m-%d") if info.built else ""
    if part is None and parts > 1:
        body = render_template("meta/sitemap_index.xml", parts=[f"{ns.base}sitemap-{i}.xml" for i in range(1, parts + 1)],
                               lastmod=lastmod)
    else:
        chunk = urls[((part or 1) - 1) * SITEMAP_MAX_URLS: (part or 1) * SITEMAP_MAX_URLS]
        body = render_template("meta/sitemap.xml", urls=chunk, lastmod=lastmod)
    return _cached(f"sitemap|{part}|{SITEMAP_MAX_URLS}", lambda: Response(body, mimetype="application/xml"))
