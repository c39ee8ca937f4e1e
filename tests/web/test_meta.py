"""Blueprint ``meta`` over the real graph: home, class indexes, ontology docs, VoID, DCAT, dumps, sitemap, caching."""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, OWL, RDF, RDFS, SKOS, VOID, XSD

from service import create_app
from service.i18n import format_number
from service.search import normalise
from service.store import executor
from tests.web.backends import BACKENDS, backend_config
from service.web import meta

SPDX = Namespace("http://spdx.org/rdf/terms#")
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
RDF_FORMATS = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
               "application/ld+json": "json-ld"}


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, built_kg: Any, kg_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(backend_config(request, kg_config))
    yield application
    executor.shutdown(application)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def base(kg_config: dict[str, Any]) -> str:
    return str(kg_config["BASE_URI"])


@pytest.fixture(scope="module")
def eco(base: str) -> Namespace:
    return Namespace(f"{base}def/eco#")


def count_of(kg_store: Any, cls: str) -> int:
    rows = kg_store.select(f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ ?s a <{cls}> }}")
    return int(rows[0]["n"].split('"')[1])


def parse(body: bytes, fmt: str, base: str) -> Graph:
    """Parse an RDF answer (JSON-LD through pyoxigraph: rdflib's JSON-LD parser warns about ConjunctiveGraph)."""
    if fmt == "json-ld":
        import pyoxigraph as ox

        body = ox.serialize(ox.parse(body, format=ox.RdfFormat.JSON_LD, base_iri=base),
                            format=ox.RdfFormat.N_TRIPLES) or b""
        fmt = "nt"
    return Graph().parse(data=body, format=fmt, publicID=base)


def fetch(client: FlaskClient, url: str, **headers: str) -> Any:
    """GET ``url``, read the body and close the response (file responses hold an open file)."""
    resp = client.get(url, headers=headers)
    resp.get_data()
    resp.close()
    return resp


# ---- home ---------------------------------------------------------------------------------------

def test_home_page_says_what_the_dataset_is_with_counts_entry_points_and_build(client: FlaskClient, kg_store: Any,
                                                                             eco: Namespace, kg_config: dict[str, Any]) -> None:
    resp = client.get("/?lang=en")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert re.search(r'<html[^>]*lang="en"', page)
    communes = count_of(kg_store, eco.Commune)
    assert 'href="/class/Commune"' in page and f"{communes:,}" in page
    for target in ("/class/Territory", "/class/Industry", "/class/CompetitivenessCluster", "/class/Company",
                   "/class/Observation", "/class/SourceDocument", "/class/DataGap", "/sparql", "/dumps/",
                   "/.well-known/void", "/catalog", "/def/eco", "https://creativecommons.org/licenses/by/4.0/"):
        assert f'href="{target}"' in page, target
    info = json.loads((Path(kg_config["STORE_PATH"]).parent / "build-info.json").read_text())
    assert info["version"] in page and info["built"][:10] in page


def test_home_page_is_french_when_asked(client: FlaskClient) -> None:
    page = client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert re.search(r'<html[^>]*lang="fr"', page)
    assert "Ce que contient le graphe" in page and "What the graph holds" not in page


def test_home_example_queries_run_and_return_rows(client: FlaskClient) -> None:
    page = client.get("/?lang=en").get_data(as_text=True)
    links = [html.unescape(u) for u in re.findall(r'href="(/sparql\?query=[^"]+)"', page)]
    assert len(links) == 3
    for link in links:
        resp = client.get(link, headers={"Accept": "application/sparql-results+json"})
        assert resp.status_code == 200, unquote(link)
        assert resp.json["results"]["bindings"], unquote(link)


# ---- class indexes ------------------------------------------------------------------------------

def test_class_index_is_paginated_and_sorted_by_label(client: FlaskClient, kg_store: Any, eco: Namespace) -> None:
    total = count_of(kg_store, eco.Commune)
    pages = math.ceil(total / meta.PAGE_SIZE)
    labels: list[str] = []
    for page in (1, 2, pages):
        body = client.get(f"/class/Commune?page={page}&lang=fr").get_data(as_text=True)
        items = re.findall(r'<li><a href="(/page/commune/[^"]+)" title="[^"]+">([^<]+)</a></li>', body)
        expected = meta.PAGE_SIZE if page < pages else total - (pages - 1) * meta.PAGE_SIZE
        assert len(items) == expected, page
        assert f"{page} sur {pages}" in body or pages == 1
        labels += [html.unescape(label) for _, label in items]
    first_two = labels[:2 * meta.PAGE_SIZE]
    assert [normalise(x) for x in first_two] == sorted(normalise(x) for x in first_two)
    assert format_number(str(total), "fr") in client.get("/class/Commune?lang=fr").get_data(as_text=True)


