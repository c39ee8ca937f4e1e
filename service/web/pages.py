"""Blueprint ``pages``: dereferenceable IRIs, HTML pages and RDF documents of every resource.

The Cool URIs "303" pattern, with three paths under the base (``{BASE}`` is ``KG_BASE_URI``;
the server maps its own host to it, so links stay on this server while the data keeps its
canonical IRIs):

* ``GET {BASE}id/{path}`` is the *thing*. It answers **303 See Other** to its HTML page
  ``/page/{path}`` or, by ``Accept`` (q-values) or ``?format=``, its RDF document
  ``/data/{path}.ttl|.nt|.rdf|.jsonld``; ``*/*`` and no ``Accept`` get the page. The
  redirect is ``Vary: Accept``; its ``Location`` is a local path built from the route
  table and the configured base, never from the request (no open redirect).
* ``GET /page/{path}`` (also ``/page/{path}.html``) serves the HTML page in the reader's
  language: ``?lang=``, then the ``lang`` cookie, then ``Accept-Language``; ``?lang=`` sets
  the cookie. ``?out_page=``, ``?inv_page=``, ``?fig_page=`` page long value lists.
* ``GET /data/{path}.{ext}`` serves the RDF document (the bounded description, see
  :mod:`service.rdfdoc`); ``/data/{path}`` without extension negotiates it (``Vary: Accept``).

Unknown IRIs are 404 (an HTML page for HTML, plain text for RDF), never an empty 200; paths
with empty, dot or non-ASCII segments, controls or ``%``-encoded slashes that make them odd
are 404 too. Every answer carries ``Link`` headers (the alternates and the CC BY 4.0
licence), a strict Content-Security-Policy (no inline script or style), ``nosniff`` and a
referrer policy. Answers derive from one build: an ``ETag`` (build tag + path + language +
format) and ``Last-Modified`` (build date) let clients revalidate (304), and ``Cache-Control:
public, max-age=300`` lets caches keep them. Rendered pages are kept gzip-compressed in a per-build,
size-bounded in-process cache (``PAGES_CACHE_BYTES``) and sent compressed to clients that
accept gzip (``Vary: Accept-Encoding``).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.http import is_resource_modified

from service import conneg
from service.config import namespaces
from service.vocabulary import Terms, load_terms
from service.errors import BadQuery, NotAcceptable, NotFound
from service.i18n import COOKIE, LANGS, UI, choose_language, other_language
from service.pagemodel import FORMATS, LICENSE, PageParams, build_page
from service.rdfdoc import build_rdf
from service.store import get_store
from service.web import frontcache

__all__ = ["bp", "init_app", "DEFAULTS", "CSP", "resolve", "language"]

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

#: Settings of this blueprint (``KG_PAGES_*``), applied by :func:`init_app` unless set.
DEFAULTS: dict[str, Any] = {
    "PAGES_PAGE_SIZE": 50,                 # values per property (and figures) per page
    "PAGES_CACHE_BYTES": 64 * 1024 * 1024,  # gzipped rendered pages kept per process (0: no cache)
    "PAGES_MAX_AGE": 300,                  # Cache-Control max-age, seconds
    "PAGES_ETAG_FROM": "build-info",       # "build-info" (its content hash) or "store-mtime"
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HTML = "text/html"
_EXT = {ext: media for ext, media, _ in FORMATS}
_SEGMENT = re.compile(r"[A-Za-z0-9_~\-][A-Za-z0-9._~!$&'()*+,;=:@\-]*")
_MAX_PATH = 512


def init_app(app: Flask) -> None:
    """Register the blueprint at the base's path and the template context it needs."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    for key in ("PAGES_PAGE_SIZE", "PAGES_CACHE_BYTES", "PAGES_MAX_AGE"):
        app.config[key] = int(app.config[key])
    prefix = urlsplit(str(app.config["BASE_URI"])).path.rstrip("/")
    app.register_blueprint(bp, url_prefix=prefix or None)
    app.context_processor(_template_context)


def language() -> str:
    """The reader's language for this request (see :func:`service.i18n.choose_language`)."""
    return choose_language(request.args.get("lang"), request.cookies.get(COOKIE), request.accept_languages)


def _template_context() -> dict[str, Any]:
    """What ``base.html`` needs on every page, whichever blueprint renders it."""
    lang = language()
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    from urllib.parse import urlencode

    switch = request.path + "?" + urlencode([*args, ("lang", other_language(lang))])
    return {"lang": lang, "ui": UI[lang], "switch_href": switch, "switch_lang": other_language(lang)}


