"""``Accept`` values with media-type parameters (``text/turtle; charset=utf-8``), as common
clients send them, over HTTP: /sparql answers, the service description, the Graph Store.

Parameters other than ``q`` are ignored for matching; q-values still decide.
"""

from __future__ import annotations

import pytest
from flask import Flask

DATA1 = "http://kasei.us/2009/09/sparql/data/data1.rdf"
SELECT = "SELECT ?s { ?s ?p ?o }"
CONSTRUCT = "CONSTRUCT WHERE { ?s ?p ?o }"


@pytest.mark.parametrize(("query", "accept", "expected"), [
    (SELECT, "application/sparql-results+json;charset=UTF-8", "application/sparql-results+json"),
    (SELECT, "application/sparql-results+xml; charset=utf-8", "application/sparql-results+xml"),
    (SELECT, "application/sparql-results+xml; charset=utf-8; q=0.5, text/csv; header=present; q=0.9", "text/csv"),
    ("ASK {}", "application/json; charset=utf-8", "application/sparql-results+json"),
    (CONSTRUCT, "text/turtle; charset=utf-8", "text/turtle"),
    (CONSTRUCT, "application/n-triples;charset=utf-8;q=0.1, application/rdf+xml;q=0.5", "application/rdf+xml"),
    (CONSTRUCT, 'application/ld+json; profile="http://www.w3.org/ns/json-ld#compacted"', "application/ld+json"),
])
def test_sparql_answers(inproc_app: Flask, query: str, accept: str, expected: str) -> None:
    resp = inproc_app.test_client().get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == expected


@pytest.mark.parametrize(("query", "accept"), [
    (SELECT, "image/png; charset=utf-8"),
    (SELECT, "text/turtle; charset=utf-8"),
    (CONSTRUCT, "application/sparql-results+json;charset=UTF-8"),
    (SELECT, "application/sparql-results+json;charset=UTF-8;q=0"),
])
def test_still_not_acceptable(inproc_app: Flask, query: str, accept: str) -> None:
    resp = inproc_app.test_client().get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert resp.status_code == 406 and resp.mimetype == "text/plain"


def test_service_description(inproc_app: Flask) -> None:
    resp = inproc_app.test_client().get("/sparql", headers={"Accept": "text/turtle; charset=utf-8"})
    assert resp.status_code == 200 and resp.mimetype == "text/turtle"
    assert b"sd:Service" in resp.data


@pytest.mark.parametrize(("accept", "expected"), [
    ("text/turtle; charset=utf-8", "text/turtle"),
    ("application/n-triples;charset=utf-8;q=0.1, application/rdf+xml;charset=utf-8;q=0.5", "application/rdf+xml"),
])
def test_graph_store_read(inproc_app: Flask, accept: str, expected: str) -> None:
    resp = inproc_app.test_client().get("/rdf-graph-store", query_string={"graph": DATA1}, headers={"Accept": accept})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == expected and DATA1.encode() in resp.data
