"""Real clients against a live server, every format, on both backends ("Done when" of issue 3).

curl (the binary), SPARQLWrapper and rdflib's ``SPARQLStore`` query ``/sparql`` served by
werkzeug on 127.0.0.1: SELECT and ASK in SPARQL JSON, XML, CSV and TSV; CONSTRUCT and
DESCRIBE in Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads and TriG. Answers are parsed with
pyoxigraph (another implementation than the server's serialisers for the remote backend's
JSON intake) and compared with the W3C protocol data (``tests/web/conftest.py``). The
``remote`` server is the same app over Virtuoso (``KG_BACKEND=remote``).
"""

from __future__ import annotations

import csv
import io
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pyoxigraph as ox
import pytest
from flask import Flask

DOCS = [f"http://kasei.us/2009/09/sparql/data/data{i}.rdf" for i in (1, 2, 3)]
SELECT = "SELECT ?s ?o WHERE { ?s a ?o } ORDER BY ?s"
ASK = f"ASK {{ <{DOCS[1]}> a ?t }}"
CONSTRUCT = "CONSTRUCT WHERE { ?s a ?o }"
DESCRIBE = f"DESCRIBE <{DOCS[0]}>"
RESULTS = {"json": ("application/sparql-results+json", ox.QueryResultsFormat.JSON),
           "xml": ("application/sparql-results+xml", ox.QueryResultsFormat.XML),
           "csv": ("text/csv", ox.QueryResultsFormat.CSV),
           "tsv": ("text/tab-separated-values", ox.QueryResultsFormat.TSV)}
GRAPHS = {"turtle": ("text/turtle", ox.RdfFormat.TURTLE), "n-triples": ("application/n-triples", ox.RdfFormat.N_TRIPLES),
          "rdf/xml": ("application/rdf+xml", ox.RdfFormat.RDF_XML), "json-ld": ("application/ld+json", ox.RdfFormat.JSON_LD),
          "n-quads": ("application/n-quads", ox.RdfFormat.N_QUADS), "trig": ("application/trig", ox.RdfFormat.TRIG)}


@pytest.fixture(scope="module", params=["embedded", "remote"])
def endpoint(request: pytest.FixtureRequest, pool_app: Flask) -> Iterator[str]:
    """``/sparql`` of a live server: the embedded store (killable workers) or Virtuoso."""
    from werkzeug.serving import make_server

    app = pool_app if request.param == "embedded" else request.getfixturevalue("remote_app")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.port}/sparql"
    server.shutdown()
    server.server_close()


def subjects_of_solutions(body: bytes, fmt: ox.QueryResultsFormat) -> list[str]:
    if fmt == ox.QueryResultsFormat.CSV:  # lossy by design: pyoxigraph does not parse it, the csv module does
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        assert rows[0] == ["s", "o"]
        return [row[0] for row in rows[1:]]
    solutions: Any = ox.parse_query_results(body, format=fmt)
    return [s["s"].value for s in solutions]


def boolean_of(body: bytes, fmt: ox.QueryResultsFormat) -> bool:
    if fmt == ox.QueryResultsFormat.CSV:
        assert body.strip() in (b"true", b"false"), body
        return body.strip() == b"true"
    result = ox.parse_query_results(body, format=fmt)
    assert isinstance(result, ox.QueryBoolean)
    return bool(result)


def subjects_of_graph(body: bytes, fmt: ox.RdfFormat) -> set[str]:
    return {q.subject.value for q in ox.parse(body, format=fmt)}


