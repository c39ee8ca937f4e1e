"""The named-query API and command line on the real graph (built once per session)."""

from __future__ import annotations

import re

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.catalogue import load_catalogue
from service.config import DEFAULTS

QUERIES = load_catalogue(DEFAULTS["QUERIES_DIR"])
NAMES = sorted(q.name for q in QUERIES)
#: Fewest rows (tables) or triples (graphs) each query gives with its example on the real graph.
AT_LEAST = {
    "cited-for": 4, "communes-of-epci": 95, "counts-per-class": 30, "data-gaps": 6, "figure-provenance": 1,
    "figures-of-territory": 10, "figures-with-sources": 3, "flagged-figures": 25, "industries-with-codes": 28,
    "industry-scheme": 30, "labs-and-universities": 3, "market-drivers": 7, "organisations-in-territory": 5,
    "population-of-territory": 3, "programmes-and-labels": 5, "provenance-graph": 20, "real-estate-offers": 10,
    "region-rankings": 5, "relationships-between": 1, "search-by-label": 1, "sectors-of-excellence": 7,
    "source-documents": 6, "statements-about": 5, "structures-serving-industry": 2, "territory-breadcrumbs": 4,
}


@pytest.fixture(scope="module")
def app(built_kg: Any, kg_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app({**kg_config, "TESTING": True, "QUERY_WORKERS": 0})
    yield app


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def triple_count(client: FlaskClient) -> int:
    resp = client.get("/api/queries/counts-per-class?format=records")  # warms the store up
    assert resp.status_code == 200
    from service.store import get_store

    with client.application.app_context():
        rows = get_store().select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    return int(rows[0]["n"].split('"')[1])


def test_every_query_has_expectations() -> None:
    assert len(NAMES) >= 20 and set(NAMES) == set(AT_LEAST)


@pytest.mark.parametrize("name", NAMES)
def test_every_query_runs_in_json_and_csv(client: FlaskClient, name: str) -> None:
    query = QUERIES.get(name)
    params = {**query.example, "limit": "10000"}
    resp = client.get(f"/api/queries/{name}", query_string={**params, "format": "json"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    data = resp.get_json() if query.returns == "table" else json.loads(resp.data)
    if query.returns == "table":
        assert resp.mimetype == "application/sparql-results+json"
        assert data["head"]["vars"] == list(query.variables)
        assert len(data["results"]["bindings"]) >= AT_LEAST[name]
    else:
        assert resp.mimetype == "application/ld+json" and data
    resp = client.get(f"/api/queries/{name}", query_string={**params, "format": "csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) - 1 >= AT_LEAST[name]


@pytest.mark.parametrize("name", NAMES)
def test_every_query_runs_from_the_command_line(app: Flask, name: str) -> None:
    query = QUERIES.get(name)
    args = ["query", name] + [f"--param={k}={v}" for k, v in query.example.items()]
    result = app.test_cli_runner().invoke(args=args + ["--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (len(data) if query.returns == "table" else bool(data)) >= (AT_LEAST[name] if query.returns == "table" else 1)
    result = app.test_cli_runner().invoke(args=args + ["--format", "csv"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) - 1 >= AT_LEAST[name]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0 and result.stdout.splitlines()[1].startswith("---")


def test_records_tsv_and_accept(client: FlaskClient) -> None:
    url = "/api/queries/communes-of-epci?epci=epci/200093201&limit=1"
    records = client.get(url, headers={"Accept": "application/json"})
    assert records.mimetype == "application/json"
    assert records.get_json()[0]["name"] == "Lille" and records.get_json()[0]["population"] > 200_000
    tsv = client.get(url, headers={"Accept": "text/tab-separated-values"})
    assert tsv.get_data(as_text=True).startswith("?epci\t?commune")
    turtle = client.get("/api/queries/industry-scheme?industry=industry/textiles")
    assert turtle.mimetype == "text/turtle" and b"Technical textiles" in turtle.data
    assert client.get(url, headers={"Accept": "image/png"}).status_code == 406
    bad = client.get(url + "&format=xlsx")
    assert bad.status_code == 400 and bad.get_json()["code"] == "unknown-format"


def test_catalogue_json(client: FlaskClient) -> None:
    data = client.get("/api/queries").get_json()
    assert [q["name"] for q in data] == NAMES
    entry = next(q for q in data if q["name"] == "data-gaps")
    assert set(entry["summary"]) == set(entry["description"]) == {"en", "fr"}
    assert entry["returns"] == "table" and entry["formats"] == ["json", "records", "csv", "tsv"]
    assert entry["params"][0]["enum"][0] == "eco:areaInferred" and entry["params"][0]["required"] is False


def test_openapi_validates_and_covers_every_query(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    for name in NAMES:
        operation = doc["paths"][f"/api/queries/{name}"]["get"]
        declared = {p["name"] for p in operation["parameters"] if "name" in p}
        assert {p.name for p in QUERIES.get(name).params} <= declared and "format" in declared
        assert "text/csv" in operation["responses"]["200"]["content"]
    flag = next(p for p in doc["paths"]["/api/queries/flagged-figures"]["get"]["parameters"] if p.get("name") == "flag")
    assert "eco:valueMissing" in flag["schema"]["enum"] and flag["example"] == "eco:areaInferred"


def test_docs_page_is_local(client: FlaskClient) -> None:
    resp = client.get("/api/docs")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and all(f'id="{name}"' in page for name in NAMES)
    # Only the project's own static scripts (the search box on every page); nothing inline or remote.
    assert not re.search(r'<script(?![^>]*src="/static/)', page) and "cdn" not in page.lower()


def test_pagination_links(client: FlaskClient) -> None:
    base = "/api/queries/communes-of-epci?epci=epci/200093201&format=records"
    first = client.get(base + "&limit=40")
    assert len(first.get_json()) == 40 and 'rel="next"' in first.headers["Link"]
    assert "offset=40" in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    nxt = first.headers["Link"].split(">")[0].lstrip("<")
    second = client.get(nxt)
    assert second.status_code == 200 and 'rel="prev"' in second.headers["Link"]
    assert {r["commune"] for r in second.get_json()}.isdisjoint({r["commune"] for r in first.get_json()})
    last = client.get(base + "&limit=40&offset=80")
    assert len(last.get_json()) == 15 and 'rel="next"' not in last.headers.get("Link", "")
    clamped = client.get(base + "&limit=99999999")
    assert clamped.status_code == 200 and len(clamped.get_json()) == 95


@pytest.mark.parametrize(("url", "status", "code", "words"), [
    ("/api/queries/no-such-query", 404, "not-found", "No named query"),
    ("/api/queries/communes-of-epci", 400, "missing-parameters", "epci"),
    ("/api/queries/communes-of-epci?epci=epci/200093201&colour=red", 400, "unknown-parameters", "Allowed: epci"),
    ("/api/queries/data-gaps?flag=eco:foo", 400, "invalid-parameter", "must be one of: eco:areaInferred"),
    ("/api/queries/industries-with-codes?lang=de", 400, "invalid-parameter", "must be one of: en, fr"),
    ("/api/queries/industries-with-codes?lang=en%22@", 400, "invalid-parameter", "language tag"),
    ("/api/queries/real-estate-offers?max_rent=cheap", 400, "invalid-parameter", "'max_rent' must be a decimal"),
    ("/api/queries/source-documents?limit=abc", 400, "invalid-parameter", "'limit'"),
    ("/api/queries/source-documents?limit=-1", 400, "invalid-parameter", "'limit'"),
    ("/api/queries/source-documents?offset=1e9", 400, "invalid-parameter", "'offset'"),
    ("/api/queries/data-gaps?flag=eco:valueMissing&flag=eco:areaInferred", 400, "invalid-parameter", "more than once"),
])
def test_errors_are_problem_json(client: FlaskClient, url: str, status: int, code: str, words: str) -> None:
    resp = client.get(url)
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["code"] == code and body["status"] == status and words in body["detail"]


@pytest.mark.parametrize("payload", ['x" } ; DROP ALL ; #', 'x"@en . ?s ?p ?o #', "') } UNION { ?s ?p ?o } #"])
def test_literal_injection_through_the_api(client: FlaskClient, payload: str) -> None:
    before = triple_count(client)
    resp = client.get("/api/queries/search-by-label", query_string={"text": payload, "format": "json"})
    assert resp.status_code == 200
    assert resp.get_json()["head"]["vars"] == list(QUERIES.get("search-by-label").variables)
    assert resp.get_json()["results"]["bindings"] == []
    assert triple_count(client) == before


@pytest.mark.parametrize("payload", ["http://ex.org/a> } UNION { ?s ?p ?o } #", "http://ex.org/a\\u003E",
                                     "http://ex.org/a b", "javascript:alert(1)", "file:///etc/passwd", "../x"])
def test_iri_injection_is_refused(client: FlaskClient, payload: str) -> None:
    resp = client.get("/api/queries/territory-breadcrumbs", query_string={"place": payload})
    assert resp.status_code == 400 and "absolute http(s) IRI" in resp.get_json()["detail"]
    assert resp.get_json()["parameter"] == "place"


def test_huge_value_is_413_and_store_unchanged(client: FlaskClient) -> None:
    before = triple_count(client)
    resp = client.get("/api/queries/search-by-label", query_string={"text": "x" * 1_000_000})
    assert resp.status_code == 413 and resp.get_json()["code"] == "too-large"
    assert triple_count(client) == before


def test_cli_lists_queries_and_explains_errors(app: Flask) -> None:
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["queries"])
    assert listing.exit_code == 0 and all(name in listing.stdout for name in NAMES)
    bad = runner.invoke(args=["query", "data-gaps", "--param", "flag=eco:nope"])
    assert bad.exit_code == 2 and "must be one of" in bad.stderr and "Traceback" not in bad.output
    unknown = runner.invoke(args=["query", "nope"])
    assert unknown.exit_code == 2 and "No named query" in unknown.stderr


def test_cli_sparql(app: Flask, tmp_path: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?s a <http://kg.test/def/eco#Region> }",
                                 "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == [{"n": 1}]
    path = tmp_path / "q.rq"
    path.write_text("ASK { ?s a <http://kg.test/def/eco#Commune> }")
    assert runner.invoke(args=["sparql", "-f", str(path)]).stdout.strip() == "true"
    bad = runner.invoke(args=["sparql", "SELEC x"])
    assert bad.exit_code == 2 and "syntax error" in bad.stderr and "Traceback" not in bad.output
