"""Blueprint ``pages``: dereferenceable IRIs, HTML pages and RDF documents, on the real graph.

Most tests use the session-built graph (base ``http://kg.test/``); the XSS tests use a tiny
in-memory store holding hostile literals and IRIs.
"""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
import rdflib

from service import create_app
from tests.web.backends import BACKENDS, backend_config

BASE = "http://kg.test/"
OBS = "observation/000_536db8c375fb4130/office-space-let-2019"
SAMPLE = {
    "commune": "commune/59350", "epci": "epci/200093201", "region": "region/32", "departement": "departement/59",
    "metropolitan-pole": "territory/pole-metropolitain-artois", "site": "site/la-haute-borne",
    "company": "organization/kuhlmann", "cluster": "organization/team2", "lab": "organization/cristal",
    "industry": "industry/technical-textiles", "indicator": "indicator/office-space-let", "observation": OBS,
    "excerpt": "excerpt/000_536db8c375fb4130/7753-7882", "document": "document/000_536db8c375fb4130",
    "cited-source": "source/insee-rgp-2015", "gap": "gap/003_3909a56f0ba71a0f/population-under-20",
    "period": "period/2019",
}
RDF_FORMATS = {"ttl": ("text/turtle", "turtle"), "nt": ("application/n-triples", "nt"),
               "rdf": ("application/rdf+xml", "xml"), "jsonld": ("application/ld+json", "json-ld")}


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, kg_config: dict[str, Any], built_kg: Any) -> Any:
    return create_app(backend_config(request, kg_config))


@pytest.fixture()
def client(app: Any) -> Any:
    return app.test_client()


def _parse(body: bytes, fmt: str) -> rdflib.Graph:
    """Parse with rdflib; JSON-LD through pyoxigraph (rdflib's JSON-LD parser warns of deprecations)."""
    graph = rdflib.Graph()
    if fmt == "json-ld":
        import pyoxigraph as ox

        lines = [f"{q.subject} {q.predicate} {q.object} ." for q in ox.parse(body, format=ox.RdfFormat.JSON_LD)]
        graph.parse(data="\n".join(lines), format="nt")
    else:
        graph.parse(data=body, format=fmt)
    return graph


# --- every class: HTML and the four RDF formats ---------------------------------------------------------------

@pytest.mark.parametrize("path", SAMPLE.values(), ids=SAMPLE.keys())
def test_page_is_html_about_the_iri(client: Any, path: str) -> None:
    resp = client.get(f"/page/{path}")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert "Accept" in resp.headers["Vary"]
    body = resp.get_data(as_text=True)
    assert f"<code id=\"resource-iri\">{BASE}id/{path}</code>" in body
    assert re.search(r'<html lang="(en|fr)">', body)
    assert f'href="/data/{path}.ttl"' in body and 'rel="alternate"' in body


@pytest.mark.parametrize("ext", RDF_FORMATS)
@pytest.mark.parametrize("path", SAMPLE.values(), ids=SAMPLE.keys())
def test_rdf_document_describes_the_iri(client: Any, path: str, ext: str) -> None:
    media, fmt = RDF_FORMATS[ext]
    resp = client.get(f"/data/{path}.{ext}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == media
    assert "Accept" in resp.headers["Vary"]
    graph = _parse(resp.data, fmt)
    me = rdflib.URIRef(f"{BASE}id/{path}")
    assert (me, None, None) in graph
    assert (rdflib.URIRef(f"{BASE}data/{path}"), rdflib.URIRef("http://xmlns.com/foaf/0.1/primaryTopic"), me) in graph


def test_rdf_has_labels_of_linked_resources_and_figure_provenance(client: Any) -> None:
    graph = _parse(client.get("/data/commune/59350.ttl").data, "turtle")
    label = rdflib.RDFS.label
    assert (rdflib.URIRef(f"{BASE}id/departement/59"), label, None) in graph
    excerpt = rdflib.URIRef(f"{BASE}id/excerpt/000_536db8c375fb4130/7753-7882")
    oa = rdflib.Namespace("http://www.w3.org/ns/oa#")
    assert "230,810 m² of office space" in str(graph.value(excerpt, oa.exact))
    doc = rdflib.URIRef(f"{BASE}id/document/000_536db8c375fb4130")
    assert graph.value(doc, rdflib.URIRef(f"{BASE}def/eco#sha256")) is not None


def test_canonical_iris_only_in_rdf(client: Any) -> None:
    body = client.get("/data/commune/59350.nt").get_data(as_text=True)
    iris = set(re.findall(r"<([^>]+)>", body))
    assert all(not i.startswith("/") for i in iris)
    assert f"{BASE}id/commune/59350" in iris


# --- 303 and content negotiation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "location"), [
    ("text/html", "/page/commune/59350"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "/page/commune/59350"),
    ("*/*", "/page/commune/59350"),
    (None, "/page/commune/59350"),
    ("text/turtle", "/data/commune/59350.ttl"),
    ("application/n-triples", "/data/commune/59350.nt"),
    ("application/rdf+xml", "/data/commune/59350.rdf"),
    ("application/ld+json", "/data/commune/59350.jsonld"),
    ("text/turtle;q=0.5, application/rdf+xml;q=0.9, text/html;q=0.1", "/data/commune/59350.rdf"),
])
def test_thing_redirects_by_accept(client: Any, accept: str | None, location: str) -> None:
    resp = client.get("/id/commune/59350", headers={"Accept": accept} if accept else {})
    assert resp.status_code == 303
    assert resp.headers["Location"] == location
    assert "Accept" in resp.headers["Vary"]
    assert 'rel="license"' in resp.headers["Link"]


