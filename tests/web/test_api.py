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
from service.store import executor
from tests.web.backends import BACKENDS, backend_config

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


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, built_kg: Any, kg_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(backend_config(request, kg_config))
    yield app
    executor.shutdown(app)


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


#: What Virtuoso 7.2 refuses (README, "SPARQL endpoint"), with the words of its refusal. Its cost
#: estimator refused relationships-between while the node labels were joined after the union of
#: the path lengths; with each length's labels in its own branch it answers (and agrees).
REMOTE_REFUSES: dict[str, str] = {}
#: Virtuoso 7.2 answers these wrongly (README): the rows it returns, asserted so a change shows.
REMOTE_WRONG: dict[str, list[str]] = {"search-by-label": []}  # accent folding (REPLACE of LCASE) finds nothing


def at_least(app: Flask, name: str) -> int:
    """The fewest rows ``name`` must return on this app's backend (Virtuoso's known wrong answers apart)."""
    return len(REMOTE_WRONG[name]) if app.config["BACKEND"] == "remote" and name in REMOTE_WRONG else AT_LEAST[name]


def refused_remotely(app: Flask, name: str, resp: Any) -> bool:
    """Whether ``resp`` is the documented refusal of ``name`` by the remote engine (checked in full)."""
    if app.config["BACKEND"] != "remote" or name not in REMOTE_REFUSES:
        return False
    assert resp.status_code == 502 and resp.mimetype == "application/problem+json"
    assert REMOTE_REFUSES[name] in resp.get_json()["detail"]
    return True


def test_every_query_has_expectations() -> None:
    assert len(NAMES) >= 20 and set(NAMES) == set(AT_LEAST)


