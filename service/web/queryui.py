"""Blueprint ``queryui``: the browser's ``/sparql``, a YASGUI query editor served from this server only.

A browser's ``GET /sparql`` (``Accept: text/html``, no query) gets :func:`query_page`
(:func:`service.web.sparql.render_query_ui` delegates to it): YASGUI from the npm package
``@zazuko/yasgui`` (pinned in ``package.json``, installed by ``npm ci``) with

* the dataset's prefixes (autocompletion and the starter query of a new tab);
* one tab per named query of ``queries/``, titled by its summary in the page language
  (``?lang=``, cookie, ``Accept-Language``), with its example values bound
  (:mod:`service.querytabs`);
* this server's ``/sparql`` as the endpoint, resolved by the page against its own URL (any
  host and port; the server never reads ``Host``);
* YASR downloads (CSV from the table, the raw SPARQL JSON from the response view) and
  YASGUI's share link (the query in the URL's fragment; no shortener).

Everything the page loads comes from this server: the YASGUI build through
:func:`yasgui_asset` (allow-listed files of ``YASGUI_DIR``, versioned URLs cached for a
year), the glue script ``static/queryui.js`` and the configuration as a JSON data block.
The page's Content-Security-Policy allows only ``'self'`` (plus inline styles, which
YASGUI's table sets at run time); remote calls YASGUI could make (Linked Open Vocabularies
and prefix.cc autocompletion, CORS probes, other endpoints) are switched off by the glue
script and would be refused by ``connect-src 'self'`` anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template, send_file

from service.catalogue import get_catalogue
from service.config import namespaces
from service.errors import NotFound
from service.querytabs import dataset_prefixes, query_tabs, starter_query
from service.web.pages import language

__all__ = ["bp", "ASSETS", "CSP", "TEXT", "query_page", "page_config", "assets_version", "yasgui_asset"]

log = logging.getLogger(__name__)

bp = Blueprint("queryui", __name__, url_prefix="/query-ui")

#: The files of the YASGUI build the page may load, with their media types.
ASSETS: dict[str, str] = {
    "yasgui.min.js": "text/javascript",
    "yasgui.min.css": "text/css",
    "yasgui.min.js.map": "application/json",
}
#: Only this server; inline *styles* because YASGUI's table and editor set some at run time.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
_YEAR = 365 * 24 * 3600

#: The page's own words, in both interface languages.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "SPARQL query editor",
        "intro": "Query this dataset in SPARQL 1.1. Each tab holds one of the {n} curated questions (their "
                 "parameters are bound by a VALUES line you can edit); + opens a blank query with the dataset's "
                 "prefixes. Run with the ▶ button or Ctrl+Enter.",
        "howto": "Download the results as CSV from the table view or as SPARQL JSON from the response view "
                 "(download button above the results). The share button gives a link that reopens the query "
                 "here. The page talks to this server only, and the tabs start afresh on each visit.",
        "endpoint": "Endpoint for other clients",
        "missing": "The query editor's files (npm package @zazuko/yasgui) are not installed on this server: "
                   "run 'npm ci' (or 'make setup'). The endpoint still answers queries.",
        "noscript": "The query editor needs JavaScript. Without it, send queries to this URL with "
                    "GET ?query= or POST (SPARQL 1.1 Protocol).",
        "description": "Service description (Turtle)",
    },
    "fr": {
        "title": "Éditeur de requêtes SPARQL",
        "intro": "Interrogez ce jeu de données en SPARQL 1.1. Chaque onglet contient l'une des {n} questions "
                 "choisies (leurs paramètres sont liés par une ligne VALUES modifiable) ; + ouvre une requête "
                 "vierge avec les préfixes du jeu de données. Lancez-la avec le bouton ▶ ou Ctrl+Entrée.",
        "howto": "Téléchargez les résultats en CSV depuis la vue tableau ou en JSON SPARQL depuis la vue réponse "
                 "(bouton de téléchargement au-dessus des résultats). Le bouton de partage donne un lien qui "
                 "rouvre la requête ici. La page ne parle qu'à ce serveur, et les onglets repartent à zéro à "
                 "chaque visite.",
        "endpoint": "Point d'accès pour les autres clients",
        "missing": "Les fichiers de l'éditeur (paquet npm @zazuko/yasgui) ne sont pas installés sur ce serveur : "
                   "lancez 'npm ci' (ou 'make setup'). Le point d'accès répond toujours aux requêtes.",
        "noscript": "L'éditeur de requêtes a besoin de JavaScript. Sans lui, envoyez vos requêtes à cette adresse "
                    "par GET ?query= ou POST (protocole SPARQL 1.1).",
        "description": "Description du service (Turtle)",
    },
}

_VERSIONS: dict[tuple[str, int, int], str] = {}


def assets_version(folder: Path) -> str | None:
    """The version naming the YASGUI build in URLs, or ``None`` when the build is missing.

    It is the npm package's version (``../package.json``), else a digest of the script, so a
    new build always gets new URLs (they are cached for a year).
    """
    script, package = folder / "yasgui.min.js", folder.parent / "package.json"
    if not (script.is_file() and (folder / "yasgui.min.css").is_file()):
        return None
    stat = script.stat()
    key = (str(script), stat.st_mtime_ns, stat.st_size)
    if key not in _VERSIONS:
        version = ""
        try:
            version = str(json.loads(package.read_text(encoding="utf-8")).get("version") or "")
        except (OSError, ValueError, AttributeError):
            pass
        if not version.replace(".", "").replace("-", "").isalnum():
            version = hashlib.sha256(script.read_bytes()).hexdigest()[:16]
        _VERSIONS[key] = version
    return _VERSIONS[key]


def page_config(lang: str) -> dict[str, Any]:
    """What ``static/queryui.js`` needs: endpoint, prefixes, starter query and tabs (cached per language)."""
    cache: dict[str, dict[str, Any]] = current_app.extensions.setdefault("kg_queryui", {})
    if lang not in cache:
        catalogue, ns = get_catalogue(), namespaces(current_app.config)
        cache[lang] = {
            "lang": lang,
            "endpoint": "/sparql",  # the page resolves it against its own URL
            "prefixes": dataset_prefixes(ns, catalogue),
            "starter": starter_query(ns, catalogue, lang),
            "tabs": [{"id": t.id, "name": t.name, "query": t.query} for t in query_tabs(catalogue, lang)],
        }
    return cache[lang]


def query_page(description: str) -> Response:
    """The YASGUI page for a browser's ``GET /sparql``.

    :param description: the SPARQL service description as Turtle, shown under the editor.
    """
    lang = language()
    version = assets_version(Path(current_app.config["YASGUI_DIR"]))
    config = page_config(lang)
    html = render_template("sparql/query.html", lang=lang, text=TEXT[lang], config=config, version=version,
                           description=description, queries=len(config["tabs"]))
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-cache"
    resp.vary.update(("Accept-Language", "Cookie"))
    return resp


@bp.get("/yasgui/<version>/<name>")
def yasgui_asset(version: str, name: str) -> Response:
    """One allow-listed file of the YASGUI build, cached for a year (its URL names its version).

    :raises NotFound: an unknown file, another version, or a build that is not installed.
    """
    media = ASSETS.get(name)
    if media is None:
        raise NotFound(f"The query editor has no file {name[:80]!r}.")
    folder = Path(current_app.config["YASGUI_DIR"])
    installed = assets_version(folder)
    if installed is None or not (folder / name).is_file():
        raise NotFound("The query editor's files (npm package @zazuko/yasgui) are not installed on this server: "
                       "run 'npm ci' (or 'make setup').")
    if version != installed:
        raise NotFound(f"This server has YASGUI {installed}, not {version[:40]!r}.")
    resp = send_file(folder / name, mimetype=media, conditional=True, max_age=_YEAR)
    resp.cache_control.public = True
    resp.cache_control.immutable = True
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