@pytest.mark.parametrize(("url", "status"), [("/class/Commune?page=0", 400), ("/class/Commune?page=x", 400),
                                             ("/class/Commune?page=9999", 404), ("/class/NoSuchClass", 404),
                                             ("/class/label", 404), ("/class/", 200)])
def test_class_index_rejects_bad_pages_and_unknown_classes(client: FlaskClient, url: str, status: int) -> None:
    assert client.get(url).status_code == status


def test_class_list_shows_the_hierarchy_with_counts(client: FlaskClient) -> None:
    body = client.get("/class/?lang=en").get_data(as_text=True)
    assert body.index('href="/class/Territory"') < body.index('href="/class/Commune"')


# ---- ontology documentation ---------------------------------------------------------------------

def ontology_terms(kg_config: dict[str, Any], eco: Namespace) -> Graph:
    from service.ontology_docs import load_ontology_graph

    return load_ontology_graph(Path(kg_config["ONTOLOGY_DIR"]), kg_config["BASE_URI"])


def test_ontology_docs_have_every_class_and_property_with_both_definitions(client: FlaskClient, kg_config: dict[str, Any],
                                                                          eco: Namespace) -> None:
    graph = ontology_terms(kg_config, eco)
    page = html.unescape(client.get("/def/eco", headers={"Accept": "text/html"}).get_data(as_text=True))
    terms = {s for t in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty) for s in graph.subjects(RDF.type, t)
             if str(s).startswith(str(eco))}
    assert len(terms) > 60
    for term in terms:
        name = str(term)[len(str(eco)):]
        assert f'id="{name}"' in page, name
        definitions = {d.language: str(d) for d in graph.objects(term, SKOS.definition)}
        assert set(definitions) == {"en", "fr"}, name
        section = page[page.index(f'id="{name}"'):]
        section = section[:section.index("</section>")]
        for lang, text in definitions.items():
            assert f'lang="{lang}"' in section and text in section, (name, text)


def test_ontology_docs_show_hierarchy_domain_range_and_examples(client: FlaskClient) -> None:
    page = client.get("/def/eco?lang=en").get_data(as_text=True)
    region = page[page.index('id="Region"'):]
    region = region[:region.index("</section>")]
    assert 'href="/def/eco#AdministrativeArea"' in region and "Hauts-de-France (INSEE code 32)" in region
    located = page[page.index('id="locatedIn"'):]
    located = located[:located.index("</section>")]
    for target in ("Organization", "Programme", "Site", "Place"):
        assert f'href="/def/eco#{target}"' in located
    assert page.index('href="#Territory"') < page.index('href="#Commune"')
    assert 'lang="fr"' in page.split('id="Region"')[1].split("</section>")[0]


@pytest.mark.parametrize("media_type", list(RDF_FORMATS))
def test_ontology_iri_serves_rdf_by_accept_and_extension(client: FlaskClient, media_type: str, base: str,
                                                         eco: Namespace) -> None:
    ext = {v: k for k, v in meta.EXTENSIONS.items()}[media_type]
    by_accept = client.get("/def/eco", headers={"Accept": media_type})
    by_ext = client.get(f"/def/eco.{ext}")
    for resp in (by_accept, by_ext):
        assert resp.status_code == 200 and resp.mimetype == media_type
        graph = parse(resp.data, RDF_FORMATS[media_type], base)
        assert (URIRef(f"{base}def/eco"), RDF.type, OWL.Ontology) in graph
        assert (eco.Region, RDFS.subClassOf, eco.AdministrativeArea) in graph
    assert "Accept" in by_accept.headers["Vary"]
    assert 'rel="alternate"' in by_accept.headers["Link"] and 'rel="license"' in by_accept.headers["Link"]


@pytest.mark.parametrize(("url", "status"), [("/def/eco.xyz", 404), ("/def/eco/9.9.9", 404)])
def test_ontology_unknown_variants(client: FlaskClient, url: str, status: int) -> None:
    assert client.get(url).status_code == status


