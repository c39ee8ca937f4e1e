"""The W3C update tests: SPARQL 1.1 Protocol (update part) and the Graph Store HTTP Protocol manifests.

* Every update test of ``../shared/conformance/sparql11-protocol/manifest.ttl`` (read by
  ``tests/web/test_sparql_protocol.py``, reused here) runs on a fresh store with updates on,
  its requests replayed in order: updates to ``/update`` with the bearer token, the checking
  queries to ``/sparql``, over both query paths (in process, and the killable workers that
  read the published generations). Negative tests get their exact status. With updates
  off, each test gets the documented refusal, even with the right token.
* Every test of ``../shared/conformance/sparql11-graph-store-protocol/`` (direct and
  indirect identification, both included by ``manifest.ttl``) runs the same way, ``/gsp``
  mapped onto ``/rdf-graph-store``, ``$LOCATION$`` replaced by the ``Location`` answered,
  statuses, ``Content-Type`` and graphs (isomorphism) checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from flask import Flask
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic

from service.config import PROJECT_ROOT
from tests.web.test_sparql_protocol import (CNT, HT, MF, TESTS, UPDATE_CASES, ManifestRequest, _name,
                                            assert_plain_error, check_answer, replay)
from tests.web.writable import AUTH, writable_app  # noqa: F401 - fixture

GSP_DIR = PROJECT_ROOT.parent / "shared" / "conformance" / "sparql11-graph-store-protocol"
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
#: Exact statuses for the manifest's negative update tests (it only says "4xx").
UPDATE_EXACT = {"bad_update_get": 405, "bad_multiple_updates": 400, "bad_update_wrong_media_type": 415,
                "bad_update_missing_form_type": 415, "bad_update_non_utf8": 400, "bad_update_syntax": 400,
                "bad_update_dataset_conflict": 400}
STATUS = {HTS.OK: 200, HTS.Created: 201, HTS.NoContent: 204, HTS.NotFound: 404}
#: Counted by hand in the two GSP manifests (5 direct, 9 indirect; one direct test is defined, not listed).
GSP_TESTS = 14


def _is_query(req: ManifestRequest) -> bool:
    return req.headers.get("content-type", "").startswith("application/sparql-query")


def _count(client: Any) -> int:
    resp = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }",
                                               "format": "csv"})
    return int(resp.data.split()[1])


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "workers"])
@pytest.mark.parametrize("test", UPDATE_CASES, ids=_name)
def test_manifest_update(writable_app: Callable[..., Flask], test: URIRef, workers: int) -> None:
    app = writable_app(QUERY_WORKERS=workers, QUERY_TIMEOUT=10)
    client = app.test_client()
    for req in TESTS[test]:
        if _is_query(req):
            resp = replay(client, req, "/sparql")
        else:
            resp = replay(client, replace(req, headers={**req.headers, **AUTH}), "/update")
        assert resp.status_code // 100 in req.statuses, resp.get_data(as_text=True)
        if _name(test) in UPDATE_EXACT:
            assert resp.status_code == UPDATE_EXACT[_name(test)]
            assert_plain_error(resp)
        elif _is_query(req):
            check_answer(resp, req)


@pytest.mark.parametrize("test", UPDATE_CASES, ids=_name)
def test_manifest_update_refused_when_disabled(inproc_app: Flask, test: URIRef) -> None:
    client = inproc_app.test_client()
    req = TESTS[test][0]
    resp = replay(client, replace(req, headers={**req.headers, **AUTH}), "/update")
    assert resp.status_code == (405 if req.method == "GET" else 403)
    assert_plain_error(resp)
    if resp.status_code == 403:
        assert resp.get_data(as_text=True) == "The server is read-only.\n"
    assert _count(client) == 3


# --- Graph Store HTTP Protocol ------------------------------------------------------------


@dataclass(frozen=True)
class GspRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    statuses: frozenset[int]
    location: str | None
    content_type: str | None
    graph: str | None


def _headers(graph: Graph, node: Any) -> dict[str, str]:
    return {str(graph.value(h, HT.fieldName)).lower(): str(graph.value(h, HT.fieldValue))
            for h in Collection(graph, graph.value(node, HT.headers) or RDF.nil)}


def _body(graph: Graph, node: Any) -> str | None:
    body = graph.value(node, HT.body)
    return None if body is None else str(graph.value(body, CNT.chars))


def read_gsp_manifests() -> dict[str, list[GspRequest]]:
    """Test name → its requests, from every manifest ``manifest.ttl`` includes."""
    top = Graph().parse(GSP_DIR / "manifest.ttl", format="turtle")
    included = [str(m).rsplit("/", 1)[-1] for m in Collection(top, next(top.objects(None, MF.include)))]
    tests: dict[str, list[GspRequest]] = {}
    for name in included:
        graph = Graph().parse(GSP_DIR / name, format="turtle")
        manifest = next(graph.subjects(RDF.type, MF.Manifest))
        listed = list(Collection(graph, graph.value(manifest, MF.entries)))
        # head_non_existing_direct is defined but missing from its manifest's entries: run it too
        for test in listed + sorted(set(graph.subjects(RDF.type, MF.GraphStoreProtocolTest)) - set(listed)):
            requests = []
            for req in Collection(graph, graph.value(graph.value(test, MF.action), HT.requests)):
                resp = graph.value(req, HT.resp)
                statuses = frozenset(STATUS[s] for s in graph.objects(resp, MF.expectedStatus))
                body = _body(graph, req)
                location = graph.value(resp, MF.expectedLocation)
                requests.append(GspRequest(str(graph.value(req, HT.methodName)), str(graph.value(req, HT.absolutePath)),
                                           _headers(graph, req), None if body is None else body.encode("utf-8"),
                                           statuses, None if location is None else str(location),
                                           _headers(graph, resp).get("content-type"), _body(graph, resp)))
            tests[str(test).rsplit("#", 1)[-1]] = requests
    return tests


GSP_CASES = read_gsp_manifests()


def test_every_gsp_test_is_a_case() -> None:
    assert len(GSP_CASES) == GSP_TESTS
    assert sum(name.endswith("_direct") for name in GSP_CASES) == 5


def _send(client: Any, req: GspRequest, variables: dict[str, str], auth: dict[str, str]) -> Any:
    path, body = "/rdf-graph-store" + req.path.removeprefix("/gsp"), req.body
    for name, value in variables.items():
        path = path.replace(name, value)
        body = body.replace(name.encode(), value.encode()) if body is not None else None
    headers = {k: v for k, v in req.headers.items() if k != "content-type"}
    if req.method not in ("GET", "HEAD"):
        headers.update(auth)
    return client.open(path, method=req.method, data=body, headers=headers, content_type=req.headers.get("content-type"))


@pytest.mark.parametrize("name", sorted(GSP_CASES))
def test_gsp_manifest(writable_app: Callable[..., Flask], name: str) -> None:
    client = writable_app().test_client()
    variables: dict[str, str] = {}
    for req in GSP_CASES[name]:
        resp = _send(client, req, variables, AUTH)
        assert resp.status_code in req.statuses, (req.method, req.path, resp.get_data(as_text=True))
        if req.location:
            variables[req.location] = resp.headers["Location"]
        if req.content_type:
            assert resp.headers["Content-Type"].replace(" ", "").lower() == req.content_type.replace(" ", "").lower()
        if req.graph is not None:
            got = Graph().parse(data=resp.data, format="turtle")
            assert isomorphic(got, Graph().parse(data=req.graph, format="turtle")), resp.get_data(as_text=True)


@pytest.mark.parametrize("name", sorted(GSP_CASES))
def test_gsp_manifest_refused_when_disabled(inproc_app: Flask, name: str) -> None:
    client = inproc_app.test_client()
    req = GSP_CASES[name][0]
    resp = _send(client, req, {"$LOCATION$": "http://kg.test/rdf-graph-store/x"}, AUTH)
    if req.method in ("GET", "HEAD"):
        assert resp.status_code == 404  # reads work on a read-only server; these graphs are not there
    else:
        assert resp.status_code == 403 and resp.get_data(as_text=True) == "The server is read-only.\n"
    assert _count(client) == 3
