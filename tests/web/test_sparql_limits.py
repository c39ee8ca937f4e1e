"""Limits that keep /sparql up (hardening.md 4.2: Q1-Q5, R1, R5, S1-S3), over real requests.

Each refusal is checked for its status, a ``text/plain`` body without a traceback, and
for what must *not* happen: a canary TCP listener that must see no connection, a canary
file whose content must never come back, a worker that must not keep burning CPU.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

RUNAWAY = "SELECT (COUNT(*) AS ?n) { " + " . ".join(f"?a{i} ?b{i} ?c{i}" for i in range(20)) + " }"  # 3^20 rows
CHEAP = "ASK { ?s ?p ?o }"


def get(url: str, query: str, timeout: float = 15, **params: str) -> tuple[int, dict[str, str], str]:
    """GET ``url?query=…`` and return (status, headers, body text), errors included."""
    full = f"{url}?{urllib.parse.urlencode({'query': query, **params})}"
    try:
        with urllib.request.urlopen(full, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def assert_refusal(status: int, headers: dict[str, str], body: str, expected: int, *words: str) -> None:
    assert status == expected, body
    assert headers["Content-Type"].startswith("text/plain")
    assert "Traceback" not in body and "File \"" not in body
    for word in words:
        assert word in body


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> dict[int, str]:
    """Direct children of ``pid`` and their states (R, S, Z…)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found[int(entry.name)] = fields[0]
    return found


# --- R1: a runaway query ---------------------------------------------------------------


def test_runaway_query_gets_503_its_worker_dies_and_others_are_served(
        make_app: Callable[..., Flask], live_server: Callable[[Flask], str]) -> None:
    app = make_app(QUERY_WORKERS=2, QUERY_TIMEOUT=2)
    url = live_server(app)
    assert get(url, CHEAP)[0] == 200
    pool = app.extensions["kg_engine"][1]
    before = set(pool.pids())
    outcome: dict[str, Any] = {}

    def runaway() -> None:
        started = time.monotonic()
        outcome["reply"] = get(url, RUNAWAY)
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.3)
    cheap = []
    while thread.is_alive():
        started = time.monotonic()
        status = get(url, CHEAP)[0]
        cheap.append((status, time.monotonic() - started))
    thread.join()
    assert_refusal(*outcome["reply"], 503, "exceeded the 2 s limit")
    assert outcome["seconds"] < 2 + 2
    assert cheap and all(status == 200 for status, _ in cheap)
    assert max(seconds for _, seconds in cheap) < 1.5, cheap
    killed = before - set(pool.pids())
    assert len(killed) == 1 and len(pool.pids()) == 2
    assert not any(Path(f"/proc/{pid}").exists() for pid in killed)  # killed and reaped
    time.sleep(0.5)
    kids = children(os.getpid())
    assert "Z" not in kids.values()
    spent = {pid: cpu_seconds(pid) for pid in kids}
    time.sleep(1)
    assert all(cpu_seconds(pid) - cpu < 0.3 for pid, cpu in spent.items()), "a child still burns CPU"


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Poll ``condition`` until it holds (a generous deadline: the machine may be loaded)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_busy_pool_answers_503_with_retry_after(make_app: Callable[..., Flask]) -> None:
    # the response cache off: the repeated CHEAP query must reach the (busy) pool
    app = make_app(QUERY_WORKERS=1, QUERY_TIMEOUT=5, QUERY_QUEUE_TIMEOUT=0.3, RESPONSE_CACHE_BYTES=0)
    client = app.test_client()
    assert client.get("/sparql", query_string={"query": CHEAP}).status_code == 200  # the worker is warm
    pool = app.extensions["kg_engine"][1]
    slow: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: slow.setdefault(
        "resp", app.test_client().get("/sparql", query_string={"query": RUNAWAY})))
    thread.start()
    wait_for(lambda: pool.busy() == 1)  # the runaway holds the only worker
    started = time.monotonic()
    resp = client.get("/sparql", query_string={"query": CHEAP})
    waited = time.monotonic() - started
    assert thread.is_alive()  # answered while the runaway still holds the worker, not after it
    assert resp.status_code == 503 and "busy" in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) >= 1
    assert 0.3 <= waited < 3, waited  # its queue timeout, well before the runaway's 5 s
    thread.join(timeout=30)
    assert slow["resp"].status_code == 503 and "exceeded the 5 s limit" in slow["resp"].get_data(as_text=True)