def curl(endpoint: str, query: str, accept: str, *, post: bool) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of curl's answer (GET with -G, or a POSTed form); fails on HTTP errors."""
    args = ["curl", "-sS", "--fail", "--max-time", "60", "-H", f"Accept: {accept}", "--data-urlencode",
            f"query={query}", "-w", "\n%{content_type}", *([] if post else ["-G"]), endpoint]
    done = subprocess.run(args, capture_output=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr.decode()
    body, _, ctype = done.stdout.rpartition(b"\n")
    return ctype.decode(), body


@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST"])
@pytest.mark.parametrize("fmt", RESULTS)
def test_curl_select_and_ask(endpoint: str, fmt: str, post: bool) -> None:
    media, parse = RESULTS[fmt]
    ctype, body = curl(endpoint, SELECT, media, post=post)
    assert ctype.startswith(media) and subjects_of_solutions(body, parse) == DOCS
    ctype, body = curl(endpoint, ASK, media, post=post)
    assert ctype.startswith(media) and boolean_of(body, parse) is True


@pytest.mark.parametrize("fmt", GRAPHS)
def test_curl_construct_and_describe(endpoint: str, fmt: str) -> None:
    media, parse = GRAPHS[fmt]
    ctype, body = curl(endpoint, CONSTRUCT, media, post=True)
    assert ctype.startswith(media) and subjects_of_graph(body, parse) == set(DOCS)
    ctype, body = curl(endpoint, DESCRIBE, media, post=False)
    assert ctype.startswith(media) and DOCS[0] in subjects_of_graph(body, parse)


@pytest.mark.parametrize("fmt", RESULTS)
def test_sparqlwrapper_ask_in_every_format(endpoint: str, fmt: str) -> None:
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(endpoint, returnFormat=fmt)
    client.setQuery(ASK)
    answer = client.query().convert()
    if fmt == "json":
        assert answer["boolean"] is True
    elif fmt == "xml":
        assert answer.getElementsByTagName("boolean")[0].firstChild.data == "true"
    else:
        assert boolean_of(answer, RESULTS[fmt][1]) is True


@pytest.mark.parametrize("fmt", GRAPHS)
@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE], ids=["construct", "describe"])
def test_sparqlwrapper_graphs_in_every_format(endpoint: str, query: str, fmt: str) -> None:
    """SPARQLWrapper's own formats where it has one; the others by its Accept header, conneg only."""
    from SPARQLWrapper import SPARQLWrapper

    media, parse = GRAPHS[fmt]
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setOnlyConneg(True)
    client.addCustomHttpHeader("Accept", media)
    response = client.query().response
    assert response.headers["Content-Type"].startswith(media)
    found = subjects_of_graph(response.read(), parse)
    assert found == set(DOCS) if query == CONSTRUCT else DOCS[0] in found


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # rdflib's JSON-LD parser
@pytest.mark.parametrize("fmt", ["xml", "json", "csv", "tsv"])
def test_rdflib_sparqlstore_in_every_result_format(endpoint: str, fmt: str) -> None:
    from rdflib import Graph
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = Graph(store=SPARQLStore(endpoint, returnFormat=fmt))
    assert [str(row[0]) for row in graph.query(SELECT)] == DOCS
    if fmt in ("xml", "json"):  # rdflib parses booleans from SPARQL XML and JSON only
        assert graph.query(ASK).askAnswer is True
    if fmt == "xml":
        # rdflib asks for graphs only with this setting ("application/sparql-results+xml,
        # application/rdf+xml"); with the others its Accept names result formats alone, and
        # the server rightly answers 406.
        assert {str(s) for s in graph.query(CONSTRUCT).graph.subjects()} == set(DOCS)
        assert {str(s) for s in graph.query(DESCRIBE).graph.subjects()} >= {DOCS[0]}


SERVICE_QUERIES = [
    "SELECT * {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * {{ SERVICE SILENT <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "SELECT * {{ VALUES ?u {{ <http://127.0.0.1:{port}/> }} SERVICE ?u {{ ?s ?p ?o }} }}",
    "SELECT * FROM <http://127.0.0.1:{port}/g> {{ ?s ?p ?o }}",
]


@pytest.mark.parametrize("template", SERVICE_QUERIES)
def test_service_to_loopback_makes_no_connection(endpoint: str, canary: Any, template: str) -> None:
    """Refused on the parsed query before any engine sees it: neither pyoxigraph nor Virtuoso
    (which would follow SERVICE too) ever connects to the canary listener."""
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    url = endpoint + "?" + urllib.parse.urlencode({"query": template.format(port=canary.port)})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=30)
    with caught.value as refusal:
        assert refusal.code == 422 and refusal.headers["Content-Type"].startswith("text/plain")
        assert b"SERVICE" in refusal.read() or "FROM" in template
    time.sleep(0.3)
    assert canary.count == 0


def test_remote_runaway_query_is_cut_at_the_read_timeout(make_app: Any, remote_app: Flask, virtuoso: Any,
                                                         live_server: Any) -> None:
    """On the remote backend the hard limit is ``KG_REMOTE_READ_TIMEOUT``: a query the engine
    does not answer in time gets a plain 504 (or a 502 if the engine refuses it first) within
    that bound, while other clients keep being served."""
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    from tests.conftest_virtuoso import remote_overrides
    from tests.web.conftest import PROTOCOL_PREFIX

    app = make_app(**{**remote_overrides(virtuoso), "REMOTE_READ_TIMEOUT": 2}, SPARQL_GRAPH_PREFIX=PROTOCOL_PREFIX)
    url = live_server(app)
    runaway = "SELECT (COUNT(*) AS ?n) { " + " . ".join(f"?a{i} ?b{i} ?c{i}" for i in range(12)) + " }"
    outcome: dict[str, Any] = {}

    def ask_runaway() -> None:
        started = time.monotonic()
        try:
            urllib.request.urlopen(url + "?" + urllib.parse.urlencode({"query": runaway}), timeout=60).close()
            outcome["status"] = 200
        except urllib.error.HTTPError as exc:
            with exc:
                outcome["status"], outcome["body"] = exc.code, exc.read().decode()
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=ask_runaway)
    thread.start()
    cheap = []
    while thread.is_alive():
        with urllib.request.urlopen(url + "?" + urllib.parse.urlencode({"query": ASK}), timeout=10) as resp:
            cheap.append(resp.status)
    thread.join()
    assert outcome["status"] in (502, 504), outcome
    assert outcome["seconds"] < 2 + 5 + 3  # read timeout, plus the connect timeout and the watchdog's margin
    assert "Traceback" not in outcome["body"] and cheap and set(cheap) == {200}
