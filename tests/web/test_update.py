"""SPARQL 1.1 Update at /update: read-only refusal, bearer token, transactions, refusals, limits.

Write tests run on a fresh store per test (``tests/web/writable.py``); the read-only ones
on the session's protocol store (``inproc_app``). "Unchanged" is checked by counting the
store's quads through /sparql before and after.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.config import ConfigError
from service.store.writer import generations_dir
from tests.canary import Canary
from tests.web.writable import AUTH, TOKEN, assert_plain, writable_app  # noqa: F401 - fixture

UPDATE = "application/sparql-update"
COUNT = "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"


def post(app: Flask, text: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    return app.test_client().post("/update", data=text.encode(), content_type=UPDATE,
                                  headers=AUTH if headers is None else headers, **kw)


def ask(app: Flask, query: str) -> bool:
    resp = app.test_client().get("/sparql", query_string={"query": query, "format": "json"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return bool(resp.get_json()["boolean"])


def count(app: Flask) -> int:
    resp = app.test_client().get("/sparql", query_string={"query": COUNT, "format": "csv"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return int(resp.data.split()[1])


# --- read-only (the default) -------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, AUTH, {"Authorization": "Bearer wrong"}])
def test_read_only_refuses_every_update(inproc_app: Flask, headers: dict[str, str]) -> None:
    resp = post(inproc_app, "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }", headers)
    assert assert_plain(resp, 403) == "The server is read-only.\n"
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert count(inproc_app) == 3


def test_get_is_not_an_update(inproc_app: Flask) -> None:
    resp = inproc_app.test_client().get("/update", query_string={"update": "CLEAR ALL"})
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "short-secret"])
def test_updates_need_a_long_token(token: str) -> None:
    with pytest.raises(ConfigError, match="KG_UPDATE_TOKEN") as info:
        create_app({"UPDATES": "on", "UPDATE_TOKEN": token})
    assert not token or token not in str(info.value)


def test_updates_flag_is_validated() -> None:
    with pytest.raises(ConfigError, match="KG_UPDATES"):
        create_app({"UPDATES": "maybe"})


# --- the bearer token ---------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "error"), [
    ({}, False), ({"Authorization": f"Basic {TOKEN}"}, False), ({"Authorization": "Bearer "}, False),
    ({"Authorization": "Bearer wrong-token-0123456789"}, True), ({"Authorization": f"Bearer {TOKEN}x"}, True),
])
def test_token_is_required(writable_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture,
                           headers: dict[str, str], error: bool) -> None:
    app = writable_app()
    with caplog.at_level(logging.INFO, logger="service"):
        resp = post(app, "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }", headers)
    assert_plain(resp, 401)
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="territory-kg"')
    assert ('error="invalid_token"' in challenge) is error
    assert count(app) == 3
    assert TOKEN not in caplog.text and TOKEN not in resp.get_data(as_text=True)


def test_acknowledged_update_is_visible_and_logged_without_token(writable_app: Callable[..., Flask],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    app = writable_app()
    with caplog.at_level(logging.INFO, logger="service"):
        resp = post(app, "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }")
    assert resp.status_code == 204 and resp.data == b""
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert ask(app, "ASK { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }")
    assert "write POST" in caplog.text and TOKEN not in caplog.text
    assert app.extensions["kg_data_generation"] == 1


def test_form_update_with_protocol_dataset(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    data1 = "http://kasei.us/2009/09/sparql/data/data1.rdf"
    resp = app.test_client().post("/update", headers=AUTH, data={
        "update": "INSERT { GRAPH <urn:out> { ?s a <urn:Seen> } } WHERE { ?s ?p ?o }", "using-graph-uri": data1})
    assert resp.status_code == 204, resp.data
    assert ask(app, f"ASK {{ GRAPH <urn:out> {{ <{data1}> a <urn:Seen> }} }}")
    assert not ask(app, "ASK { GRAPH <urn:out> { <http://kasei.us/2009/09/sparql/data/data2.rdf> ?p ?o } }")


# --- transactions -------------------------------------------------------------------------


@pytest.mark.parametrize("failing", [
    "CREATE GRAPH <http://kasei.us/2009/09/sparql/data/data1.rdf>",  # exists: fails at run time
    "DROP GRAPH <urn:missing>",
    "CREATE GRAPH <urn:g>",  # made by the first operation of the same request
])
def test_a_failed_operation_changes_nothing(writable_app: Callable[..., Flask], failing: str) -> None:
    app = writable_app()
    text = ("INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } } ;\n"
            "DELETE WHERE { GRAPH ?g { ?s ?p ?o } } ;\n" + failing)
    assert_plain(post(app, text), 400, "changed nothing")
    assert count(app) == 3
    assert not ask(app, "ASK { GRAPH <urn:g> { ?s ?p ?o } }")
    assert app.extensions["kg_data_generation"] == 0


def test_syntax_error_says_where(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    assert_plain(post(app, "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } } ;\nCLEAR XYZ"), 400,
                 "syntax error at line 2, column")
    assert count(app) == 3


def test_relative_iris_resolve_against_the_endpoint(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    assert post(app, "INSERT DATA { GRAPH <urn:g> { <urn:s> <urn:p> <test> } }").status_code == 204
    assert ask(app, "ASK { GRAPH <urn:g> { <urn:s> <urn:p> <http://kg.test/test> } }")


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("template", [
    "LOAD <http://127.0.0.1:{port}/data.ttl>",
    "LOAD SILENT <http://127.0.0.1:{port}/data.ttl> INTO GRAPH <urn:g>",
    "CLEAR SILENT GRAPH <urn:x> ; LOAD <http://127.0.0.1:{port}/>",
    "load <file://{canary}>",
    "LOAD <file://{canary}> INTO GRAPH <urn:g> ; WITH <urn:g> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
    "INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
    "INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ SERVICE SILENT <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "DELETE {{ GRAPH ?g {{ ?s ?p ?o }} }} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
    "OPTIONAL {{ \\u0053ERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }} }}",
    "INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ BIND(<http://127.0.0.1:{port}/> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
])
def test_load_and_service_are_refused(writable_app: Callable[..., Flask], canary: Canary, tmp_path: Path,
                                      template: str) -> None:
    secret = tmp_path / "canary.ttl"
    secret.write_text('<urn:canary> <urn:p> "canary-7f3a" .\n')
    app = writable_app()
    resp = post(app, template.format(port=canary.port, canary=secret))
    assert_plain(resp, 422)
    assert "canary-7f3a" not in resp.get_data(as_text=True)
    time.sleep(0.3)  # a connection would have reached the listener by now
    assert canary.count == 0
    assert count(app) == 3


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"data": b"CLEAR ALL", "content_type": "text/plain"}, 415),
    ({"data": b"update=CLEAR%20ALL"}, 415),
    ({"data": "CLEAR ALL".encode("utf-16"), "content_type": "application/sparql-update; charset=UTF-16"}, 400),
    ({"data": b"CLEAR \xff ALL", "content_type": UPDATE}, 400),
    ({"data": b"update=CLEAR%20NAMED&update=CLEAR%20DEFAULT", "content_type": "application/x-www-form-urlencoded"}, 400),
    ({"data": b"query=ASK%20%7B%7D", "content_type": "application/x-www-form-urlencoded"}, 400),
    ({"data": b"", "content_type": UPDATE}, 400),
    ({"data": b"INSERT DATA { " + b"{" * 300 + b" }", "content_type": UPDATE}, 400),
])
def test_protocol_errors(writable_app: Callable[..., Flask], kwargs: dict[str, Any], status: int) -> None:
    app = writable_app()
    assert_plain(app.test_client().post("/update", headers=AUTH, **kwargs), status)
    assert count(app) == 3


def test_dataset_conflict(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    resp = app.test_client().post("/update?using-graph-uri=urn:x", headers=AUTH, content_type=UPDATE,
                                  data=b"WITH <urn:g> INSERT { ?s a <urn:T> } WHERE { ?s ?p ?o }")
    assert_plain(resp, 400, "its own dataset")


def test_size_cap(writable_app: Callable[..., Flask], live_server: Callable[[Flask], str]) -> None:
    app = writable_app(UPDATE_MAX_BYTES=1000)
    text = "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> \"" + "x" * 2000 + "\" } }"
    assert_plain(post(app, text), 413)
    url = urllib.parse.urlsplit(live_server(app))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    conn.request("POST", "/update", body=(text.encode()[i:i + 100] for i in range(0, len(text), 100)),
                 encode_chunked=True, headers={**AUTH, "Content-Type": UPDATE, "Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 413  # a chunked body is cut at the cap, not trusted
    conn.close()
    assert count(app) == 3


def test_runaway_update_is_killed_and_rolled_back(writable_app: Callable[..., Flask]) -> None:
    app = writable_app(UPDATE_TIMEOUT=2)
    cartesian = " ".join(f"GRAPH ?g{i} {{ ?s{i} ?p{i} ?o{i} }}" for i in range(20))
    text = ("INSERT DATA { GRAPH <urn:first> { <urn:a> <urn:b> <urn:c> } } ;\n"
            f"INSERT {{ GRAPH <urn:g> {{ <urn:a> <urn:count> ?n }} }} WHERE {{ SELECT (COUNT(*) AS ?n) "
            f"WHERE {{ {cartesian} }} }}")
    assert post(app, "CLEAR SILENT GRAPH <urn:warm>").status_code == 204  # the writer is up
    writer = app.extensions["kg_store"].writer
    before = writer.pid()
    started = time.monotonic()
    resp = post(app, text)
    assert_plain(resp, 503, "2 s limit")
    assert time.monotonic() - started < 20  # bounded: the writer was killed, not waited for
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)
    assert count(app) == 3 and not ask(app, "ASK { GRAPH <urn:first> { ?s ?p ?o } }")
    assert post(app, "INSERT DATA { GRAPH <urn:after> { <urn:a> <urn:b> <urn:c> } }").status_code == 204
    assert writer.pid() != before
    assert ask(app, "ASK { GRAPH <urn:after> { ?s ?p ?o } }")


# --- read-your-writes through the query workers; caches follow the data ---------------------


def test_each_write_is_visible_to_the_query_workers(writable_app: Callable[..., Flask]) -> None:
    app = writable_app(QUERY_WORKERS=2, QUERY_TIMEOUT=10)
    for n in range(4):
        assert post(app, f"INSERT DATA {{ GRAPH <urn:g> {{ <urn:a> <urn:b> {n} }} }}").status_code == 204
        assert ask(app, f"ASK {{ GRAPH <urn:g> {{ <urn:a> <urn:b> {n} }} }}")
        assert count(app) == 3 + n + 1
    resp = app.test_client().get("/sparql", query_string={"query": "SELECT * FROM <urn:g> { ?s ?p ?o }"})
    assert resp.status_code == 200, resp.data  # the guard knows the new graph
    kept = sorted(p.name for p in generations_dir(app.config["STORE_PATH"]).iterdir())
    assert 1 <= len(kept) <= 3, kept  # old generations are removed once no worker holds them


def test_service_description_follows_writes(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    client = app.test_client()
    assert b"urn:fresh" not in client.get("/sparql", headers={"Accept": "text/turtle"}).data
    assert post(app, "CREATE GRAPH <urn:fresh>").status_code == 204
    assert b"urn:fresh" in client.get("/sparql", headers={"Accept": "text/turtle"}).data


# --- a real server: gunicorn with updates on, over a copy of the built graph ---------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port",
                                 str(port), "--workers", "2"], env=env, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def _http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_live_server_reads_its_writes_and_keeps_them(kg_config: dict[str, Any], built_kg: Any,
                                                     tmp_path: Path) -> None:
    """``territory-kg serve`` with updates on: an acknowledged update is at once visible through the
    query workers and on the resource's page; after a restart it is still there."""
    store = tmp_path / "store"
    shutil.copytree(kg_config["STORE_PATH"], store)
    shutil.copy(Path(kg_config["STORE_PATH"]).parent / "build-info.json", tmp_path / "build-info.json")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KG_STORE_PATH": str(store), "KG_BASE_URI": "http://kg.test/", "KG_UPDATES": "on",
           "KG_UPDATE_TOKEN": TOKEN, "KG_QUERY_WORKERS": "2", "KG_DUMPS_DIR": kg_config["DUMPS_DIR"]}
    commune = "http://kg.test/id/commune/59350"  # Lille
    note = "live-update-note-4d2c"
    ask_note = urllib.parse.urlencode({"query": f'ASK {{ <{commune}> <http://www.w3.org/2004/02/skos/core#note> '
                                                f'"{note}"@en }}', "format": "json"})
    log = tmp_path / "server.log"
    proc = _start(env, port, log)
    try:
        status, page = _http(f"{base}/page/commune/59350?lang=en", headers={"Accept": "text/html"})
        assert status == 200 and note.encode() not in page
        update = (f'INSERT DATA {{ GRAPH <http://kg.test/graph/edits> {{ <{commune}> '
                  f'<http://www.w3.org/2004/02/skos/core#note> "{note}"@en }} }}').encode()
        status, _ = _http(f"{base}/update", update, {**AUTH, "Content-Type": UPDATE})
        assert status == 204
        status, body = _http(f"{base}/sparql?{ask_note}")
        assert status == 200 and json.loads(body)["boolean"] is True  # through a query worker, at once
        status, page = _http(f"{base}/page/commune/59350?lang=en", headers={"Accept": "text/html"})
        assert status == 200 and note.encode() in page
    finally:
        _stop(proc)
    assert "POST /update" in log.read_text() and TOKEN not in log.read_text()  # the access log
    proc = _start(env, port, log)
    try:
        status, body = _http(f"{base}/sparql?{ask_note}")
        assert status == 200 and json.loads(body)["boolean"] is True
    finally:
        _stop(proc)