def test_thing_format_parameter(client: Any) -> None:
    assert client.get("/id/region/32?format=ttl").headers["Location"] == "/data/region/32.ttl"
    assert client.get("/id/region/32?format=../../etc/passwd").status_code == 400
    assert client.get("/id/region/32", headers={"Accept": "application/x-foo"}).status_code == 406


def test_redirect_ignores_next_parameter(client: Any) -> None:
    resp = client.get("/id/commune/59350?next=https://evil.example/", headers={"Accept": "text/html"})
    assert resp.headers["Location"] == "/page/commune/59350"


def test_file_extensions_and_negotiated_data(client: Any) -> None:
    assert client.get("/page/commune/59350.html").data == client.get("/page/commune/59350").data
    resp = client.get("/data/commune/59350", headers={"Accept": "application/ld+json"})
    assert resp.status_code == 200 and resp.mimetype == "application/ld+json" and "Accept" in resp.headers["Vary"]
    json.loads(resp.data)


def test_dotted_iri(client: Any) -> None:
    path = "document/decoupage-administratif-6.0.0/communes.json"
    assert client.get(f"/page/{path}").status_code == 200
    graph = _parse(client.get(f"/data/{path}.ttl").data, "turtle")
    assert (rdflib.URIRef(f"{BASE}id/{path}"), None, None) in graph


def test_link_header(client: Any) -> None:
    link = client.get("/page/commune/59350").headers["Link"]
    for ext, (media, _) in RDF_FORMATS.items():
        assert f'</data/commune/59350.{ext}>; rel="alternate"; type="{media}"' in link
    assert '<https://creativecommons.org/licenses/by/4.0/>; rel="license"' in link


# --- unknown and odd paths ------------------------------------------------------------------------------------

def test_unknown_iri_is_404(client: Any) -> None:
    page = client.get("/page/commune/00000")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert client.get("/id/commune/00000", headers={"Accept": "text/html"}).status_code == 404
    rdf = client.get("/id/commune/00000", headers={"Accept": "text/turtle"})
    assert rdf.status_code == 404 and rdf.mimetype == "text/plain"
    assert client.get("/data/commune/00000.ttl").status_code == 404


@pytest.mark.parametrize("path", [
    "/id//evil.example", "/id/%2F%2Fevil.example", "/id/..%2f..%2fetc%2fpasswd", "/id/%00",
    "/id/%C0%AE%C0%AE/x", "/id/commune/59350/", "/page//evil.example", "/page/%2F%2Fevil.example/x",
    "/data/..%2f..%2fetc%2fpasswd.ttl", "/page/commune/..", "/id/commune/%E2%80%AE59350",
])
def test_odd_paths_never_redirect_off_site(client: Any, path: str) -> None:
    resp = client.get(path, headers={"Accept": "text/html"})
    assert resp.status_code in (400, 404)
    assert "evil" not in resp.headers.get("Location", "")


def test_bad_page_parameter(client: Any) -> None:
    assert client.get("/page/region/32?inv_page=-1").status_code == 400
    assert client.get("/page/region/32?inv_page=abc").status_code == 400


