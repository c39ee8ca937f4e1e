"""The browser's /sparql: the YASGUI page, its configuration, its local assets (Flask test client).

The real browser behaviour (tabs, running, downloads, share links, no request leaving
127.0.0.1) is tested in ``tests/e2e/test_query_ui.py``; these tests check what the server sends.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph
from rdflib.compare import isomorphic
from rdflib.plugins.sparql import prepareQuery

from service import create_app
from service.catalogue import NamedQuery, load_catalogue, parse_header
from service.config import DEFAULTS
from service.store import executor
from service.web.queryui import ASSETS, CSP, assets_version
from tests.web.backends import backend_config

QUERIES = load_catalogue(DEFAULTS["QUERIES_DIR"], "http://kg.test/")
YASGUI_DIR = Path(DEFAULTS["YASGUI_DIR"])
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
TEST_BASE = "http://kg.test/"
LICENCE = "https://creativecommons.org/licenses/by/4.0/"


@pytest.fixture(scope="module")
def app(built_kg: Any, kg_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app({**kg_config, "TESTING": True, "QUERY_WORKERS": 0, "LOG_LEVEL": "WARNING"})
    yield app
    executor.shutdown(app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Page(HTMLParser):
    """The parts of the page the tests look at: attributes, the JSON config block, text outside it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.config: dict[str, Any] | None = None
        self._in_config = False
        self._config_text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        self._in_config = tag == "script" and values.get("id") == "kg-queryui-config"

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self._config_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._in_config and tag == "script":
            self.config = json.loads("".join(self._config_text))
            self._in_config = False

    def attrs(self, tag: str, name: str) -> list[str]:
        return [a[name] for t, a in self.tags if t == tag and name in a]


def ui_page(client: FlaskClient, path: str = "/sparql", **headers: str) -> tuple[Any, Page]:
    resp = client.get(path, headers={"Accept": BROWSER, **headers})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp, Page(resp.get_data(as_text=True))


def declared_prefixes_of_files() -> dict[str, str]:
    """Every ``PREFIX`` of ``queries/*.rq``, read from the files themselves (re-based to the test base)."""
    found = {}
    for path in Path(DEFAULTS["QUERIES_DIR"]).glob("*.rq"):
        for prefix, iri in re.findall(r"(?im)^PREFIX\s+([A-Za-z0-9_-]*):\s*<([^>]*)>", path.read_text("utf-8")):
            found[prefix] = iri.replace("https://data.example.org/", TEST_BASE)
    return found


# ---- the page ------------------------------------------------------------------------------

@pytest.mark.parametrize("accept", [BROWSER, "text/html", "text/html;q=1, text/turtle;q=0.5"])
def test_a_browser_gets_the_query_ui(client: FlaskClient, accept: str) -> None:
    resp = client.get("/sparql", headers={"Accept": accept})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = Page(resp.get_data(as_text=True))
    version = assets_version(YASGUI_DIR)
    assert version, "npm ci must have installed @zazuko/yasgui"
    scripts = page.attrs("script", "src")
    assert f"/query-ui/yasgui/{version}/yasgui.min.js" in scripts and "/static/queryui.js" in scripts
    assert scripts.index("/static/queryui.js") > scripts.index(f"/query-ui/yasgui/{version}/yasgui.min.js")
    assert f"/query-ui/yasgui/{version}/yasgui.min.css" in page.attrs("link", "href")
    assert ("div", {"id": "kg-queryui", "class": "queryui", "data-lang": "en"}) in page.tags
    assert page.config is not None and page.config["endpoint"] == "/sparql"
    assert "Accept" in resp.headers.get_all("Vary") or "Accept" in resp.headers["Vary"]


