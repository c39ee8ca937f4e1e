"""The response cache (service/web/cache.py): same answers, invalidated by a new build or a write.

A small store of its own (with a ``build-info.json`` the tests rewrite), in-process queries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.store import executor
from service.web.cache import response_cache

BASE = "http://kg.test/"
DATA = f"""
@prefix eco: <{BASE}def/eco#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{BASE}id/commune/59350> a eco:Commune ; rdfs:label "Lille"@fr .
<{BASE}id/commune/59009> a eco:Commune ; rdfs:label "Villeneuve-d'Ascq"@fr .
<{BASE}id/departement/59> a eco:Departement ; rdfs:label "Nord"@fr .
eco:Commune a <http://www.w3.org/2002/07/owl#Class> . eco:Departement a <http://www.w3.org/2002/07/owl#Class> .
"""
QUERY = f"SELECT ?s ?l WHERE {{ ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }} ORDER BY ?s"
JSON = "application/sparql-results+json"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cache") / "store"
    store = ox.Store(str(path))
    store.load(DATA.encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(f"{BASE}graph/backbone"))
    store.flush()
    del store
    (path.parent / "build-info.json").write_text(json.dumps({"version": "test", "built": "2026-01-01T00:00:00Z"}))
    return path


def _app(store_path: Path, **overrides: Any) -> Flask:
    return create_app({"TESTING": True, "BASE_URI": BASE, "STORE_PATH": str(store_path), "QUERY_WORKERS": 0,
                       "LOG_LEVEL": "WARNING", **overrides})


@pytest.fixture()
def app(store_path: Path) -> Iterator[Flask]:
    app = _app(store_path)
    yield app
    executor.shutdown(app)


@pytest.fixture(scope="module")
def uncached(store_path: Path) -> Iterator[FlaskClient]:
    app = _app(store_path, RESPONSE_CACHE_BYTES=0)
    yield app.test_client()
    executor.shutdown(app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _size(app: Flask) -> int:
    with app.app_context():
        cache = response_cache()
        assert cache is not None
        return len(cache)


@pytest.mark.parametrize("accept", [JSON, "application/sparql-results+xml", "text/csv", "text/tab-separated-values"])
def test_cached_answer_equals_the_uncached_one(client: FlaskClient, uncached: FlaskClient, accept: str) -> None:
    reference = uncached.get("/sparql", query_string={"query": QUERY}, headers={"Accept": accept})
    assert reference.status_code == 200 and "X-Cache" not in reference.headers
    first = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": accept})
    second = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": accept})
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    for resp in (first, second):
        assert resp.status_code == 200
        assert resp.data == reference.data and b"Lille" in resp.data
        assert resp.headers["Content-Type"] == reference.headers["Content-Type"]
        assert "Accept" in resp.headers.get("Vary", "")
        assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_get_and_post_share_the_answer(client: FlaskClient) -> None:
    first = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON})
    form = client.post("/sparql", data={"query": QUERY}, headers={"Accept": JSON})
    direct = client.post("/sparql", data=QUERY.encode(), headers={"Accept": JSON,
                                                                   "Content-Type": "application/sparql-query"})
    assert [r.headers["X-Cache"] for r in (first, form, direct)] == ["miss", "hit", "hit"]
    assert first.data == form.data == direct.data


def test_content_negotiation_and_dataset_are_in_the_key(client: FlaskClient) -> None:
    as_json = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON})
    as_xml = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": "application/sparql-results+xml"})
    by_format = client.get("/sparql", query_string={"query": QUERY, "format": "json"})
    assert [r.headers["X-Cache"] for r in (as_json, as_xml, by_format)] == ["miss", "miss", "hit"]
    assert as_json.headers["Content-Type"].startswith(JSON) and as_xml.data.startswith(b"<?xml")
    assert by_format.data == as_json.data
    other_graph = client.get("/sparql", query_string={"query": QUERY, "default-graph-uri": f"{BASE}graph/none"},
                             headers={"Accept": JSON})
    assert other_graph.headers["X-Cache"] == "miss" and b"Lille" not in other_graph.data
    spaced = client.get("/sparql", query_string={"query": QUERY + " "}, headers={"Accept": JSON})
    assert spaced.headers["X-Cache"] == "miss"  # keyed on the exact text


def test_a_write_generation_invalidates(app: Flask, client: FlaskClient) -> None:
    assert client.get("/sparql", query_string={"query": QUERY}).headers["X-Cache"] == "miss"
    assert client.get("/sparql", query_string={"query": QUERY}).headers["X-Cache"] == "hit"
    app.extensions["kg_data_generation"] = app.extensions.get("kg_data_generation", 0) + 1
    assert client.get("/sparql", query_string={"query": QUERY}).headers["X-Cache"] == "miss"
    assert client.get("/sparql", query_string={"query": QUERY}).headers["X-Cache"] == "hit"


def test_a_new_build_invalidates(store_path: Path, client: FlaskClient) -> None:
    assert client.get("/api/queries/counts-per-class").headers["X-Cache"] == "miss"
    assert client.get("/api/queries/counts-per-class").headers["X-Cache"] == "hit"
    info = store_path.parent / "build-info.json"
    info.write_text(json.dumps({"version": "test", "built": "2026-01-02T00:00:00Z", "rebuilt": True}))
    assert client.get("/api/queries/counts-per-class").headers["X-Cache"] == "miss"


def test_named_query_api(client: FlaskClient, uncached: FlaskClient) -> None:
    url = "/api/queries/counts-per-class"
    reference = uncached.get(url, query_string={"format": "records"})
    first = client.get(url, query_string={"format": "records"})
    second = client.get(url, query_string={"format": "records"})
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.data == second.data == reference.data and b"Commune" in first.data
    assert second.headers["Content-Type"] == reference.headers["Content-Type"]
    assert second.headers["Vary"] == "Accept" and second.headers["Access-Control-Allow-Origin"] == "*"
    as_csv = client.get(url, headers={"Accept": "text/csv"})
    assert as_csv.headers["X-Cache"] == "miss" and as_csv.headers["Content-Type"].startswith("text/csv")
    paged = client.get(url, query_string={"format": "records", "limit": "1"})
    assert paged.headers["X-Cache"] == "miss" and paged.data != first.data
    assert client.get(url, query_string={"format": "records", "limit": "1"}).headers["Link"] == paged.headers["Link"]


def test_errors_are_not_cached(app: Flask, client: FlaskClient) -> None:
    for _ in range(2):
        bad = client.get("/sparql", query_string={"query": "SELECT WHERE {"})
        assert bad.status_code == 400 and "X-Cache" not in bad.headers
        missing = client.get("/api/queries/counts-per-class", query_string={"format": "nope"})
        assert missing.status_code == 400 and "X-Cache" not in missing.headers
        unknown = client.get("/api/queries/no-such-query")
        assert unknown.status_code == 404 and "X-Cache" not in unknown.headers
    assert _size(app) == 0


def test_size_bound(store_path: Path) -> None:
    app = _app(store_path, RESPONSE_CACHE_BYTES=4000)
    try:
        client = app.test_client()
        for n in range(30):
            resp = client.get("/sparql", query_string={"query": QUERY + f" LIMIT {n + 1}"}, headers={"Accept": JSON})
            assert resp.status_code == 200
        with app.app_context():
            cache = response_cache()
            assert cache is not None
            assert 0 < cache.size <= 4000 and len(cache) < 30
        newest = client.get("/sparql", query_string={"query": QUERY + " LIMIT 30"}, headers={"Accept": JSON})
        oldest = client.get("/sparql", query_string={"query": QUERY + " LIMIT 1"}, headers={"Accept": JSON})
        assert (newest.headers["X-Cache"], oldest.headers["X-Cache"]) == ("hit", "miss")
    finally:
        executor.shutdown(app)


def test_off_on_the_remote_backend(store_path: Path) -> None:
    """The remote engine's data can change outside this process: its answers are never cached."""
    local = create_app({"TESTING": True, "STORE_PATH": str(store_path), "QUERY_WORKERS": 0})
    remote = create_app({"TESTING": True, "STORE_PATH": str(store_path), "QUERY_WORKERS": 0,
                         "BACKEND": "remote", "SPARQL_URL": "http://127.0.0.1:9/sparql"})
    with local.app_context():
        assert response_cache() is not None
    with remote.app_context():
        assert response_cache() is None