# --- what the pages say ---------------------------------------------------------------------------------------

def test_figure_page_quotes_its_sentence_and_names_its_source(client: Any) -> None:
    body = unescape(client.get(f"/page/{OBS}").get_data(as_text=True))
    assert "230,810 m² of office space let in 2019 - the total floor area allocated by 362 companies" in body
    assert "000_536db8c375fb4130.txt" in body and "3432a9255e45710906829f27ca47ec05c2d57b31" in body
    assert "characters 7753–7882" in body and "Cite this" in body
    assert "area inferred" in body  # quality flag badge


def test_cited_figure_names_source_and_publisher(client: Any) -> None:
    body = unescape(client.get("/page/region/32").get_data(as_text=True))
    assert "285,000" in body and "INSEE" in body
    assert "Citation as written" in body


def test_region_lists_what_points_at_it_with_pages(client: Any) -> None:
    first = client.get("/page/region/32").get_data(as_text=True)
    assert "What points here" in first
    assert re.search(r"showing 1–50 of \d{4}", first)
    assert 'href="/page/region/32?inv_page=2#inv-' in first
    second = client.get("/page/region/32?inv_page=2").get_data(as_text=True)
    assert re.search(r"showing 51–100 of \d{4}", second)
    communes = lambda body: set(re.findall(r'href="(/page/commune/\d+)"', body))  # noqa: E731
    assert communes(first) != communes(second)


def test_region_rdf_is_bounded_and_says_so(client: Any) -> None:
    graph = _parse(client.get("/data/region/32.ttl").data, "turtle")
    within = rdflib.URIRef(f"{BASE}def/eco#withinTerritory")
    assert 0 < len(list(graph.subjects(within, rdflib.URIRef(f"{BASE}id/region/32")))) <= 50
    doc = rdflib.URIRef(f"{BASE}data/region/32")
    assert graph.value(doc, rdflib.RDFS.comment) is not None
    assert graph.value(doc, rdflib.URIRef("http://www.w3.org/ns/hydra/core#next")) is not None


def test_breadcrumbs_follow_the_hierarchy(client: Any) -> None:
    body = client.get("/page/commune/59350").get_data(as_text=True)
    crumbs = body[body.index('class="crumbs"'):body.index("</nav>", body.index('class="crumbs"'))]
    order = [crumbs.index(f'"/page/{p}"') for p in ("country/FR", "region/32", "departement/59", "epci/200093201")]
    assert order == sorted(order)


def test_epci_has_a_chart_and_cluster_a_graph(client: Any) -> None:
    epci = client.get("/page/epci/200093201").get_data(as_text=True)
    assert '<svg class="bars"' in epci and "/page/commune/59350" in epci
    cluster = client.get("/page/organization/team2").get_data(as_text=True)
    assert '<svg class="graph"' in cluster
    # a stated relation links to the sentence that states it
    assert re.search(r'<a class="stated" href="/page/excerpt/000_536db8c375fb4130/\d+-\d+" title="“', cluster)


def test_document_page_highlights_excerpts(client: Any) -> None:
    body = client.get("/page/document/000_536db8c375fb4130").get_data(as_text=True)
    assert 'class="hl" href="/page/excerpt/000_536db8c375fb4130/7753-7882"' in body
    assert 'id="x-7753-7882"' in body


def test_embedded_json_ld(client: Any) -> None:
    body = client.get("/page/commune/59350").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S).group(1))
    assert data["@id"] == f"{BASE}id/commune/59350" and data["@type"] == "AdministrativeArea"
    assert data["identifier"] == "59350"


# --- languages ------------------------------------------------------------------------------------------------

def test_french_and_english_pages_differ(client: Any) -> None:
    en = client.get("/page/commune/59350?lang=en").get_data(as_text=True)
    fr = client.get("/page/commune/59350?lang=fr").get_data(as_text=True)
    assert '<html lang="en">' in en and '<html lang="fr">' in fr
    assert "Office space let" in en and "Surface de bureaux placée" in fr
    assert "What points here" in en and "Ce qui pointe ici" in fr
    assert "230,810" in en and "230\u202f810" in fr


