"""The service description advertises SPARQL 1.1 Update and ``/update`` exactly when updates are on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from rdflib import RDF, Graph, Namespace, URIRef

from tests.web.conftest import TEST_BASE
from tests.web.writable import writable_app  # noqa: F401 - fixture

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
QUERY_ENDPOINT, UPDATE_ENDPOINT = URIRef(TEST_BASE + "sparql"), URIRef(TEST_BASE + "update")


def description(app: Flask, accept: str = "text/turtle") -> Graph:
    resp = app.test_client().get("/sparql", headers={"Accept": accept})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return Graph().parse(data=resp.data, format={"text/turtle": "turtle", "application/rdf+xml": "xml"}[accept])


def services(sd: Graph) -> dict[URIRef, set[URIRef]]:
    """Endpoint → the languages its service supports."""
    return {sd.value(s, SD.endpoint): set(sd.objects(s, SD.supportedLanguage))  # type: ignore[misc]
            for s in sd.subjects(RDF.type, SD.Service)}


def test_read_only_advertises_queries_only(inproc_app: Flask) -> None:
    sd = description(inproc_app)
    assert services(sd) == {QUERY_ENDPOINT: {SD.SPARQL11Query}}
    assert (None, None, SD.SPARQL11Update) not in sd and (None, None, UPDATE_ENDPOINT) not in sd


@pytest.mark.parametrize("accept", ["text/turtle", "application/rdf+xml"])
def test_updates_on_advertises_the_update_endpoint(writable_app: Callable[..., Flask], accept: str) -> None:
    sd = description(writable_app(), accept)
    assert services(sd) == {QUERY_ENDPOINT: {SD.SPARQL11Query}, UPDATE_ENDPOINT: {SD.SPARQL11Update}}
    update = sd.value(predicate=SD.endpoint, object=UPDATE_ENDPOINT)
    query = sd.value(predicate=SD.endpoint, object=QUERY_ENDPOINT)
    # both describe the same dataset
    assert sd.value(update, SD.defaultDataset) == sd.value(query, SD.defaultDataset) is not None