# --- R5: answers over the caps are refused, never truncated -----------------------------


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize(("query", "cap", "words"), [
    ("SELECT * { ?s ?p ?o }", {"QUERY_MAX_ROWS": 2}, "more than 2 rows"),
    ("CONSTRUCT WHERE { ?s ?p ?o }", {"QUERY_MAX_TRIPLES": 2}, "more than 2 triples"),
    ("DESCRIBE ?s WHERE { ?s ?p ?o }", {"QUERY_MAX_TRIPLES": 2}, "more than 2 triples"),
    ("SELECT (GROUP_CONCAT(STR(?s)) AS ?all) { ?s ?p ?o }", {"QUERY_MAX_RESULT_BYTES": 120}, "more than 120 bytes"),
])
def test_answers_over_the_caps_are_422(make_app: Callable[..., Flask], workers: int, query: str,
                                       cap: dict[str, int], words: str) -> None:
    app = make_app(QUERY_WORKERS=workers, **cap)
    for fmt in ("json", "tsv", "xml") if "SELECT" in query else ("nt", "jsonld"):
        resp = app.test_client().get("/sparql", query_string={"query": query, "format": fmt})
        assert resp.status_code == 422 and words in resp.get_data(as_text=True)
        assert resp.mimetype == "text/plain"
    ok = app.test_client().get("/sparql", query_string={"query": "SELECT ?s { ?s ?p ?o } LIMIT 2", "format": "csv"})
    assert ok.status_code == 200 and len(ok.data.splitlines()) == 3


# --- S1/S2: SERVICE never leaves the machine --------------------------------------------