# --- the remote backend: /update and the Graph Store over a real Virtuoso -------------------


@pytest.fixture()
def remote_app(virtuoso: Any) -> Iterator[Flask]:
    from tests.conftest_virtuoso import remote_overrides

    app = create_app({"TESTING": True, "BASE_URI": "http://kg.test/", "LOG_LEVEL": "WARNING", "QUERY_WORKERS": 0,
                      "UPDATES": "on", "UPDATE_TOKEN": TOKEN, **remote_overrides(virtuoso),
                      "SPARQL_GRAPH_PREFIX": "http://kg.test/graph/upd/"})
    yield app
    post(app, "DROP SILENT GRAPH <http://kg.test/graph/upd/a> ; DROP SILENT GRAPH <http://kg.test/graph/upd/b>")


def test_remote_update_and_graph_store(remote_app: Flask) -> None:
    graph = "http://kg.test/graph/upd/a"
    assert post(remote_app, f"INSERT DATA {{ GRAPH <{graph}> {{ <urn:a> <urn:b> <rel> }} }}").status_code == 204
    assert ask(remote_app, "ASK { <urn:a> <urn:b> <http://kg.test/rel> }")  # the union of the prefix's graphs
    client = remote_app.test_client()
    resp = client.get("/rdf-graph-store", query_string={"graph": graph}, headers={"Accept": "application/n-triples"})
    assert resp.status_code == 200 and resp.data.strip() == b"<urn:a> <urn:b> <http://kg.test/rel> ."
    other = "http://kg.test/graph/upd/b"
    assert client.put(f"/rdf-graph-store?graph={other}", data=b"<urn:s> <urn:p> [ <urn:q> 1 ] .",
                      content_type="text/turtle", headers=AUTH).status_code == 201
    assert ask(remote_app, f"ASK {{ GRAPH <{other}> {{ <urn:s> <urn:p> ?b . ?b <urn:q> 1 }} }}")
    assert client.put(f"/rdf-graph-store?graph={other}", data=b"<urn:s> <urn:p> 2 .", content_type="text/turtle",
                      headers=AUTH).status_code == 204
    assert not ask(remote_app, f"ASK {{ GRAPH <{other}> {{ <urn:s> <urn:p> ?b . ?b <urn:q> 1 }} }}")
    assert client.delete(f"/rdf-graph-store?graph={other}", headers=AUTH).status_code == 204
    assert client.get(f"/rdf-graph-store?graph={other}").status_code == 404
    assert_plain(client.get("/rdf-graph-store?default"), 400, "no separate default graph")