def test_accept_language_and_cookie(client: Any) -> None:
    assert '<html lang="fr">' in client.get("/page/region/32", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(
        as_text=True)
    assert '<html lang="en">' in client.get("/page/region/32", headers={"Accept-Language": "de, en;q=0.5"}).get_data(
        as_text=True)
    resp = client.get("/page/region/32?lang=fr")
    assert "lang=fr" in resp.headers["Set-Cookie"]
    assert '<html lang="fr">' in client.get("/page/region/32").get_data(as_text=True)
    assert "Français" in client.get("/page/region/32?lang=en").get_data(as_text=True)


# --- HTTP caching and headers ---------------------------------------------------------------------------------

def test_conditional_get(client: Any) -> None:
    first = client.get("/page/commune/59350")
    etag, modified = first.headers["ETag"], first.headers.get("Last-Modified")
    assert "max-age=300" in first.headers["Cache-Control"] and "public" in first.headers["Cache-Control"]
    again = client.get("/page/commune/59350", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and "Accept-Language" in again.headers["Vary"]
    if modified:
        assert client.get("/page/commune/59350", headers={"If-Modified-Since": modified}).status_code == 304
    french = client.get("/page/commune/59350", headers={"Accept-Language": "fr", "If-None-Match": etag})
    assert french.status_code == 200 and french.headers["ETag"] != etag
    assert "private" in client.get("/page/commune/59350?lang=fr").headers["Cache-Control"]  # it sets a cookie
    rdf = client.get("/data/commune/59350.ttl")
    assert client.get("/data/commune/59350.ttl", headers={"If-None-Match": rdf.headers["ETag"]}).status_code == 304


def test_safety_headers(client: Any) -> None:
    resp = client.get("/page/commune/59350")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    body = resp.get_data(as_text=True)
    assert "<style" not in body and " style=" not in body
    assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/ld\+json\"))", body)


@pytest.mark.parametrize("url", ["/page/commune/59350", "/id/commune/59350", "/data/commune/59350.ttl",
                                 "/page/commune/00000"])
def test_forged_host_never_echoed(client: Any, url: str) -> None:
    headers = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example",
               "X-Forwarded-Proto": "https"}
    resp = client.get(url, headers=headers)
    assert "evil.example" not in resp.get_data(as_text=True)
    assert all("evil.example" not in v for _, v in resp.headers.items())


# --- hostile data ---------------------------------------------------------------------------------------------

HOSTILE = [
    '<http://kg.test/id/organization/x> <http://www.w3.org/2000/01/rdf-schema#label> '
    '"<script>alert(1)</script>"@en <http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://schema.org/description> '
    '"\\"><img src=x onerror=alert(1)></script><script>alert(2)</script>"@en <http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://kg.test/def/eco#note> '
    '"<b onmouseover=alert(3)>bold</b>"^^<http://www.w3.org/1999/02/22-rdf-syntax-ns#HTML> <http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://www.w3.org/2000/01/rdf-schema#seeAlso> <javascript:alert(4)> '
    '<http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://www.w3.org/2000/01/rdf-schema#seeAlso> <JaVaScRiPt:alert(5)> '
    '<http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://www.w3.org/2000/01/rdf-schema#seeAlso> '
    '<data:text/html,%3Cscript%3Ealert(6)%3C/script%3E> <http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://www.w3.org/2000/01/rdf-schema#seeAlso> <vbscript:msgbox(7)> '
    '<http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://www.w3.org/2000/01/rdf-schema#seeAlso> <https://example.org/ok> '
    '<http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://kg.test/def/eco#note> "\u202eevil\u202c" <http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://kg.test/def/eco#long> "' + "A" * 20000 + '" <http://kg.test/graph/t> .',
    '<http://kg.test/id/organization/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
    '<http://kg.test/def/eco#Company> <http://kg.test/graph/t> .',
]


@pytest.fixture()
def hostile_client(tmp_path: Any) -> Any:
    from service.store.oxigraph import OxigraphStore

    app = create_app({"TESTING": True, "BASE_URI": BASE, "QUERY_WORKERS": 0, "STORE_PATH": str(tmp_path / "store"),
                      "DATA_DIR": str(tmp_path)})
    app.extensions["kg_store"] = OxigraphStore.in_memory(HOSTILE)
    return app.test_client()