@pytest.mark.parametrize("name", NAMES)
def test_every_query_runs_in_json_and_csv(client: FlaskClient, name: str) -> None:
    query = QUERIES.get(name)
    params = {**query.example, "limit": "10000"}
    resp = client.get(f"/api/queries/{name}", query_string={**params, "format": "json"})
    if refused_remotely(client.application, name, resp):
        return
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    data = resp.get_json() if query.returns == "table" else json.loads(resp.data)
    if query.returns == "table":
        assert resp.mimetype == "application/sparql-results+json"
        assert data["head"]["vars"] == list(query.variables)
        assert len(data["results"]["bindings"]) >= at_least(client.application, name)
    else:
        assert resp.mimetype == "application/ld+json" and data
    resp = client.get(f"/api/queries/{name}", query_string={**params, "format": "csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) - 1 >= at_least(client.application, name)


@pytest.mark.parametrize("name", NAMES)
def test_every_query_runs_from_the_command_line(app: Flask, name: str) -> None:
    query = QUERIES.get(name)
    args = ["query", name] + [f"--param={k}={v}" for k, v in query.example.items()]
    result = app.test_cli_runner().invoke(args=args + ["--format", "json"])
    if app.config["BACKEND"] == "remote" and name in REMOTE_REFUSES:
        assert result.exit_code == 1 and REMOTE_REFUSES[name] in result.stderr, result.output
        return
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (len(data) if query.returns == "table" else bool(data)) >= (at_least(app, name) if query.returns == "table" else 1)
    result = app.test_cli_runner().invoke(args=args + ["--format", "csv"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) - 1 >= at_least(app, name)
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


@pytest.fixture(scope="module")
def apps_by_backend(request: pytest.FixtureRequest, built_kg: Any,
                    kg_config: dict[str, Any]) -> Iterator[dict[str, Flask]]:
    """One app per backend, side by side (the ``app`` fixture gives one at a time)."""
    apps = {}
    for name in BACKENDS:
        apps[name] = create_app(backend_config(request, kg_config, name))
    yield apps
    for each in apps.values():
        executor.shutdown(each)


#: GROUP_CONCAT columns: SPARQL leaves their order open, so they are compared as sets of words.
UNORDERED = {"structures-serving-industry": ("kinds",), "real-estate-offers": ("flags",)}


def _as_virtuoso_prints(row: dict[str, Any]) -> dict[str, Any]:
    """A row of the embedded engine as Virtuoso 7.2 prints the same values (README): booleans
    computed by expressions as 1/0, integral decimals as integers, an empty GROUP_CONCAT as ""."""
    out = {}
    for key, value in row.items():
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        out[key] = value
    return out


def _rows(name: str, rows: list[dict[str, Any]], remote: bool) -> list[str]:
    out = []
    for row in rows:
        row = {k: " ".join(sorted(v.split())) if k in UNORDERED.get(name, ()) and v else v for k, v in row.items()}
        if not remote:
            row = _as_virtuoso_prints(row)
            if name == "real-estate-offers" and row["labels"] is None:
                row["labels"] = ""  # the empty GROUP_CONCAT of a figure without labels
        out.append(json.dumps(row, sort_keys=True))
    return sorted(out)


@pytest.mark.parametrize("name", NAMES)
def test_every_query_gives_the_same_answer_on_both_backends(apps_by_backend: dict[str, Flask], name: str) -> None:
    """Not only "some rows": the remote engine returns exactly the embedded engine's answer,
    up to the printing quirks of Virtuoso 7.2 stated in :func:`_as_virtuoso_prints`."""
    query = QUERIES.get(name)
    fmt = "records" if query.returns == "table" else "ntriples"
    params = {**query.example, "limit": "10000", "format": fmt}
    answers = {b: app.test_client().get(f"/api/queries/{name}", query_string=params) for b, app in apps_by_backend.items()}
    if refused_remotely(apps_by_backend["remote"], name, answers["remote"]):
        return
    assert {b: r.status_code for b, r in answers.items()} == {"oxigraph": 200, "remote": 200}
    if query.returns == "table":
        local = _rows(name, answers["oxigraph"].get_json(), remote=False)
        remote = _rows(name, answers["remote"].get_json(), remote=True)
    else:
        local, remote = (sorted(set(r.get_data(as_text=True).splitlines())) for r in answers.values())
    assert local
    if name in REMOTE_WRONG:
        assert remote == REMOTE_WRONG[name] != local
    else:
        assert remote == local


def test_a_path_of_two_links_has_no_second_node(client: FlaskClient) -> None:
    """via ID is in Lille, which is in the Nord: paths of two links go through Lille and bind no
    ?node2. (Written with the node labels as OPTIONALs after the union of the path lengths, the
    label of ?node2 matched every labelled resource on those rows.)"""
    resp = client.get("/api/queries/relationships-between", query_string={
        "from": "organization/via-id", "to": "departement/59", "format": "records", "limit": "10000"})
    if refused_remotely(client.application, "relationships-between", resp):
        return
    assert resp.status_code == 200, resp.get_data(as_text=True)
    rows = resp.get_json()
    two = [r for r in rows if r["length"] == 2]
    assert two and {r["node1"] for r in two} == {client.application.config["BASE_URI"] + "id/commune/59350"}, rows
    assert all(r["node1Label"] == "Lille" and r["node2"] is None and r["node2Label"] is None for r in two), two
    assert len(rows) < 50


RUNAWAY_RQ = """#+ summary:
#+   en: Every triple with every pair of triples
#+   fr: Chaque triplet avec chaque paire de triplets
#+ description:
#+   en: A runaway query, for the test of the hard timeout.
#+   fr: Une requête sans fin, pour le test du délai maximal.
#+ tags: [test]
#+ returns: table
SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }
"""


def test_named_queries_run_in_the_killable_workers(built_kg: Any, kg_config: dict[str, Any], tmp_path: Any) -> None:
    """Named queries go through the /sparql engine: same answers, and a runaway one is stopped
    at the hard timeout (503, its worker killed and replaced) instead of holding the server."""
    import shutil
    import time

    from service.config import PROJECT_ROOT

    folder = tmp_path / "queries"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "queries" / "source-documents.rq", folder)
    shutil.copy(PROJECT_ROOT / "queries" / "communes-of-epci.rq", folder)
    (folder / "runaway.rq").write_text(RUNAWAY_RQ)
    pool = create_app({**kg_config, "TESTING": True, "QUERY_WORKERS": 1, "QUERY_TIMEOUT": 2, "QUERIES_DIR": str(folder)})
    inproc = create_app({**kg_config, "TESTING": True, "QUERY_WORKERS": 0, "QUERIES_DIR": str(folder)})
    try:
        for url in ("/api/queries/source-documents?format=records",
                    "/api/queries/communes-of-epci?epci=epci/200093201&format=csv&limit=7&offset=3"):
            answers = [app.test_client().get(url) for app in (pool, inproc)]
            assert [a.status_code for a in answers] == [200, 200] and answers[0].data == answers[1].data
            assert answers[0].headers.get("Link") == answers[1].headers.get("Link")
        workers = set(pool.extensions["kg_engine"][1].pids())
        started = time.monotonic()
        resp = pool.test_client().get("/api/queries/runaway")
        assert time.monotonic() - started < 2 + 3  # bounded: the timeout plus the kill and replacement
        assert resp.status_code == 503 and resp.mimetype == "application/problem+json"
        assert "exceeded the 2 s limit" in resp.get_json()["detail"]
        assert not workers & set(pool.extensions["kg_engine"][1].pids())  # killed and replaced
        assert pool.test_client().get("/api/queries/source-documents").status_code == 200
    finally:
        executor.shutdown(pool)
        executor.shutdown(inproc)