SERVICE_QUERIES = [
    "SELECT * {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "SELECT * {{ SERVICE SILENT <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "select * {{ service <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * {{ VALUES ?u {{ <http://127.0.0.1:{port}/> }} SERVICE ?u {{ ?s ?p ?o }} }}",
    "SELECT * {{ \\u0053ERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "SELECT * {{ SERVICE#c\n<http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "ASK {{ FILTER EXISTS {{ SERVICE SILENT <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }} }}",
    "PREFIX c: <http://127.0.0.1:{port}/> SELECT * {{ SERVICE c:x {{ ?s ?p ?o }} }}",
    # rdflib cannot parse LATERAL (pyoxigraph can): the lexer-level check must hold alone
    "SELECT * {{ ?x ?y ?z LATERAL {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }} }}",
]


@pytest.fixture(scope="module")
def service_urls(make_app: Callable[..., Flask]) -> Iterator[dict[str, str]]:
    """One served pool with nothing allow-listed (the lexer refuses), one with another endpoint
    allow-listed (so the refusal must come from the parsed query, or the lexer's fallback)."""
    from werkzeug.serving import make_server

    servers, urls = [], {}
    for name, allow in (("nothing-allowed", ""), ("other-allowed", "http://allowed.example/sparql")):
        server = make_server("127.0.0.1", 0, make_app(QUERY_WORKERS=1, SERVICE_ALLOWLIST=allow), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        urls[name] = f"http://127.0.0.1:{server.port}/sparql"
    yield urls
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("allowlist", ["nothing-allowed", "other-allowed"])
@pytest.mark.parametrize("template", SERVICE_QUERIES)
def test_service_is_refused_and_never_connects(service_urls: dict[str, str], canary: Any, allowlist: str,
                                               template: str) -> None:
    status, headers, body = get(service_urls[allowlist], template.format(port=canary.port))
    assert_refusal(status, headers, body, 422, "SERVICE")
    time.sleep(0.2)
    assert canary.count == 0


def test_allow_listed_service_does_connect(make_app: Callable[..., Flask], canary: Any) -> None:
    """The control: the canary does see the engine when the endpoint is allow-listed."""
    endpoint = f"http://127.0.0.1:{canary.port}/sparql"
    app = make_app(QUERY_WORKERS=1, SERVICE_ALLOWLIST=endpoint, QUERY_TIMEOUT=10)
    resp = app.test_client().get("/sparql", query_string={"query": f"SELECT * {{ SERVICE SILENT <{endpoint}> {{ ?s ?p ?o }} }}"})
    assert resp.status_code == 200
    assert canary.count >= 1


# --- S3: FROM reads no file and calls no one --------------------------------------------


@pytest.mark.parametrize("template", [
    "SELECT * FROM <{file}> {{ ?s ?p ?o }}",
    "CONSTRUCT FROM <{file}> WHERE {{ ?s ?p ?o }}",
    "SELECT * FROM NAMED <{file}> {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "SELECT * FROM NAMED <http://127.0.0.1:{port}/g> {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "ASK FROM <http://127.0.0.1:{port}/g> {{ ?s ?p ?o }}",
])
def test_from_must_name_a_local_graph(inproc_app: Flask, pool_app: Flask, live_server: Callable[[Flask], str],
                                      canary: Any, tmp_path: Path, template: str) -> None:
    secret = f"CANARY-{uuid.uuid4()}"
    canary_file = tmp_path / f"canary-{uuid.uuid4()}.ttl"
    canary_file.write_text(f'<urn:canary> <urn:says> "{secret}" .\n')
    query = template.format(file=canary_file.as_uri(), port=canary.port)
    for app in (inproc_app, pool_app):
        status, headers, body = get(live_server(app), query, format="nt" if "CONSTRUCT" in query else "json")
        assert_refusal(status, headers, body, 422, "FROM")
        assert secret not in body
    time.sleep(0.3)
    assert canary.count == 0


# --- Q1-Q5: malformed, oversized and deeply nested input -----------------------------------

BOMBS = {
    "braces": "SELECT * {" + "{" * 50_000 + "}" * 50_000 + "}",
    "parentheses": "SELECT * { ?s ?p ?o FILTER(" + "(" * 50_000 + "?o" + ")" * 50_000 + ") }",
    "path": "SELECT * { ?s " + "(" * 50_000 + "<urn:p>" + ")" * 50_000 + " ?o }",
    "negations": "SELECT * { ?s ?p ?o FILTER(" + "!" * 50_000 + "?o) }",
    "triple-terms": "SELECT * { VALUES ?t { " + "<<( " * 50_000 + " }",
}


@pytest.mark.parametrize("name", BOMBS)
def test_nesting_bomb_is_400_fast(engine_app: Flask, name: str) -> None:
    started = time.monotonic()
    resp = engine_app.test_client().post("/sparql", data=BOMBS[name], content_type="application/sparql-query")
    assert time.monotonic() - started < 1
    assert resp.status_code == 400 and "nesting too deep" in resp.get_data(as_text=True)
    assert resp.mimetype == "text/plain"
    assert engine_app.test_client().get("/sparql", query_string={"query": CHEAP}).status_code == 200


@pytest.mark.parametrize("kind", ["direct", "form"])
def test_two_megabyte_post_is_413(inproc_app: Flask, kind: str) -> None:
    query = "SELECT * { ?s ?p ?o } #" + "x" * 2_000_000
    client = inproc_app.test_client()
    if kind == "direct":
        resp = client.post("/sparql", data=query, content_type="application/sparql-query")
    else:
        resp = client.post("/sparql", data={"query": query})
    assert resp.status_code == 413 and resp.mimetype == "text/plain"


def test_chunked_two_megabyte_post_is_413(inproc_app: Flask, live_server: Callable[[Flask], str]) -> None:
    url = urllib.parse.urlsplit(live_server(inproc_app))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    chunks = (b"SELECT * {} #" + b"x" * 65_536 for _ in range(32))
    conn.request("POST", "/sparql", body=chunks, encode_chunked=True,
                 headers={"Content-Type": "application/sparql-query", "Transfer-Encoding": "chunked"})
    resp = conn.getresponse()
    assert resp.status == 413 and resp.getheader("Content-Type").startswith("text/plain")
    conn.close()


@pytest.mark.parametrize(("params", "words"), [
    ({"query": "SELECT * { ?s ?p ?o } LIMIT 99999999999999999999999"}, "out of range"),
    ({"query": "SELECT * { ?s ?p ?o } OFFSET -1"}, "syntax error"),
    ({"query": "SELEC * WHERE {}"}, "line 1"),
    ({"query": "   "}, "empty"),
])
def test_bad_queries_are_400_with_reason(inproc_app: Flask, params: dict[str, str], words: str) -> None:
    resp = inproc_app.test_client().get("/sparql", query_string=params)
    assert resp.status_code == 400 and words in resp.get_data(as_text=True), resp.get_data(as_text=True)
    assert resp.mimetype == "text/plain"


def test_invalid_utf8_is_400(inproc_app: Flask) -> None:
    client = inproc_app.test_client()
    assert client.get("/sparql?query=ASK%20%7B%7D%FF").status_code == 400
    resp = client.post("/sparql", data=b"ASK {} \xff\xfe", content_type="application/sparql-query")
    assert resp.status_code == 400 and "UTF-8" in resp.get_data(as_text=True)