def test_remote_refusals(remote_app: Flask, canary: Canary) -> None:
    assert_plain(post(remote_app, f"LOAD <http://127.0.0.1:{canary.port}/x> INTO GRAPH <http://kg.test/graph/upd/a>"),
                 422, "LOAD")
    assert_plain(post(remote_app, "INSERT { GRAPH <http://kg.test/graph/upd/a> { ?s ?p ?o } } WHERE "
                                  f"{{ SERVICE <http://127.0.0.1:{canary.port}/sparql> {{ ?s ?p ?o }} }}"), 422)
    assert_plain(post(remote_app, "CLEAR ALL", {"Authorization": "Bearer nope-nope-nope-nope"}), 401)
    time.sleep(0.3)
    assert canary.count == 0


def test_remote_failed_update_is_not_atomic(remote_app: Flask) -> None:
    """A documented limitation: Virtuoso 7.2 commits operation by operation. A syntax error
    changes nothing (400), but an operation failing at run time (502, the engine's 500) leaves
    the operations before it applied. The embedded store rolls the whole request back."""
    client = remote_app.test_client()
    graph = "/rdf-graph-store?graph=http://kg.test/graph/upd/a"
    insert = "INSERT DATA { GRAPH <http://kg.test/graph/upd/a> { <urn:a> <urn:b> <urn:c> } } ;\n"
    assert_plain(post(remote_app, insert + "CLEAR XYZ"), 400, "syntax error")
    assert client.get(graph).status_code == 404
    assert_plain(post(remote_app, insert + "DROP GRAPH <urn:missing:graph>"), 502, "SPARUL_DROP")
    assert client.get(graph).status_code == 200  # kept: not atomic on this engine