def _coalesced(app: Flask, compute: Any, followers: int = 3) -> tuple[list[Any], list[int]]:
    """Run ``cached`` on one key from 1 + ``followers`` threads, the first one held in
    ``compute`` until every follower waits for it; return what each got and the call count."""
    import threading
    import time

    from service.web.cache import cached

    release = threading.Event()
    calls: list[int] = []
    got: list[Any] = []

    def first_compute() -> Any:
        calls.append(1)
        assert release.wait(30)
        return compute()

    def ask() -> None:
        with app.app_context():
            try:
                resp = cached(("test", "coalesce"), first_compute)
                got.append((resp.status_code, resp.get_data(), resp.headers.get("X-Cache")))
            except Exception as exc:  # noqa: BLE001 - the test compares them
                got.append(exc)

    threads = [threading.Thread(target=ask)]
    threads[0].start()
    while not calls:
        time.sleep(0.01)
    with app.app_context():
        flight = response_cache()._flights[(0, "test", "coalesce")]  # type: ignore[union-attr]
    threads += [threading.Thread(target=ask) for _ in range(followers)]
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 30
    while flight.waiters < followers:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(30)
    return got, calls


def test_concurrent_identical_requests_run_once(app: Flask) -> None:
    from flask import Response

    got, calls = _coalesced(app, lambda: Response(b"answer", mimetype="text/plain"))
    assert calls == [1]
    assert sorted(got, key=str) == [(200, b"answer", "hit")] * 3 + [(200, b"answer", "miss")]


def test_the_waiting_requests_get_the_first_ones_error(app: Flask) -> None:
    from service.errors import QueryTimeout

    def fail() -> Any:
        raise QueryTimeout("too slow")

    got, calls = _coalesced(app, fail)
    assert calls == [1]
    assert len(got) == 4 and all(isinstance(e, QueryTimeout) and str(e) == "too slow" for e in got)
    assert len({id(e) for e in got}) == 4  # each its own exception object


def test_an_answer_too_large_to_keep_is_still_shared(store_path: Path) -> None:
    from flask import Response

    app = _app(store_path, RESPONSE_CACHE_BYTES=80)  # keeps answers up to 10 bytes
    try:
        got, calls = _coalesced(app, lambda: Response(b"x" * 50, mimetype="text/plain"))
        assert calls == [1] and [g[1] for g in got] == [b"x" * 50] * 4
        with app.app_context():
            assert len(response_cache()) == 0  # type: ignore[arg-type]
    finally:
        executor.shutdown(app)
