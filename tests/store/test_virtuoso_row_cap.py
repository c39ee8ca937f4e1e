"""Virtuoso's default ``ResultSetMaxRows`` (10,000) cuts answers with HTTP 200: the service
detects it and refuses (502), never passing a truncated answer on as complete.

The shared test instances raise the cap (``tests/virtuoso.py``); this one keeps the
package's default, as a production install would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.errors import UpstreamError
from service.store.remote import RemoteStore
from tests.virtuoso import TEST_SETTINGS, Virtuoso, ensure_installed, start

PREFIX = "http://cap.test/graph/"


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Virtuoso]:
    ensure_installed()
    instance = start(tmp_path_factory.mktemp("virtuoso-capped"),
                     settings={"SPARQL": {**TEST_SETTINGS["SPARQL"], "ResultSetMaxRows": "10000"}})
    try:
        store = RemoteStore(instance.sparql_url, update_url=instance.sparql_url, graph_prefix=PREFIX)
        lines = [f'<http://cap.test/id/{i}> <http://cap.test/p> "{i}" <{PREFIX}g> .' for i in range(150)]
        assert store.load_nquads("\n".join(lines).encode()) == 150
        yield instance
    finally:
        instance.stop()


def test_the_instance_really_caps_at_10000(capped: Virtuoso) -> None:
    """The control: asked directly, Virtuoso returns 10,000 of the 22,500 rows with a 200."""
    import json
    import urllib.parse
    import urllib.request

    query = "SELECT ?a ?b WHERE { ?a <http://cap.test/p> ?x . ?b <http://cap.test/p> ?y }"
    url = capped.sparql_url + "?" + urllib.parse.urlencode({"query": query, "default-graph-uri": PREFIX + "g"})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status == 200
        assert len(json.load(resp)["results"]["bindings"]) == 10_000


@pytest.mark.parametrize("query", [
    "SELECT ?a ?b WHERE { ?a <http://cap.test/p> ?x . ?b <http://cap.test/p> ?y }",
    "CONSTRUCT { ?a <http://cap.test/q> ?b } WHERE { ?a <http://cap.test/p> ?x . ?b <http://cap.test/p> ?y }",
])
def test_truncated_answers_are_refused(capped: Virtuoso, query: str) -> None:
    store = RemoteStore(capped.sparql_url, graph_prefix=PREFIX, read_timeout=60)
    with pytest.raises(UpstreamError) as caught:
        store.execute(query, result_format="application/sparql-results+json", graph_format="application/n-triples")
    assert caught.value.status == 502 and ("row limit 10000" in caught.value.message or
                                           "10,001 triples, at its row limit" in caught.value.message)


def test_through_the_endpoint_it_is_a_502_not_a_short_200(capped: Virtuoso, tmp_path: Any) -> None:
    from service import create_app

    app = create_app({"TESTING": True, "BASE_URI": "http://cap.test/", "BACKEND": "remote", "QUERY_WORKERS": 0,
                      "SPARQL_URL": capped.sparql_url, "STORE_PATH": str(tmp_path / "none"), "LOG_LEVEL": "ERROR",
                      "QUERY_MAX_ROWS": 100_000})
    resp = app.test_client().get("/sparql", query_string={
        "query": "SELECT ?a ?b WHERE { ?a <http://cap.test/p> ?x . ?b <http://cap.test/p> ?y }", "format": "csv"})
    assert resp.status_code == 502 and resp.mimetype == "text/plain"
    assert "incomplete" in resp.get_data(as_text=True) or "row limit" in resp.get_data(as_text=True)