def test_ontology_not_acceptable(client: FlaskClient) -> None:
    assert client.get("/def/eco", headers={"Accept": "image/png"}).status_code == 406


# ---- VoID -----------------------------------------------------------------------------------------

def void_graph(client: FlaskClient, base: str, media_type: str = "text/turtle") -> Graph:
    resp = client.get("/.well-known/void", headers={"Accept": media_type})
    assert resp.status_code == 200 and resp.mimetype == media_type
    return parse(resp.data, RDF_FORMATS[media_type], base)


def test_void_describes_the_dataset(client: FlaskClient, base: str, eco: Namespace, kg_store: Any,
                                    built_kg: Any, dumps_dir: Path) -> None:
    g = void_graph(client, base)
    ds = URIRef(f"{base}dataset")
    assert (ds, RDF.type, VOID.Dataset) in g
    assert (ds, VOID.uriSpace, Literal(f"{base}id/")) in g
    assert (ds, VOID.sparqlEndpoint, URIRef(f"{base}sparql")) in g
    dumps = {str(o) for o in g.objects(ds, VOID.dataDump)}
    assert dumps == {f"{base}dumps/{name}" for name in built_kg.dumps}
    assert all((dumps_dir / name).is_file() for name in built_kg.dumps)
    distinct = kg_store.select("SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }")[0]["n"]
    assert g.value(ds, VOID.triples) == Literal(int(distinct.split('"')[1]), datatype=XSD.integer)
    partitions = {g.value(p, VOID["class"]): g.value(p, VOID.entities).toPython() for p in g.objects(ds, VOID.classPartition)}
    assert partitions[eco.Commune] == count_of(kg_store, eco.Commune)
    props = {g.value(p, VOID.property): g.value(p, VOID.triples).toPython() for p in g.objects(ds, VOID.propertyPartition)}
    assert props[RDFS.label] > 1000 and eco.refArea in props
    assert URIRef(f"{base}def/eco") in set(g.objects(ds, VOID.vocabulary))
    assert URIRef("http://www.w3.org/2004/02/skos/core") in set(g.objects(ds, VOID.vocabulary))
    examples = set(g.objects(ds, VOID.exampleResource))
    assert URIRef(f"{base}id/commune/59350") in examples and URIRef(f"{base}id/region/32") in examples
    subsets = {s: g.value(s, VOID.triples).toPython() for s in g.objects(ds, VOID.subset)}
    assert {str(s): n for s, n in subsets.items()} == built_kg.triples_per_graph


@pytest.mark.parametrize("media_type", list(RDF_FORMATS))
def test_void_in_every_rdf_format(client: FlaskClient, base: str, media_type: str) -> None:
    assert len(void_graph(client, base, media_type)) == len(void_graph(client, base))
    assert client.get("/void.ttl").data == client.get("/.well-known/void").data


