"""The SPARQL 1.1 Protocol at /sparql: the W3C manifest, service description, conneg, real clients.

Every test of ``../shared/conformance/sparql11-protocol/manifest.ttl`` becomes a case keyed
by its IRI; its ``ht:Request`` (method, path, headers, body and encoding) is replayed as
written, with the ``/sparql/`` prefix mapped onto our routes (``/sparql`` for queries,
``/update`` for updates), and the ``ht:Response`` expectations checked. Query tests run
over both execution paths. Update tests get the documented refusal: 403 "The server is
read-only" (405 for the GET one, as ``/update`` only takes POST).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection

from tests.web.conftest import MANIFEST, TEST_BASE

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
HTS = "http://www.w3.org/2011/http-statusCodes#StatusCode"
RESULT_TYPES = {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"}
RDF_TYPES = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/n-triples": "nt",
             "application/ld+json": "json-ld"}

#: The exact status we answer for the manifest's negative query tests (it only says "4xx").
EXACT_STATUS = {"bad_query_method": 405, "bad_multiple_queries": 400, "bad_query_wrong_media_type": 415,
                "bad_query_missing_form_type": 415, "bad_query_missing_direct_type": 415,
                "bad_query_non_utf8": 400, "bad_query_syntax": 400}
#: Counted by hand in the manifest: a guard against cases silently dropped by the reader.
QUERY_TESTS, UPDATE_TESTS = 20, 14


@dataclass(frozen=True)
class ManifestRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    statuses: frozenset[int]
    expected_format: str | None
    expected_boolean: bool | None

    @property
    def looks_like_update(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/sparql-update") or \
            "update=" in self.path + (self.body or b"").decode("utf-8", "replace")


def read_manifest() -> tuple[list[URIRef], dict[URIRef, list[ManifestRequest]], set[URIRef]]:
    """The entries in order, their requests, and the update tests (``mf:name`` or request say so)."""
    graph = Graph().parse(MANIFEST, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    entries = list(Collection(graph, graph.value(manifest, MF.entries)))
    tests, updates = {}, set()
    for test in entries:
        assert (test, RDF.type, MF.ProtocolTest) in graph, test

        requests = []
        for req in Collection(graph, graph.value(graph.value(test, MF.action), HT.requests)):
            headers = {str(graph.value(h, HT.fieldName)).lower(): str(graph.value(h, HT.fieldValue))
                       for h in Collection(graph, graph.value(req, HT.headers) or RDF.nil)}
            body_node = graph.value(req, HT.body)
            body = None
            if body_node is not None:
                encoding = str(graph.value(body_node, CNT.characterEncoding) or "UTF-8")
                body = str(graph.value(body_node, CNT.chars)).encode(encoding)
            resp = graph.value(req, HT.resp)
            statuses = frozenset(int(str(s).removeprefix(HTS)[0]) for s in graph.objects(resp, MF.expectedStatus))
            fmt, boolean = graph.value(resp, MF.expectedFormat), graph.value(resp, MF.expectedBoolean)
            requests.append(ManifestRequest(str(graph.value(req, HT.methodName)), str(graph.value(req, HT.absolutePath)),
                                            headers, body, statuses, None if fmt is None else str(fmt),
                                            None if boolean is None else bool(boolean.toPython())))
        tests[test] = requests
        if "update" in str(graph.value(test, MF.name)).lower() or requests[0].looks_like_update:
            updates.add(test)
    return entries, tests, updates


ENTRIES, TESTS, UPDATES = read_manifest()
QUERY_CASES = [t for t in ENTRIES if t not in UPDATES]
UPDATE_CASES = [t for t in ENTRIES if t in UPDATES]


def _name(test: URIRef) -> str:
    return str(test).rsplit("#", 1)[-1]


def test_every_manifest_test_is_a_case() -> None:
    assert len(QUERY_CASES) + len(UPDATE_CASES) == len(ENTRIES) == QUERY_TESTS + UPDATE_TESTS
    assert (len(QUERY_CASES), len(UPDATE_CASES)) == (QUERY_TESTS, UPDATE_TESTS)
    negative = {_name(t) for t in QUERY_CASES if TESTS[t][0].statuses == {4}}
    assert negative == set(EXACT_STATUS)


def replay(client: Any, req: ManifestRequest, route: str) -> Any:
    path = route + req.path.removeprefix("/sparql/").removeprefix("/sparql")
    headers = {k: v for k, v in req.headers.items() if k != "content-type"}
    return client.open(path, method=req.method, data=req.body, headers=headers,
                       content_type=req.headers.get("content-type"))


def assert_plain_error(resp: Any) -> None:
    assert resp.mimetype == "text/plain"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "Traceback" not in resp.get_data(as_text=True)


def check_answer(resp: Any, req: ManifestRequest) -> None:
    if req.expected_format in ("boolean", "tabular"):
        assert resp.mimetype in RESULT_TYPES
    if req.expected_boolean is not None:
        if resp.mimetype == "application/sparql-results+json":
            answer = json.loads(resp.data)["boolean"]
        else:
            node = ElementTree.fromstring(resp.data).find("{http://www.w3.org/2005/sparql-results#}boolean")
            answer = node is not None and node.text == "true"
        assert answer is req.expected_boolean
    if req.expected_format == "RDF":
        assert resp.mimetype in RDF_TYPES
        Graph().parse(data=resp.data, format=RDF_TYPES[resp.mimetype])


@pytest.mark.parametrize("test", QUERY_CASES, ids=_name)
def test_manifest_query(engine_app: Flask, test: URIRef) -> None:
    (req,) = TESTS[test]
    resp = replay(engine_app.test_client(), req, "/sparql")
    assert resp.status_code // 100 in req.statuses, resp.get_data(as_text=True)
    if _name(test) in EXACT_STATUS:
        assert resp.status_code == EXACT_STATUS[_name(test)]
        assert_plain_error(resp)
    else:
        check_answer(resp, req)
        assert resp.headers["Vary"] == "Accept"


@pytest.mark.parametrize("test", UPDATE_CASES, ids=_name)
def test_manifest_update_is_refused(inproc_app: Flask, test: URIRef) -> None:
    req = TESTS[test][0]
    resp = replay(inproc_app.test_client(), req, "/update")
    assert resp.status_code == (405 if req.method == "GET" else 403)
    assert_plain_error(resp)
    assert "Access-Control-Allow-Origin" not in resp.headers
    if resp.status_code == 403:
        assert resp.get_data(as_text=True) == "The server is read-only.\n"


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, "application/sparql-results+json"),
    ({"Accept": "application/sparql-results+xml"}, "application/sparql-results+xml"),
    ({"Accept": "text/csv;q=0.4, text/tab-separated-values"}, "text/tab-separated-values"),
    ({"Accept": "application/json"}, "application/sparql-results+json"),
])
def test_select_negotiation(inproc_app: Flask, headers: dict[str, str], expected: str) -> None:
    resp = inproc_app.test_client().get("/sparql?query=SELECT%20*%20%7B%3Fs%20%3Fp%20%3Fo%7D", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == expected


@pytest.mark.parametrize(("query", "fmt", "expected"), [
    ("SELECT * {?s ?p ?o}", "csv", "text/csv"), ("SELECT * {?s ?p ?o}", "tsv", "text/tab-separated-values"),
    ("SELECT * {?s ?p ?o}", "xml", "application/sparql-results+xml"),
    ("CONSTRUCT WHERE {?s ?p ?o}", "xml", "application/rdf+xml"),
    ("CONSTRUCT WHERE {?s ?p ?o}", "nq", "application/n-quads"),
    ("CONSTRUCT WHERE {?s ?p ?o}", "trig", "application/trig"),
    ("CONSTRUCT WHERE {?s ?p ?o}", "jsonld", "application/ld+json"),
    ("DESCRIBE <http://kasei.us/2009/09/sparql/data/data1.rdf>", "nt", "application/n-triples"),
])
def test_format_parameter(inproc_app: Flask, query: str, fmt: str, expected: str) -> None:
    resp = inproc_app.test_client().get("/sparql", query_string={"query": query, "format": fmt},
                                        headers={"Accept": "text/html"})
    assert resp.status_code == 200 and resp.mimetype == expected


@pytest.mark.parametrize(("params", "headers", "status"), [
    ({"query": "SELECT * {}"}, {"Accept": "image/png"}, 406),
    ({"query": "CONSTRUCT WHERE {?s ?p ?o}"}, {"Accept": "text/csv"}, 406),
    ({"query": "SELECT * {}", "format": "../../etc/passwd"}, {}, 400),
    ({"query": "SELECT * {}", "format": "ttl"}, {}, 406),
    ({"query": "SELECT * {}", "default-graph-uri": "not an iri"}, {}, 400),
    ({"query": ""}, {}, 400),
    ({"update": "CLEAR ALL"}, {}, 400),
    ({"query": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"}, {}, 400),
])
def test_protocol_errors(inproc_app: Flask, params: dict[str, str], headers: dict[str, str], status: int) -> None:
    resp = inproc_app.test_client().get("/sparql", query_string=params, headers=headers)
    assert resp.status_code == status
    assert_plain_error(resp)


def test_query_in_url_and_body(inproc_app: Flask) -> None:
    resp = inproc_app.test_client().post("/sparql?query=ASK%7B%7D", data={"query": "ASK {}"})
    assert resp.status_code == 400 and "twice" in resp.get_data(as_text=True)


def test_syntax_error_says_where(inproc_app: Flask) -> None:
    resp = inproc_app.test_client().get("/sparql", query_string={"query": "SELECT * WHERE {\n  ?s ?p \n}"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "at line 3, column 2" in text and "rdflib" in text, text
    assert_plain_error(resp)


def test_unsupported_method_lists_allowed(inproc_app: Flask) -> None:
    resp = inproc_app.test_client().delete("/sparql")
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers["Allow"].split(",")} >= {"GET", "POST"}


def test_cors_preflight_and_headers(inproc_app: Flask) -> None:
    client = inproc_app.test_client()
    pre = client.options("/sparql", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    resp = client.get("/sparql?query=ASK%7B%7D", headers={"Origin": "https://app.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_union_default_graph_unless_dataset_given(inproc_app: Flask) -> None:
    client = inproc_app.test_client()
    count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    union = client.get("/sparql", query_string={"query": count, "format": "csv"})
    one = client.get("/sparql", query_string={"query": count, "format": "csv",
                                              "default-graph-uri": "http://kasei.us/2009/09/sparql/data/data1.rdf"})
    assert union.data.split() == [b"n", b"3"] and one.data.split() == [b"n", b"1"]


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # rdflib's JSON-LD parser
@pytest.mark.parametrize(("accept", "fmt"), [("text/turtle", "turtle"), ("application/rdf+xml", "xml"),
                                             ("application/ld+json", "json-ld"), (None, "turtle")])
def test_service_description(engine_app: Flask, accept: str | None, fmt: str) -> None:
    resp = engine_app.test_client().get("/sparql", headers={"Accept": accept} if accept else {})
    assert resp.status_code == 200 and resp.headers["Vary"] == "Accept"
    sd = Graph().parse(data=resp.data, format=fmt)
    service = sd.value(predicate=RDF.type, object=SD.Service)
    assert (service, SD.endpoint, URIRef(TEST_BASE + "sparql")) in sd
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in sd
    assert (service, SD.feature, SD.UnionDefaultGraph) in sd
    assert len(set(sd.objects(service, SD.resultFormat))) == 10
    names = {str(n) for n in sd.objects(None, SD.name)}
    assert names == {f"http://kasei.us/2009/09/sparql/data/data{i}.rdf" for i in (1, 2, 3)}
    assert URIRef(TEST_BASE + ".well-known/void") in set(sd.objects(None, None))


def test_browsers_get_readable_description(inproc_app: Flask) -> None:
    """Browsers get the query UI (tests/web/test_query_ui.py), which shows the description too."""
    resp = inproc_app.test_client().get("/sparql", headers={"Accept": "text/html,*/*;q=0.8"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert 'id="kg-queryui"' in resp.get_data(as_text=True) and "sd:Service" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("accept", "media_type"), [
    ("text/html; charset=utf-8", "text/html"),
    ("text/html;charset=utf-8, text/turtle;q=0.5", "text/html"),
    ("text/turtle;charset=utf-8", "text/turtle"),
    ("text/turtle; charset=utf-8, text/html;q=0.5", "text/turtle"),
])
def test_description_accept_parameters_choose_like_the_bare_type(inproc_app: Flask, accept: str,
                                                                 media_type: str) -> None:
    """Media-type parameters other than q (``charset``) never decide between the UI and the description."""
    resp = inproc_app.test_client().get("/sparql", headers={"Accept": accept})
    assert resp.status_code == 200 and resp.mimetype == media_type


# --- real clients against a real server -------------------------------------------------

SELECT = "SELECT ?s ?o WHERE { ?s a ?o } ORDER BY ?s"
DOCS = [f"http://kasei.us/2009/09/sparql/data/data{i}.rdf" for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def endpoint(pool_app: Flask) -> Any:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, pool_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.port}/sparql"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper_select(endpoint: str, fmt: str, method: str) -> None:
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(endpoint, returnFormat=fmt)
    client.setMethod(method)
    client.setQuery(SELECT)
    result = client.query().convert()
    if fmt == "json":
        subjects = [b["s"]["value"] for b in result["results"]["bindings"]]
    elif fmt == "xml":
        subjects = [n.firstChild.data for n in result.getElementsByTagName("uri")][::2]
    else:
        sep = "," if fmt == "csv" else "\t"
        subjects = [line.split(sep)[0].strip("<>") for line in result.decode().splitlines()[1:]]
    assert subjects == DOCS


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # rdflib's JSON-LD parser
@pytest.mark.parametrize("fmt", ["turtle", "xml", "n3", "json-ld"])
def test_sparqlwrapper_construct(endpoint: str, fmt: str) -> None:
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(endpoint, returnFormat=fmt)
    client.setQuery("CONSTRUCT WHERE { ?s a ?o }")
    graph = client.query().convert()
    if not isinstance(graph, Graph):
        graph = Graph().parse(data=graph, format={"n3": "turtle"}.get(fmt, fmt))
    assert {str(s) for s in graph.subjects()} == set(DOCS)


def test_sparqlwrapper_ask(endpoint: str) -> None:
    from SPARQLWrapper import JSON, SPARQLWrapper

    client = SPARQLWrapper(endpoint, returnFormat=JSON)
    client.setQuery(f"ASK {{ <{DOCS[0]}> a ?t }}")
    assert client.query().convert()["boolean"] is True


def test_rdflib_sparqlstore(endpoint: str) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = Graph(store=SPARQLStore(endpoint, returnFormat="xml"))
    rows = list(graph.query(SELECT))
    assert [str(r[0]) for r in rows] == DOCS
    assert graph.query(f"ASK {{ <{DOCS[1]}> a ?t }}").askAnswer is True
    constructed = graph.query("CONSTRUCT WHERE { ?s a ?o }").graph
    assert {str(s) for s in constructed.subjects()} == set(DOCS)
    assert len(graph) == 3


@pytest.mark.parametrize(("accept", "ctype"), [("text/turtle", "text/turtle; charset=utf-8"),
                                               ("application/n-quads", "application/n-quads")])
def test_plain_http_client(endpoint: str, accept: str, ctype: str) -> None:
    req = urllib.request.Request(endpoint, data=b"CONSTRUCT WHERE { ?s a ?o }", method="POST",
                                 headers={"Content-Type": "application/sparql-query", "Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == ctype
        assert resp.read().count(b"foaf/0.1/Document") == 3


def test_plain_http_error_is_text(endpoint: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(endpoint + "?query=SELEC", timeout=10)
    assert caught.value.code == 400
    assert caught.value.headers["Content-Type"].startswith("text/plain")
    assert b"Traceback" not in caught.value.read()