def test_hostile_literals_are_escaped_and_hostile_iris_unclickable(hostile_client: Any) -> None:
    resp = hostile_client.get("/page/organization/x")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body and "<b onmouseover" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "</script><script>alert(2)" not in body  # the embedded JSON-LD escapes "</"
    for scheme in ("javascript:", "data:", "vbscript:"):
        assert not re.search(rf'href="\s*{scheme}', body, re.I)
    assert "javascript:alert(4)" in body  # shown as text
    assert 'href="https://example.org/ok"' in body
    assert "<bdi>\u202eevil\u202c</bdi>" in body
    assert "A" * 20000 not in body and "A" * 400 + "…" in body
    assert "Content-Security-Policy" in resp.headers
    json_ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    assert json_ld and json.loads(json_ld.group(1))["name"] == "<script>alert(1)</script>"


def test_hostile_rdf_still_parses(hostile_client: Any) -> None:
    resp = hostile_client.get("/data/organization/x.ttl")
    graph = _parse(resp.data, "turtle")
    assert (rdflib.URIRef(f"{BASE}id/organization/x"), rdflib.RDFS.seeAlso, rdflib.URIRef("javascript:alert(4)")) \
        in graph


def test_base_with_a_path(tmp_path: Any) -> None:
    """A base such as http://kg.test/kg/ is served under /kg: IRIs resolve at the same path."""
    from service.store.oxigraph import OxigraphStore

    base = "http://kg.test/kg/"
    app = create_app({"TESTING": True, "BASE_URI": base, "QUERY_WORKERS": 0, "STORE_PATH": str(tmp_path / "s")})
    app.extensions["kg_store"] = OxigraphStore.in_memory([
        f"<{base}id/site/a> <{base}def/eco#directlyWithin> <{base}id/commune/1> <{base}graph/g> .",
        f'<{base}id/commune/1> <http://www.w3.org/2000/01/rdf-schema#label> "Une commune"@fr <{base}graph/g> .'])
    client = app.test_client()
    assert client.get("/kg/id/site/a", headers={"Accept": "text/html"}).headers["Location"] == "/kg/page/site/a"
    page = client.get("/kg/page/site/a").get_data(as_text=True)
    assert 'href="/kg/page/commune/1"' in page and 'href="/kg/data/site/a.ttl"' in page
    assert client.get("/id/site/a").status_code == 404


# --- Accept values with media-type parameters (charset, level…) negotiate like the bare type ---

#: (Accept, the /id/ redirect's target under /page or /data); parameters other than q never decide.
ACCEPT_WITH_PARAMETERS = [
    ("text/html; charset=utf-8", "/page/commune/59350"),
    ("text/html;charset=UTF-8;q=0.9, text/turtle;q=0.5", "/page/commune/59350"),
    ("application/xhtml+xml; charset=utf-8", "/page/commune/59350"),
    ("text/turtle;charset=utf-8", "/data/commune/59350.ttl"),
    ("text/turtle; charset=utf-8, text/html;q=0.5", "/data/commune/59350.ttl"),
    ("application/n-triples; charset=utf-8", "/data/commune/59350.nt"),
    ('application/ld+json; profile="http://www.w3.org/ns/json-ld#expanded"', "/data/commune/59350.jsonld"),
    ("application/rdf+xml;q=0.9;charset=utf-8, text/html;level=1;q=0.2", "/data/commune/59350.rdf"),
]


@pytest.mark.parametrize(("accept", "location"), ACCEPT_WITH_PARAMETERS)
def test_accept_parameters_choose_like_the_bare_type(client: Any, accept: str, location: str) -> None:
    """The 303 target, then what that target serves, and ``/data/{path}`` without extension."""
    resp = client.get("/id/commune/59350", headers={"Accept": accept})
    assert resp.status_code == 303 and resp.headers["Location"] == location, resp.get_data(as_text=True)
    target = client.get(location, headers={"Accept": accept})
    assert target.status_code == 200
    if location.startswith("/page/"):
        assert target.mimetype == "text/html" and "<html" in target.get_data(as_text=True)
        return
    media = RDF_FORMATS[location.rsplit(".", 1)[1]][0]
    assert target.mimetype == media
    negotiated = client.get("/data/commune/59350", headers={"Accept": accept})
    assert negotiated.status_code == 200 and negotiated.mimetype == media
    assert negotiated.data == target.data


@pytest.mark.parametrize("accept", ["image/png; charset=utf-8", "text/plain;charset=utf-8"])
def test_unacceptable_with_parameters_is_406(client: Any, accept: str) -> None:
    assert client.get("/id/commune/59350", headers={"Accept": accept}).status_code == 406
    assert client.get("/data/commune/59350", headers={"Accept": accept}).status_code == 406