def resolve(path: str) -> str:
    """The canonical IRI of the resource at ``{BASE}id/{path}``.

    :raises NotFound: for a path no IRI of ours can have (empty or dot segments, non-ASCII,
        controls, ``%``…): nothing is looked up.
    """
    if len(path) > _MAX_PATH or not all(_SEGMENT.fullmatch(s) for s in path.split("/")):
        raise NotFound("No resource has this IRI.")
    return namespaces(current_app.config).id_ns + path


def _int_arg(name: str) -> int:
    value = request.args.get(name, "1")
    if not value.isdigit() or len(value) > 6 or int(value) < 1:
        raise BadQuery(f"{name} must be a positive integer.")
    return int(value)


def _terms() -> Terms:
    from service.dataset_meta import per_build

    return per_build("pages-terms", lambda: load_terms(get_store(), namespaces(current_app.config)))


def _build_tag() -> tuple[str, datetime | None]:
    """The build's validator stem and date (``PAGES_ETAG_FROM``)."""
    if current_app.config["PAGES_ETAG_FROM"] == "store-mtime":
        try:
            mtime = (Path(current_app.config["STORE_PATH"]) / "CURRENT").stat().st_mtime
        except OSError:
            return "none", None
        return str(int(mtime)), datetime.fromtimestamp(int(mtime), tz=timezone.utc)
    from service.dataset_meta import build_info

    info = build_info()
    return info.tag, info.built


class _PageCache:
    """Rendered bodies, gzip-compressed, by key; least recently used out first, bounded in
    (compressed) bytes; thread-safe. ``None`` answers (unknown resources) are not kept.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: str, make: Callable[[], bytes | None]) -> bytes | None:
        """The gzip-compressed body under ``key``, made (and kept) on a miss."""
        with self._lock:
            packed = self._items.get(key)
            if packed is not None:
                self._items.move_to_end(key)
                return packed
        body = make()
        if body is None:
            return None
        packed = gzip.compress(body, compresslevel=5, mtime=0)
        if len(packed) > self.limit // 8:
            return packed
        with self._lock:
            if key not in self._items:
                self._items[key] = packed
                self.size += len(packed)
            while self.size > self.limit:
                _, old = self._items.popitem(last=False)
                self.size -= len(old)
        return packed


def _body(key: str, make: Callable[[], bytes | None], gzipped: bool) -> bytes | None:
    """The body under ``key`` (gzip-compressed when ``gzipped``), from the per-build cache if enabled."""
    limit = int(current_app.config["PAGES_CACHE_BYTES"])
    if limit <= 0:
        body = make()
        return gzip.compress(body, compresslevel=5, mtime=0) if gzipped and body is not None else body
    from service.dataset_meta import per_build

    cache: _PageCache = per_build("pages-cache", lambda: _PageCache(limit))
    packed = cache.get_or_make(key, make)
    return packed if gzipped or packed is None else gzip.decompress(packed)


def _link_header(path: str) -> str:
    prefix = bp_prefix()
    links = [f'<{prefix}/page/{path}>; rel="alternate"; type="{HTML}"']
    links += [f'<{prefix}/data/{path}.{ext}>; rel="alternate"; type="{media}"' for ext, media, _ in FORMATS]
    links.append(f'<{LICENSE}>; rel="license"')
    return ", ".join(links)


def bp_prefix() -> str:
    """The path the base maps to on this server (``""`` at the root)."""
    return urlsplit(str(current_app.config["BASE_URI"])).path.rstrip("/")


def _answer(variant: str, path: str, media_type: str, make: Callable[[], bytes | None], *,
            html_404: bool = False) -> Response:
    """A cacheable answer: 304 when the client's copy is current, else ``make()`` (404 on ``None``)."""
    tag, built = _build_tag()
    gzipped = request.accept_encodings["gzip"] > 0
    etag = hashlib.sha256(f"{tag}|{variant}".encode()).hexdigest()[:32] + ("-gz" if gzipped else "")
    if not is_resource_modified(request.environ, etag=etag, last_modified=built):
        resp = Response(status=304)
    else:
        body = _body(variant, make, gzipped)
        if body is None:
            return _not_found(html_404)
        resp = Response(body, mimetype=media_type)
        if gzipped:
            resp.headers["Content-Encoding"] = "gzip"
        frontcache.mark(request.environ)  # the whole answer may be replayed (see frontcache)
    resp.vary.add("Accept-Encoding")
    resp.set_etag(etag)
    if built:
        resp.last_modified = built
    resp.headers["Link"] = _link_header(path)
    resp.cache_control.public = True
    resp.cache_control.max_age = int(current_app.config["PAGES_MAX_AGE"])
    return resp