def test_the_page_has_a_strict_content_security_policy(client: FlaskClient) -> None:
    resp, page = ui_page(client)
    policy = dict(part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"  # YASGUI's table writes a <style> at run time
    assert resp.headers["Content-Security-Policy"] == CSP
    assert resp.headers["X-Frame-Options"] == "DENY"
    # No inline script: every <script> either loads a file of ours or is the JSON data block.
    for tag, attrs in page.tags:
        if tag == "script":
            assert attrs.get("src", "").startswith("/") or attrs.get("type") == "application/json", attrs


def test_every_prefix_of_the_dataset_is_in_the_page(client: FlaskClient) -> None:
    _resp, page = ui_page(client)
    assert page.config is not None
    prefixes = page.config["prefixes"]
    assert prefixes["eco"] == TEST_BASE + "def/eco#" and prefixes["id"] == TEST_BASE + "id/"
    assert prefixes["ecosh"] == TEST_BASE + "def/eco/shapes#"
    for prefix, iri in declared_prefixes_of_files().items():
        assert prefixes.get(prefix) == iri, prefix
    starter = page.config["starter"]
    for prefix in ("eco", "id", "rdfs", "skos", "prov", "oa", "dcterms"):
        assert f"PREFIX {prefix}: <{prefixes[prefix]}>" in starter
    prepareQuery(starter)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_one_tab_per_named_query_titled_in_the_page_language(client: FlaskClient, lang: str) -> None:
    _resp, page = ui_page(client, f"/sparql?lang={lang}")
    assert ("html", {"lang": lang}) in page.tags
    assert page.config is not None
    tabs = page.config["tabs"]
    assert [t["id"] for t in tabs] == sorted(q.name for q in QUERIES) and len(tabs) == len(QUERIES) >= 20
    for tab in tabs:
        query = QUERIES.get(tab["id"])
        assert tab["name"] == " ".join(query.summary[lang].split())
        assert tab["query"].startswith("# " + tab["name"] + "\n")
        assert "#+" not in tab["query"]  # the YAML header is replaced by a short comment
        prepareQuery(tab["query"])


def test_the_page_language_follows_accept_language(client: FlaskClient) -> None:
    _resp, page = ui_page(client, **{"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert page.config is not None and page.config["lang"] == "fr"
    assert page.config["tabs"][0]["name"] == " ".join(QUERIES.get(page.config["tabs"][0]["id"]).summary["fr"].split())


def test_tabs_bind_the_example_values(client: FlaskClient) -> None:
    _resp, page = ui_page(client)
    assert page.config is not None
    tabs = {t["id"]: t["query"] for t in page.config["tabs"]}
    assert "VALUES ($place) { (<http://kg.test/id/commune/59350>) }" in tabs["territory-breadcrumbs"]
    assert "VALUES ($industry) { (<http://kg.test/id/industry/textiles>) }" in tabs["structures-serving-industry"]
    for query in QUERIES:
        bound = [p.name for p in query.params if query.example.get(p.name) or p.default]
        if bound:
            values = re.search(r"VALUES \(([^)]*)\)", tabs[query.name])
            assert values is not None and values.group(1).split() == [f"${n}" for n in bound], query.name
        else:  # nothing to bind: the query's own text, after the two comment lines
            assert tabs[query.name].split("\n", 2)[2] == parse_header(query.text)[1].lstrip("\n"), query.name


# ---- the tabs answer what the API answers ---------------------------------------------------

def _solutions(doc: dict[str, Any], unordered: set[str]) -> Counter[tuple[Any, ...]]:
    """Solutions as comparable tuples; blank nodes alike, ``unordered`` (GROUP_CONCAT) values as sorted words."""
    rows: Counter[tuple[Any, ...]] = Counter()
    for binding in doc["results"]["bindings"]:
        def value(name: str, term: dict[str, str]) -> str:
            if term["type"] == "bnode":
                return "_"
            return " ".join(sorted(term["value"].split())) if name in unordered else term["value"]

        rows[tuple(sorted((k, v["type"], value(k, v), v.get("xml:lang"), v.get("datatype"))
                          for k, v in binding.items()))] += 1
    return rows


def tab_text(client: FlaskClient, name: str) -> str:
    page = Page(client.get("/sparql", headers={"Accept": BROWSER}).get_data(as_text=True))
    assert page.config is not None
    return str(next(t["query"] for t in page.config["tabs"] if t["id"] == name))


def answers(client: FlaskClient, query: NamedQuery, text: str) -> tuple[Any, Any]:
    """``(tab's answer, API's answer)``: comparable solutions (tables) or rdflib graphs."""
    api = f"/api/queries/{query.name}?" + urlencode({**query.example, "limit": 10_000})
    if query.returns == "table":
        mine = client.post("/sparql", data={"query": text}, headers={"Accept": "application/sparql-results+json"})
        theirs = client.get(api + "&format=json")
        assert mine.status_code == 200 and theirs.status_code == 200, (mine.get_data(as_text=True)[:300],
                                                                       theirs.get_data(as_text=True)[:300])
        # GROUP_CONCAT's order is the engine's choice, run to run.
        unordered = set(re.findall(r"(?is)GROUP_CONCAT\(.*?\)\s+AS\s+[?$](\w+)", text))
        return _solutions(json.loads(mine.get_data(as_text=True)), unordered), _solutions(theirs.get_json(), unordered)
    mine = client.post("/sparql", data={"query": text}, headers={"Accept": "application/n-triples"})
    theirs = client.get(api + "&format=ntriples")
    assert mine.status_code == 200 and theirs.status_code == 200
    return (Graph().parse(data=mine.get_data(as_text=True), format="nt"),
            Graph().parse(data=theirs.get_data(as_text=True), format="nt"))


@pytest.mark.parametrize("name", sorted(q.name for q in QUERIES))
def test_a_tab_answers_what_the_api_answers(client: FlaskClient, name: str) -> None:
    """On the embedded engine, which binds API parameters as constants everywhere (``substitutions``)."""
    query = QUERIES.get(name)
    mine, theirs = answers(client, query, tab_text(client, name))
    if query.returns == "table":
        assert sum(theirs.values()) >= 1 and mine == theirs
    else:
        assert len(theirs) >= 1 and isomorphic(mine, theirs)


@pytest.fixture(scope="module", params=["remote"])
def remote_client(request: pytest.FixtureRequest, built_kg: Any, kg_config: dict[str, Any]) -> Iterator[FlaskClient]:
    """The app over the same build loaded into a real Virtuoso (see ``tests/web/backends.py``)."""
    app = create_app(backend_config(request, kg_config))
    yield app.test_client()
    executor.shutdown(app)


@pytest.mark.parametrize("name", sorted(q.name for q in QUERIES))
def test_a_tab_runs_on_the_remote_engine_as_the_api_does(remote_client: FlaskClient, client: FlaskClient,
                                                         name: str) -> None:
    """On Virtuoso the tab's text is valid SPARQL and fares as the named query does through the API.

    Rows are compared on the embedded engine above; Virtuoso 7.2 answers some of these queries
    differently from it, and its cost estimator refuses some texts as too expensive (502), which
    may hit the tab's text and not the API's or the reverse (they place VALUES differently): a
    difference in status is accepted only for that documented refusal.
    """
    query = QUERIES.get(name)
    text = tab_text(client, name)
    assert tab_text(remote_client, name) == text
    mine = remote_client.post("/sparql", data={"query": text}, headers={"Accept": "application/sparql-results+json"
                                                                        if query.returns == "table" else "text/turtle"})
    api = remote_client.get(f"/api/queries/{name}?" + urlencode({**query.example, "limit": 10_000}))
    for resp in (mine, api):
        assert resp.status_code in (200, 502), resp.get_data(as_text=True)[:300]
    if mine.status_code != api.status_code:  # the texts differ in where VALUES sits: Virtuoso estimates each
        refused = mine if mine.status_code == 502 else api
        assert "estimated execution time" in refused.get_data(as_text=True), refused.get_data(as_text=True)[:300]


def test_the_starter_query_runs(client: FlaskClient) -> None:
    _resp, page = ui_page(client)
    assert page.config is not None
    resp = client.post("/sparql", data={"query": page.config["starter"]}, headers={"Accept": "text/csv"})
    assert resp.status_code == 200
    assert len(list(csv.reader(io.StringIO(resp.get_data(as_text=True))))) == 1 + 10


# ---- non-browser clients keep the service description ------------------------------------

@pytest.mark.parametrize(("accept", "media"), [("text/turtle", "text/turtle"), ("*/*", "text/turtle"),
                                               ("application/ld+json", "application/ld+json"),
                                               ("application/rdf+xml", "application/rdf+xml")])
def test_other_clients_get_the_service_description(client: FlaskClient, accept: str, media: str) -> None:
    resp = client.get("/sparql", headers={"Accept": accept})
    assert resp.status_code == 200 and resp.mimetype == media
    body = resp.get_data(as_text=True)
    assert "sparql-service-description" in body and "kg-queryui" not in body


def test_format_wins_over_a_browser_accept(client: FlaskClient) -> None:
    resp = client.get("/sparql?format=ttl", headers={"Accept": BROWSER})
    assert resp.status_code == 200 and resp.mimetype == "text/turtle"


def test_a_browser_query_url_is_still_the_protocol(client: FlaskClient) -> None:
    resp = client.get("/sparql?" + urlencode({"query": "ASK {}"}),
                      headers={"Accept": "application/sparql-results+json"})
    assert resp.status_code == 200 and resp.get_json()["boolean"] is True


# ---- assets -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ASSETS))
def test_assets_are_the_installed_files_with_long_caching(client: FlaskClient, name: str) -> None:
    version = assets_version(YASGUI_DIR)
    with client.get(f"/query-ui/yasgui/{version}/{name}") as resp:
        assert resp.status_code == 200
        assert resp.mimetype == ASSETS[name] and resp.get_data() == (YASGUI_DIR / name).read_bytes()
        assert resp.cache_control.max_age == 365 * 24 * 3600 and resp.cache_control.public
        assert "immutable" in resp.headers["Cache-Control"] and resp.headers["X-Content-Type-Options"] == "nosniff"
        etag = resp.headers["ETag"]
    with client.get(f"/query-ui/yasgui/{version}/{name}", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_the_asset_version_is_the_pinned_npm_version() -> None:
    package = json.loads((Path(DEFAULTS["QUERIES_DIR"]).parent / "package.json").read_text("utf-8"))
    lock = json.loads((Path(DEFAULTS["QUERIES_DIR"]).parent / "package-lock.json").read_text("utf-8"))
    pinned = package["dependencies"]["@zazuko/yasgui"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    assert lock["packages"]["node_modules/@zazuko/yasgui"]["version"] == pinned == assets_version(YASGUI_DIR)


@pytest.mark.parametrize("path", ["yasgui.esm.js", "package.json", "..%2Fpackage.json", "ts",
                                  "yasgui.min.js%00", "YASGUI.MIN.JS"])
def test_only_listed_assets_are_served(client: FlaskClient, path: str) -> None:
    resp = client.get(f"/query-ui/yasgui/{assets_version(YASGUI_DIR)}/{path}")
    assert resp.status_code == 404 and resp.mimetype == "text/plain"
    assert str(YASGUI_DIR) not in resp.get_data(as_text=True)


def test_another_version_is_not_found(client: FlaskClient) -> None:
    resp = client.get("/query-ui/yasgui/0.0.1/yasgui.min.js")
    assert resp.status_code == 404 and "not '0.0.1'" in resp.get_data(as_text=True)


def test_missing_npm_assets_are_a_clear_404(kg_config: dict[str, Any], tmp_path: Path) -> None:
    app = create_app({**kg_config, "TESTING": True, "QUERY_WORKERS": 0, "LOG_LEVEL": "WARNING",
                      "YASGUI_DIR": str(tmp_path / "build")})
    client = app.test_client()
    resp = client.get(f"/query-ui/yasgui/{assets_version(YASGUI_DIR)}/yasgui.min.js")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "npm ci" in body and str(tmp_path) not in body
    page = client.get("/sparql", headers={"Accept": BROWSER})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "npm ci" in html and "yasgui.min.js" not in html
    executor.shutdown(app)


# ---- nothing from another host ------------------------------------------------------------

def test_the_page_loads_nothing_from_another_host(client: FlaskClient) -> None:
    """Every URL that makes the browser fetch is a local path; the absolute URLs left are inert.

    They are the licence link (``<link rel=license>`` and the footer's ``<a>``: navigation only)
    and, as data, the IRIs of the prefixes, queries and service description (never fetched).
    """
    resp, page = ui_page(client)
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "data", "poster", "srcset"):
            value = attrs.get(name)
            if value is None:
                continue
            if tag == "a" or (tag == "link" and attrs.get("rel") == "license"):
                assert value.startswith(("/", "#")) or value == LICENCE, (tag, attrs)
            else:
                assert value.startswith("/") and not value.startswith("//"), (tag, attrs)
    html = resp.get_data(as_text=True)
    visible = re.sub(r'<script type="application/json" id="kg-queryui-config">.*?</script>', "", html, flags=re.S)
    visible = re.sub(r"<pre>.*?</pre>", "", visible, flags=re.S)  # the service description (IRIs)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", visible)) == {LICENCE}


def test_the_glue_script_names_no_other_host(client: FlaskClient) -> None:
    with client.get("/static/queryui.js") as resp:
        assert resp.status_code == 200
        text = resp.get_data(as_text=True)
    assert not re.search(r"https?://", text)
    # Remote services YASGUI would call are switched off.
    assert "prefixCcApi: null" in text and "createShortLink: undefined" in text
    assert 'autocompleters: ["datasetPrefixes", "variables"]' in text


def test_the_yasgui_build_fetches_only_what_the_glue_controls() -> None:
    """The pinned build's network calls, reviewed: if an upgrade adds one, this fails.

    Its absolute URLs are prefix namespaces for autocompletion, documentation links and
    example endpoints, never loaded by themselves. It calls ``fetch`` for: the query (to the
    tab's endpoint: this server's /sparql), prefix.cc (``prefixCcApi``: null here), Linked Open
    Vocabularies (the ``property``/``class`` completers: not enabled) and a CORS probe (only
    with a ``corsProxy``: none). ``XMLHttpRequest`` appears in bundled libraries (Papa Parse's
    remote download, jQuery's ajax) that YASGUI calls on strings, not URLs.
    """
    script = (YASGUI_DIR / "yasgui.min.js").read_text("utf-8")
    calls = re.findall(r".{60}\bfetch\(", script)
    assert len(calls) == 4, calls
    assert "lov.linkeddata.es" in script and "prefixCcApi?fetch(e.config.prefixCcApi)" in script
    assert "checkEndpointForCors(e){if(this.yasgui.config.corsProxy" in script
    css = (YASGUI_DIR / "yasgui.min.css").read_text("utf-8")
    assert "url(" not in css and "@import" not in css  # no fonts or images to fetch