def test_void_html_for_browsers(client: FlaskClient) -> None:
    resp = client.get("/.well-known/void", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.mimetype == "text/html" and 'href="/void.ttl"' in resp.get_data(as_text=True)


# ---- DCAT -------------------------------------------------------------------------------------------

def test_dcat_catalogue(client: FlaskClient, base: str, dumps_dir: Path, built_kg: Any) -> None:
    resp = client.get("/catalog")
    assert resp.status_code == 200 and resp.mimetype == "text/turtle"
    g = parse(resp.data, "turtle", base)
    cat, ds = URIRef(f"{base}catalog"), URIRef(f"{base}dataset")
    assert (cat, RDF.type, DCAT.Catalog) in g and (cat, DCAT.dataset, ds) in g
    assert (ds, RDF.type, DCAT.Dataset) in g
    for prop in (DCTERMS.title, DCTERMS.description):
        assert {o.language for o in g.objects(ds, prop)} == {"en", "fr"}
    assert g.value(ds, DCTERMS.publisher) is not None and g.value(cat, DCTERMS.publisher) is not None
    assert (ds, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in g
    assert (ds, DCTERMS.spatial, URIRef(f"{base}id/region/32")) in g
    assert not any(str(p).endswith("dcat#spatial") for p in g.predicates())
    assert len(set(g.objects(ds, DCAT.keyword))) >= 4 and len(set(g.objects(ds, DCAT.theme))) >= 1
    by_url = {}
    for dist in g.objects(ds, DCAT.distribution):
        assert (dist, RDF.type, DCAT.Distribution) in g
        if (url := g.value(dist, DCAT.downloadURL)) is not None:
            by_url[str(url)] = dist
    assert set(by_url) == {f"{base}dumps/{name}" for name in built_kg.dumps}
    for url, dist in by_url.items():
        path = dumps_dir / url.rsplit("/", 1)[1]
        assert g.value(dist, DCAT.byteSize).toPython() == path.stat().st_size
        assert str(g.value(dist, DCAT.mediaType)).startswith("https://www.iana.org/assignments/media-types/")
        checksum = g.value(dist, SPDX.checksum)
        assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert str(g.value(checksum, SPDX.checksumValue)) == hashlib.sha256(path.read_bytes()).hexdigest()
    services = [g.value(d, DCAT.accessService) for d in g.objects(ds, DCAT.distribution)]
    sparql = URIRef(f"{base}sparql")
    assert sparql in services and (sparql, RDF.type, DCAT.DataService) in g
    assert (sparql, DCAT.endpointURL, sparql) in g and (sparql, DCAT.servesDataset, ds) in g
    sources = set(g.objects(ds, DCTERMS.source))
    assert URIRef(f"{base}id/document/000_536db8c375fb4130") in sources
    assert all((s, RDF.type, DCAT.Dataset) in g for s in sources)


def test_dcat_other_formats_and_html(client: FlaskClient, base: str) -> None:
    ttl = parse(client.get("/catalog.ttl").data, "turtle", base)
    assert len(parse(client.get("/catalog.jsonld").data, "json-ld", base)) == len(ttl)
    assert len(parse(client.get("/catalog", headers={"Accept": "application/rdf+xml"}).data, "xml", base)) == len(ttl)
    assert client.get("/catalog", headers={"Accept": "text/html"}).mimetype == "text/html"
    assert client.get("/catalog", headers={"Accept": "image/png"}).status_code == 406


def test_dataset_iri_redirects_to_its_description(client: FlaskClient) -> None:
    resp = client.get("/dataset")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/.well-known/void")


# ---- dumps --------------------------------------------------------------------------------------

def test_dumps_are_listed_with_sizes_and_matching_checksums(client: FlaskClient, dumps_dir: Path, built_kg: Any) -> None:
    listed = {d["name"]: d for d in client.get("/dumps/", headers={"Accept": "application/json"}).json["dumps"]}
    assert set(listed) == set(built_kg.dumps)
    page = client.get("/dumps/").get_data(as_text=True)
    for name, entry in listed.items():
        data = (dumps_dir / name).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        served = fetch(client, entry["url"])
        assert served.status_code == 200 and served.data == data
        sums = fetch(client, entry["checksumURL"])
        assert sums.mimetype == "text/plain" and sums.get_data(as_text=True).split() == [entry["sha256"], name]
        assert name in page and entry["sha256"] in page
    assert client.get("/dumps.json").json == client.get("/dumps/?format=json").json


def test_gzip_dumps_are_served_as_gzip_files(client: FlaskClient) -> None:
    resp = fetch(client, "/dumps/territory-kg.nq.gz")
    assert resp.mimetype == "application/gzip" and "Content-Encoding" not in resp.headers
    assert resp.data[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("path", [
    "/dumps/../../etc/passwd", "/dumps/%2e%2e/%2e%2e/etc/passwd", "/dumps/..%2f..%2fetc%2fpasswd",
    "/dumps/..%5c..%5cetc%5cpasswd", "/dumps/%2e%2e%2fbuild-info.json", "/dumps/..", "/dumps/.sha256",
    "/dumps/nothing.nq.gz", "/dumps/territory-kg.nq.gz/", "/dumps//etc/passwd", "/dumps/%00",
    "/dumps/territory-kg.nq.gz%00.sha256", "/dumps/TERRITORY-KG.NQ.GZ"])
def test_dump_traversal_attempts_are_404(client: FlaskClient, path: str) -> None:
    resp = fetch(client, path)
    assert resp.status_code == 404, path
    assert b"root:" not in resp.data


def test_dump_symlinks_are_never_followed(built_kg: Any, kg_config: dict[str, Any], dumps_dir: Path,
                                          tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    planted = tmp_path / "dumps"
    shutil.copytree(dumps_dir, planted)
    (planted / "territory-kg.nq.gz").unlink()
    os.symlink(outside, planted / "territory-kg.nq.gz")
    os.symlink(outside, planted / "planted.nq.gz")
    (planted / "planted.nq.gz.sha256").write_text("0" * 64 + "  planted.nq.gz\n")
    app = create_app({"TESTING": True, "BASE_URI": kg_config["BASE_URI"], "STORE_PATH": kg_config["STORE_PATH"],
                      "DUMPS_DIR": str(planted), "QUERY_WORKERS": 0, "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    for name in ("territory-kg.nq.gz", "planted.nq.gz", "planted.nq.gz.sha256"):
        assert fetch(client, f"/dumps/{name}").status_code == 404, name
    names = [d["name"] for d in client.get("/dumps.json").json["dumps"]]
    assert "territory-kg.nq.gz" not in names and "planted.nq.gz" not in names
    assert fetch(client, "/dumps/territory-kg.ttl.gz").status_code == 200


@pytest.mark.parametrize(("header", "status"), [("bytes=0-9", 206), ("bytes=-1", 206), ("bytes=10-", 206),
                                                ("bytes=999999999999-", 416), ("bytes=5-2", 416)])
def test_dump_ranges(client: FlaskClient, dumps_dir: Path, header: str, status: int) -> None:
    data = (dumps_dir / "territory-kg.nq.gz").read_bytes()
    resp = fetch(client, "/dumps/territory-kg.nq.gz", Range=header)
    assert resp.status_code == status, header
    if status == 206:
        spec = header.split("=")[1]
        start, _, end = spec.partition("-")
        expected = data[-int(end):] if not start else data[int(start): int(end) + 1 if end else None]
        assert resp.data == expected
        assert resp.headers["Content-Range"].endswith(f"/{len(data)}")
    else:
        assert resp.headers["Content-Range"] == f"bytes */{len(data)}"


def test_dump_many_ranges_are_not_amplified(client: FlaskClient) -> None:
    header = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 1000, 2))
    resp = fetch(client, "/dumps/territory-kg.nq.gz", Range=header)
    assert resp.status_code in (200, 416) and not resp.mimetype.startswith("multipart/")


def test_dump_conditional_get(client: FlaskClient) -> None:
    first = fetch(client, "/dumps/ontology.ttl")
    assert first.headers["Accept-Ranges"] == "bytes" and first.headers["ETag"]
    assert fetch(client, "/dumps/ontology.ttl", **{"If-None-Match": first.headers["ETag"]}).status_code == 304


# ---- sitemap ------------------------------------------------------------------------------------

def sitemap_locs(body: bytes, tag: str = "url") -> list[str]:
    root = ET.fromstring(body)
    return [e.findtext(f"{SITEMAP}loc") or "" for e in root.iter(f"{SITEMAP}{tag}")]


def test_sitemap_lists_local_page_urls(client: FlaskClient, base: str, kg_store: Any) -> None:
    resp = client.get("/sitemap.xml")
    assert resp.status_code == 200 and resp.mimetype == "application/xml"
    locs = sitemap_locs(resp.data)
    assert len(locs) == len(set(locs)) and all(loc.startswith(base) for loc in locs)
    assert f"{base}page/commune/59350" in locs and base in locs and f"{base}def/eco" in locs
    assert not any(urlsplit(loc).path.startswith("/id/") for loc in locs)
    subjects = {r["s"][1:-1] for r in kg_store.select("SELECT DISTINCT ?s { ?s ?p ?o FILTER(isIRI(?s)) }")}
    resources = {s for s in subjects if s.startswith(f"{base}id/")}
    assert {loc for loc in locs if "/page/" in loc} == {f"{base}page/{r[len(base) + 3:]}" for r in resources}
    for loc in (base, f"{base}class/Commune", f"{base}def/eco", f"{base}dumps/", f"{base}catalog"):
        assert fetch(client, urlsplit(loc).path).status_code == 200, loc


def test_sitemap_splits_into_an_index_past_the_limit(client: FlaskClient, base: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    total = len(sitemap_locs(client.get("/sitemap.xml").data))
    monkeypatch.setattr(meta, "SITEMAP_MAX_URLS", 5000)
    parts = sitemap_locs(client.get("/sitemap.xml").data, "sitemap")
    assert parts == [f"{base}sitemap-{i}.xml" for i in range(1, math.ceil(total / 5000) + 1)]
    urls = [loc for part in parts for loc in sitemap_locs(client.get(urlsplit(part).path).data)]
    assert len(urls) == total
    assert client.get(f"/sitemap-{len(parts) + 1}.xml").status_code == 404


# ---- HTTP caching -------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/class/Commune", "/def/eco", "/def/eco.ttl", "/.well-known/void", "/catalog",
                                 "/dumps/", "/sitemap.xml", "/search?q=lille", "/search/suggest?q=lil"])
def test_build_validators_and_304(client: FlaskClient, url: str, kg_config: dict[str, Any]) -> None:
    resp = client.get(url)
    assert resp.status_code == 200
    etag, modified = resp.headers["ETag"], resp.headers["Last-Modified"]
    assert "public" in resp.headers["Cache-Control"] and "max-age" in resp.headers["Cache-Control"]
    built = json.loads((Path(kg_config["STORE_PATH"]).parent / "build-info.json").read_text())["built"]
    assert resp.last_modified is not None and resp.last_modified.strftime("%Y-%m-%dT%H:%M:%SZ") == built
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_variants_have_distinct_etags(client: FlaskClient) -> None:
    tags = {client.get("/def/eco", headers={"Accept": mt}).headers["ETag"] for mt in (*RDF_FORMATS, "text/html")}
    assert len(tags) == 5
    assert client.get("/?lang=en").headers["ETag"] != client.get("/?lang=fr").headers["ETag"]
    assert "Accept-Language" in client.get("/").headers["Vary"]


def test_language_choice_is_remembered_across_both_blueprints(app: Flask) -> None:
    """``?lang=`` on a metadata page sets the ``lang`` cookie, as resource pages do, and either
    blueprint's cookie chooses the language of the other's pages."""
    client = app.test_client()
    chosen = client.get("/?lang=fr", headers={"Accept-Language": "en"})
    assert 'lang="fr"' in chosen.get_data(as_text=True)
    assert "lang=fr" in chosen.headers["Set-Cookie"] and "private" in chosen.headers["Cache-Control"]
    for path in ("/class/Commune", "/search?q=lille", "/page/commune/59350"):
        assert '<html lang="fr"' in client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True), path
    other = app.test_client()
    other.get("/page/commune/59350?lang=fr")
    assert '<html lang="fr"' in other.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en"' in other.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in other.get("/class/Commune").get_data(as_text=True)  # the new choice holds


# --- Accept values with media-type parameters (charset, level…) negotiate like the bare type ---

@pytest.mark.parametrize(("path", "accept", "media_type"), [
    ("/def/eco", "text/html; charset=utf-8", "text/html"),
    ("/def/eco", "text/html;charset=utf-8, text/turtle;q=0.5", "text/html"),
    ("/def/eco", "text/turtle;charset=utf-8", "text/turtle"),
    ("/def/eco", "text/turtle;charset=utf-8, text/html;q=0.5", "text/turtle"),
    ("/def/eco", "application/ld+json; profile=\"http://www.w3.org/ns/json-ld#compacted\"", "application/ld+json"),
    ("/.well-known/void", "text/html; charset=utf-8", "text/html"),
    ("/.well-known/void", "text/html;charset=utf-8, text/turtle;q=0.5", "text/html"),
    ("/.well-known/void", "application/rdf+xml;charset=utf-8", "application/rdf+xml"),
    ("/catalog", "text/html; charset=utf-8", "text/html"),
    ("/catalog", "application/n-triples; charset=utf-8, text/html;q=0.1", "application/n-triples"),
    ("/search?q=lille", "application/json; charset=utf-8", "application/json"),
    ("/search?q=lille", "text/html; charset=utf-8, application/json;q=0.5", "text/html"),
    ("/dumps/", "application/json; charset=utf-8", "application/json"),
    ("/dumps/", "text/html;charset=utf-8", "text/html"),
])
def test_accept_parameters_choose_like_the_bare_type(client: FlaskClient, path: str, accept: str,
                                                     media_type: str) -> None:
    resp = client.get(path, headers={"Accept": accept})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == media_type
    bare = client.get(path, headers={"Accept": ",".join(part.split(";")[0] + (";q=" + part.rsplit("q=", 1)[1]
                                                                            if "q=" in part else "")
                                                          for part in accept.split(","))})
    assert bare.mimetype == media_type and bare.data == resp.data


@pytest.mark.parametrize("path", ["/def/eco", "/.well-known/void", "/catalog"])
def test_unacceptable_with_parameters_is_406(client: FlaskClient, path: str) -> None:
    assert client.get(path, headers={"Accept": "image/png; charset=utf-8"}).status_code == 406