def _not_found(html: bool) -> Response:
    if not html:
        raise NotFound("No resource has this IRI.")
    lang = language()
    body = render_template("pages/not_found.html", lang=lang, ui=UI[lang])
    return Response(body, status=404, mimetype=HTML)


def _wants_html() -> bool:
    graph = [f.media_type for f in conneg.formats_of("graph") if f.media_type in _EXT.values()]
    # parameters dropped: "text/html; charset=utf-8" asks for HTML (werkzeug would match nothing)
    best = conneg.without_parameters(request.accept_mimetypes).best_match([HTML, "application/xhtml+xml", *graph])
    return best in (HTML, "application/xhtml+xml") or not request.accept_mimetypes


def _rdf_type(format_param: str | None) -> str:
    """The RDF media type for this request (``Accept`` or ``format=``), limited to the four document formats."""
    media = conneg.negotiate(request.accept_mimetypes, "graph", format_param)
    if media not in _EXT.values():
        raise NotAcceptable(f"Descriptions come as {', '.join(_EXT)}; not {media}.")
    return media


@bp.get("/id/<path:path>", merge_slashes=False, strict_slashes=True)
def thing(path: str) -> Response:
    """303 to the page or the RDF document of the thing ``{BASE}id/{path}`` (404 if unknown)."""
    from service.describe import exists

    iri = resolve(path)
    fmt = request.args.get("format")
    html = fmt in ("html", "htm") or (not fmt and _wants_html())
    media = None if html else _rdf_type(fmt)
    if not exists(get_store(), iri):
        return _not_found(html)
    ext = next((e for e, m in _EXT.items() if m == media), "")
    location = f"{bp_prefix()}/page/{path}" if html else f"{bp_prefix()}/data/{path}.{ext}"
    resp = Response(status=303)
    resp.headers["Location"] = location  # a local path: the route table and configured base only
    resp.headers["Link"] = _link_header(path)
    resp.cache_control.public = True
    resp.cache_control.max_age = int(current_app.config["PAGES_MAX_AGE"])
    return resp


@bp.get("/page/<path:path>", merge_slashes=False)
def page(path: str) -> Response:
    """The HTML page of ``{BASE}id/{path}`` (``.html`` optional), in the reader's language."""
    if path.endswith(".html"):
        path = path[:-5]
    iri, lang = resolve(path), language()
    params = PageParams(f"{bp_prefix()}/page/{path}", _int_arg("out_page"), _int_arg("inv_page"),
                        _int_arg("fig_page"), int(current_app.config["PAGES_PAGE_SIZE"]))
    variant = f"html|{lang}|{path}|{params.out_page}|{params.inv_page}|{params.fig_page}"

    def make() -> bytes | None:
        model = build_page(get_store(), namespaces(current_app.config), _terms(), iri, lang, params,
                           prefix=bp_prefix(), data_dir=str(current_app.config["DATA_DIR"]))
        if model is None:
            return None
        return render_template("pages/resource.html", page=model, lang=lang, ui=UI[lang],
                               switch_href=model.switch_href, switch_lang=model.switch_lang).encode("utf-8")

    resp = _answer(variant, path, HTML, make, html_404=True)
    resp.vary.update(("Accept-Language", "Cookie"))
    asked = (request.args.get("lang") or "").strip().lower()
    if asked in LANGS and request.cookies.get(COOKIE) != asked:
        resp.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=False,
                        path=bp_prefix() or "/")
        resp.cache_control.public = False
        resp.cache_control.private = True
    return resp


@bp.get("/data/<path:path>", merge_slashes=False)
def data(path: str) -> Response:
    """The RDF document of ``{BASE}id/{path}``: by extension, else by ``Accept``/``format=``."""
    stem, _, ext = path.rpartition(".")
    if stem and ext in _EXT:
        path, media = stem, _EXT[ext]
    else:
        media = _rdf_type(request.args.get("format"))
    iri = resolve(path)
    out_page, inv_page = _int_arg("out_page"), _int_arg("inv_page")
    variant = f"rdf|{media}|{path}|{out_page}|{inv_page}"

    def make() -> bytes | None:
        return build_rdf(get_store(), namespaces(current_app.config), _terms(), iri, media, out_page=out_page,
                         inv_page=inv_page, page_size=int(current_app.config["PAGES_PAGE_SIZE"]))

    return _answer(variant, path, media, make)


@bp.after_request
def _headers(resp: Response) -> Response:
    """Safety headers on every answer of the blueprint, and ``Vary: Accept`` (all are negotiable)."""
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.vary.add("Accept")
    return resp