def test_writes_never_touch_the_published_dumps(writable_app: Callable[..., Flask], dumps_dir: Path,
                                                tmp_path: Path) -> None:
    """Row F8 of docs/hardening.md: dumps come only from builds, so writes leave them whole.

    The dumps of the session's build are copied beside a writable store; after acknowledged
    writes (an update and a Graph Store upload) every file keeps its bytes and time stamp,
    and ``/dumps.json`` still lists the same checksums, which still match the files.
    """
    import hashlib

    dumps = tmp_path / "dumps"
    shutil.copytree(dumps_dir, dumps)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(dumps.iterdir())}
    app = writable_app(DUMPS_DIR=str(dumps))
    listed = app.test_client().get("/dumps.json").get_json()
    assert post(app, "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }").status_code == 204
    resp = app.test_client().put("/rdf-graph-store?graph=urn:h", data=b"<urn:x> <urn:y> <urn:z> .\n",
                                 content_type="application/n-triples", headers=AUTH)
    assert resp.status_code in (201, 204), resp.get_data(as_text=True)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(dumps.iterdir())} == before
    after = app.test_client().get("/dumps.json").get_json()
    assert after == listed and after["dumps"]
    for entry in after["dumps"]:
        assert hashlib.sha256(before[entry["name"]][0]).hexdigest() == entry["sha256"]
