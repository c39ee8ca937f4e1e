"""hardening.md 4.2, the write rows (U1–U9, S4/S5 with a token) against the real server with updates on.

One gunicorn server with ``KG_UPDATES=on`` (its single writer child owns a small store)
serves the module; a second one, read-only with the same token configured, proves 403.
Every hostile case ends with :func:`harness.assert_harmless` (no 500, no trace or path, no
canary connection or read, ``/health`` within 1 s, no traceback in the log) and, when the
write must be refused, with the store unchanged: the same quads through ``/sparql`` and the
same store files (RocksDB's info logs aside).
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.hardening.harness import Canary, CanaryFile, Guards, Reply, Server, assert_harmless, rss_bytes
from tests.hardening.writes import (AUTH, TOKEN, UPDATE, DirFingerprint, Writes, seed_store, write_settings)

MAX_BYTES = 2_000_000  # KG_UPDATE_MAX_BYTES here: the size rows need no 10 MB bodies
NEW_TRIPLE = b"<urn:new> <urn:p> <urn:o> .\n"


@pytest.fixture(scope="module")
def writes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Writes]:
    directory = tmp_path_factory.mktemp("writes")
    server = Server(write_settings(seed_store(directory / "store"), UPDATE_MAX_BYTES=MAX_BYTES),
                    directory / "write-server.log", workers=1)
    writes = Writes(server)
    writes.open()  # the store opens on first use: open it before any fingerprint is taken
    yield writes
    server.stop()


@pytest.fixture()
def armed(writes: Writes, canary: Canary, canary_file: CanaryFile) -> Callable[[], Guards]:
    """``armed()``: guards for one case (store files fingerprinted without RocksDB's logs)."""

    def arm() -> Guards:
        guards = Guards(writes.server, canary, canary_file, DirFingerprint(writes.server.settings["STORE_PATH"]))
        guards.arm()
        return guards

    return arm


def refused(reply: Reply, status: int | tuple[int, ...], *words: str, write_route: bool = True) -> Reply:
    """A short plain-text refusal; write routes send no CORS header."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert reply.status in statuses, reply
    assert reply.header("Content-Type").startswith("text/plain"), reply.headers
    if write_route:
        assert not reply.header("Access-Control-Allow-Origin"), reply.headers
    for word in words:
        assert word.lower() in reply.text.lower(), (word, reply.text)
    return reply


def unchanged(writes: Writes, guards: Guards, before: str, *replies: Reply) -> None:
    """The shared verdict plus: the same quads, the same store files."""
    assert_harmless(guards, *replies, extra_leaks=[TOKEN])
    assert writes.snapshot() == before
    assert guards.store is not None and not guards.store.changes(), guards.store.changes()


# --- U1: every write route and method, without a valid token --------------------------------------------

TARGETS = [("POST", "/update", "application/sparql-update", b"DROP ALL"),
           ("POST", "/update", "application/x-www-form-urlencoded", b"update=DROP%20ALL"),
           ("POST", "/update?update=DROP%20ALL", "application/x-www-form-urlencoded", b""),
           ("PUT", "/rdf-graph-store?graph=urn:seed", "text/turtle", NEW_TRIPLE),
           ("POST", "/rdf-graph-store?graph=urn:seed", "text/turtle", NEW_TRIPLE),
           ("DELETE", "/rdf-graph-store?graph=urn:seed", "", None),
           ("PUT", "/rdf-graph-store?default", "text/turtle", NEW_TRIPLE),
           ("DELETE", "/rdf-graph-store?default", "", None),
           ("POST", "/rdf-graph-store", "text/turtle", NEW_TRIPLE),
           ("PUT", "/rdf-graph-store/x", "text/turtle", NEW_TRIPLE),
           ("POST", "/rdf-graph-store/x", "application/n-triples", NEW_TRIPLE),
           ("DELETE", "/rdf-graph-store/x", "", None)]

WRONG = {"none": {}, "empty-bearer": {"Authorization": "Bearer "}, "scheme-only": {"Authorization": "Bearer"},
         "basic-with-token": {"Authorization": "Basic " + base64.b64encode(f"admin:{TOKEN}".encode()).decode()},
         "token-without-scheme": {"Authorization": TOKEN},
         "wrong": {"Authorization": "Bearer wrong-token-0000000000000"},
         "near-miss": {"Authorization": f"Bearer {TOKEN[:-1]}"},
         "longer": {"Authorization": f"Bearer {TOKEN}x"},
         "case": {"Authorization": f"Bearer {TOKEN.upper()}"},
         "non-ascii": {"Authorization": "Bearer t\u00f6ken-0123456789abcdef".encode().decode("latin-1")},
         "cookie": {"Cookie": f"token={TOKEN}; session={TOKEN}"},
         "other-header": {"X-Api-Key": TOKEN, "X-Auth-Token": TOKEN}}


def test_U1_every_write_route_needs_the_token(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    replies = []
    for method, path, media, body in TARGETS:
        for name, auth in WRONG.items():
            headers = {**auth, **({"Content-Type": media} if media else {})}
            reply = writes.server.request(method, path, headers=headers, body=body)
            refused(reply, 401)
            challenge = reply.header("WWW-Authenticate")
            assert challenge.startswith("Bearer realm="), (method, path, name, reply.headers)
            if name not in ("none", "empty-bearer", "scheme-only", "basic-with-token", "token-without-scheme",
                            "cookie", "other-header"):
                assert 'error="invalid_token"' in challenge, (name, challenge)
            replies.append(reply)
    unchanged(writes, guards, before, *replies)


def test_U1_a_thousand_wrong_tokens_lock_nobody_out(writes: Writes, armed: Callable[[], Guards]) -> None:
    """No lockout after failures (it would let anyone lock the operator out); every guess is a 401,
    the server stays responsive, and the right token still works afterwards. A 16+ character token
    leaves guessing hopeless (95^16 candidates)."""
    guards, before = armed(), writes.snapshot()
    conn = http.client.HTTPConnection("127.0.0.1", writes.server.port, timeout=10)
    statuses = []
    for i in range(1000):
        conn.request("POST", "/update", body=b"DROP ALL",
                     headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer guess-{i:012d}"})
        resp = conn.getresponse()
        resp.read()
        statuses.append(resp.status)
        if i % 250 == 0:
            writes.server.health_within(1.0)
    conn.close()
    assert set(statuses) == {401}, set(statuses)
    unchanged(writes, guards, before)
    ok = writes.update("INSERT DATA { GRAPH <urn:u1> { <urn:after> <urn:p> 1 } }")
    assert ok.status == 204, ok
    assert writes.ask("ASK { GRAPH <urn:u1> { <urn:after> <urn:p> 1 } }")
    assert writes.update("DROP GRAPH <urn:u1>").status == 204


def test_U1_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A timing test over HTTP cannot resolve a byte-by-byte compare (nanoseconds under milliseconds
    of noise), so this checks the mechanism: every check goes through ``hmac.compare_digest``."""
    import hmac

    from flask import Flask

    from service import writes as writes_module

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(writes_module.hmac, "compare_digest", spy)
    app = Flask(__name__)
    app.config.update(UPDATES=True, UPDATE_TOKEN=TOKEN)
    for token, allowed in ((TOKEN, True), (TOKEN[:-1] + "X", False), ("x", False)):
        with app.test_request_context("/update", method="POST", headers={"Authorization": f"Bearer {token}"}):
            from flask import request

            try:
                writes_module.authorise(app, request)
                passed = True
            except writes_module.Unauthorized:
                passed = False
        assert passed is allowed
    assert [a for a, _ in calls] == [TOKEN.encode(), (TOKEN[:-1] + "X").encode(), b"x"]


# --- U2/U3: read-only with the token; updates on the query route; CSRF and CORS -----------------------


def test_U2_read_only_mode_refuses_the_right_token(tmp_path: Path, canary: Canary, canary_file: CanaryFile) -> None:
    store = seed_store(tmp_path / "store")
    server = Server(write_settings(store, UPDATES="off"), tmp_path / "read-only.log", workers=1)
    try:
        guards = Guards(server, canary, canary_file, DirFingerprint(store))
        guards.arm()
        replies = []
        for method, path, media, body in TARGETS:
            headers = {**AUTH, **({"Content-Type": media} if media else {})}
            replies.append(refused(server.request(method, path, headers=headers, body=body), 403, "read-only"))
        replies.append(refused(server.get("/sparql", {"update": "DROP ALL"}, headers=AUTH), 400, "update", write_route=False))
        replies.append(refused(server.get("/sparql", {"query": "DROP ALL"}, headers=AUTH), 400, "update", write_route=False))
        assert_harmless(guards, *replies, extra_leaks=[TOKEN])
        assert TOKEN not in server.log()
    finally:
        server.stop()


def test_U2_updates_on_still_no_update_through_queries(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    server = writes.server
    replies = [refused(server.get("/sparql", {"update": "DROP ALL"}, headers=AUTH), 400, "update", write_route=False),
               refused(server.get("/sparql", {"query": "DROP ALL"}, headers=AUTH), 400, "update", write_route=False),
               refused(server.request("POST", "/sparql", headers={**AUTH, "Content-Type": "application/sparql-query"},
                                      body=b"DROP ALL"), 400, "update", write_route=False),
               refused(server.request("POST", "/sparql", body=b"update=DROP%20ALL",
                                      headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"}), 400,
                       write_route=False),
               refused(server.request("GET", "/update?update=DROP%20ALL", headers=AUTH), 405),
               refused(server.request("POST", "/update", headers=UPDATE, body=b"SELECT * { ?s ?p ?o }"), 400)]
    unchanged(writes, guards, before, *replies)


def test_U3_csrf_and_cors_with_updates_on(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    server, replies = writes.server, []
    for path, body, media in (("/update", b"update=DROP%20ALL", "application/x-www-form-urlencoded"),
                              ("/rdf-graph-store?graph=urn:seed", NEW_TRIPLE, "text/plain")):
        replies.append(refused(server.request("POST", path, body=body, headers={
            "Content-Type": media, "Origin": "https://evil.example", "Referer": "https://evil.example/form",
            "Cookie": f"session={TOKEN}"}), 401))
    for path in ("/update", "/rdf-graph-store", "/rdf-graph-store?graph=urn:seed"):
        preflight = server.request("OPTIONS", path, headers={"Origin": "https://evil.example",
                                                             "Access-Control-Request-Method": "PUT",
                                                             "Access-Control-Request-Headers": "authorization"})
        assert not preflight.header("Access-Control-Allow-Origin"), (path, preflight.headers)
        assert not preflight.header("Access-Control-Allow-Headers"), (path, preflight.headers)
        replies.append(preflight)
    unchanged(writes, guards, before, *replies)
    ok = writes.update("INSERT DATA { GRAPH <urn:u3> { <urn:x> <urn:p> 1 } }", headers={
        **UPDATE, "Origin": "https://evil.example"})
    assert ok.status == 204 and not ok.header("Access-Control-Allow-Origin"), ok  # no CORS on a success either
    assert writes.update("DROP GRAPH <urn:u3>").status == 204


# --- S4/S5: LOAD and SERVICE, authenticated -------------------------------------------------------------


def test_S4_authenticated_load_is_refused(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    canary, file = guards.canary.url, guards.canary_file.iri
    texts = [f"LOAD <{canary}x.ttl> INTO GRAPH <urn:g>", f"LOAD <{file}>", f"LOAD <{file}> INTO GRAPH <urn:g>",
             f"LOAD SILENT <{canary}x.ttl>", f"load <{canary}x.ttl>", f"\\u004cOAD <{canary}x.ttl>",
             f"LOAD <http://[::1]:{guards.canary.port}/x>", "LOAD <http://169.254.169.254/latest/meta-data/>",
             f"INSERT DATA {{ GRAPH <urn:g> {{ <urn:a> <urn:b> 1 }} }} ;\nLOAD <{canary}x.ttl> INTO GRAPH <urn:g>",
             f"# comment\nLOAD\n<{file}>"]
    replies = [refused(writes.update(text), 422, "LOAD") for text in texts]
    replies.append(refused(writes.server.request("POST", "/update", body=f"update={quote(texts[1])}".encode(),
                                                 headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"}),
                           422, "LOAD"))
    unchanged(writes, guards, before, *replies)
    assert writes.count("urn:g") == 0


def test_S5_authenticated_service_in_updates_is_refused(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    url = guards.canary.url
    texts = [f"INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
             "INSERT { GRAPH <urn:g> { ?s ?p ?o } } WHERE { SERVICE SILENT <http://169.254.169.254/> { ?s ?p ?o } }",
             f"INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ VALUES ?u {{ <{url}> }} SERVICE ?u {{ ?s ?p ?o }} }}",
             f"DELETE {{ GRAPH <urn:seed> {{ ?s ?p ?o }} }} WHERE {{ GRAPH <urn:seed> {{ ?s ?p ?o }} "
             f"SERVICE <{url}> {{ ?s ?p ?o }} }}",
             f"DELETE WHERE {{ GRAPH <urn:seed> {{ ?s ?p ?o }} }} ; INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} "
             f"WHERE {{ service <{url}> {{ ?s ?p ?o }} }}",
             f"WITH <urn:seed> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o . \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
             f"INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ SERVICE#c\n<{url}> {{ ?s ?p ?o }} }}"]
    replies = [refused(writes.update(text), 422, "SERVICE") for text in texts]
    unchanged(writes, guards, before, *replies)


# --- U4–U6: hostile uploads -------------------------------------------------------------------------------

RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex/"'


def laughs(levels: int) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return (f'<?xml version="1.0"?><!DOCTYPE rdf:RDF [ {" ".join(entities)} ]>'
            f'<rdf:RDF {RDF}><rdf:Description rdf:about="http://ex/s"><ex:p>&lol{levels - 1};</ex:p>'
            "</rdf:Description></rdf:RDF>").encode()


def test_U4_entity_expansion_bombs(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    rss_before = sum(rss_bytes(pid) for pid in writes.server.pids())
    replies = []
    quadratic = (f'<?xml version="1.0"?><!DOCTYPE rdf:RDF [ <!ENTITY a "{"x" * 50_000}"> ]><rdf:RDF {RDF}>'
                 f'<rdf:Description rdf:about="http://ex/s"><ex:p>{"&a;" * 30_000}</ex:p></rdf:Description>'
                 "</rdf:RDF>").encode()
    for body in (laughs(10), laughs(30), quadratic):
        for method, target in (("PUT", "?graph=urn:seed"), ("POST", "?graph=urn:bomb"), ("POST", ""),
                               ("PUT", "/bomb")):
            reply = writes.graph_store(method, target, body, "application/rdf+xml")
            refused(reply, 400, "RDF/XML")
            assert reply.seconds < 1.0, reply.seconds
            replies.append(reply)
    rss_after = sum(rss_bytes(pid) for pid in writes.server.pids())
    assert rss_after - rss_before < 50 * 2**20, (rss_before, rss_after)
    unchanged(writes, guards, before, *replies)


def test_U5_external_entities_and_dtds(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    port, path = guards.canary.port, guards.canary_file.path
    docs = [f'<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "file://{path}"> ]>',
            f'<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "{path}"> ]>',
            f'<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "http://127.0.0.1:{port}/x"> ]>',
            f'<!DOCTYPE rdf:RDF [ <!ENTITY x PUBLIC "-//x//y" "http://127.0.0.1:{port}/x"> ]>',
            f'<!DOCTYPE rdf:RDF SYSTEM "http://127.0.0.1:{port}/evil.dtd">',
            f'<!DOCTYPE rdf:RDF PUBLIC "-//x//y" "file://{path}">',
            f'<!DOCTYPE rdf:RDF [ <!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p; ]>',
            f'<!DOCTYPE rdf:RDF [ <!ENTITY x "a"> ]><!DOCTYPE rdf:RDF SYSTEM "file://{path}">']
    replies = []
    for doctype in docs:
        body = (f'<?xml version="1.0"?>{doctype}<rdf:RDF {RDF}><rdf:Description rdf:about="http://ex/s">'
                "<ex:p>&x;</ex:p></rdf:Description></rdf:RDF>").encode()
        replies.append(refused(writes.graph_store("PUT", "?graph=urn:xxe", body, "application/rdf+xml"), 400))
        replies.append(refused(writes.graph_store("POST", "/xxe", body, "application/rdf+xml"), 400))
    unchanged(writes, guards, before, *replies)


def test_U6_remote_jsonld_contexts(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    remote, local = f"{guards.canary.url}ctx.jsonld", guards.canary_file.iri
    contexts: list[Any] = [remote, local, str(guards.canary_file.path), [remote, {"name": "http://ex/name"}],
                           {"@import": remote}, {"@import": local},
                           {"name": {"@id": "http://ex/name", "@context": remote}},
                           {"@base": "http://ex/", "@vocab": "http://ex/", "x": {"@id": "x", "@context": local}}]
    replies = []
    for context in contexts:
        body = json.dumps({"@context": context, "@id": "http://ex/s", "name": "v", "x": {"y": "z"}}).encode()
        reply = writes.graph_store("PUT", "?graph=urn:ctx", body, "application/ld+json")
        refused(reply, 400)
        replies.append(reply)
    unchanged(writes, guards, before, *replies)


# --- U7: sizes, encodings ---------------------------------------------------------------------------------


def test_U7_oversized_and_encoded_bodies(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    server = writes.server
    over = MAX_BYTES + 1000
    literal = b'<urn:s> <urn:p> "' + b"A" * over + b'" .\n'
    insert = b'INSERT DATA { GRAPH <urn:big> { <urn:s> <urn:p> "' + b"A" * over + b'" } }'
    replies = [refused(writes.update(insert), 413),
               refused(server.request("POST", "/update", body=b"update=" + b"A" * (3 * MAX_BYTES + 10),
                                      headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"}), 413),
               refused(writes.graph_store("PUT", "?graph=urn:big", literal, "application/n-triples"), 413),
               refused(writes.graph_store("POST", "", literal, "text/turtle"), 413)]
    # chunked, no Content-Length: stopped at the cap
    head = (f"PUT /rdf-graph-store?graph=urn:big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/n-triples\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    chunk = b'<urn:s> <urn:p> "' + b"B" * 65_000 + b'" .\n'
    chunked = head + (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * 40 + b"0\r\n\r\n"
    raw = server.raw(chunked, timeout=20)
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]
    # a 200 MB Content-Length, with almost nothing sent: answered at once, nothing buffered
    announce = server.request("POST", "/update", headers={**UPDATE, "Content-Length": "200000000"}, body=b"DROP ALL",
                              timeout=10)
    refused(announce, 413)
    assert announce.seconds < 2.0, announce.seconds
    # a gzip bomb (10 MB of zeros in 10 kB) is never decompressed: the body is not Turtle
    bomb = gzip.compress(b"\0" * 10_000_000)
    rss_before = sum(rss_bytes(pid) for pid in server.pids())
    for method, path, media in (("PUT", "/rdf-graph-store?graph=urn:gz", "text/turtle"),
                                ("POST", "/update", "application/sparql-update")):
        reply = server.request(method, path, body=bomb, headers={**AUTH, "Content-Type": media,
                                                                 "Content-Encoding": "gzip"})
        refused(reply, (400, 415))
        replies.append(reply)
    assert sum(rss_bytes(pid) for pid in server.pids()) - rss_before < 50 * 2**20
    # non-UTF-8
    replies += [refused(writes.update(b'INSERT DATA { GRAPH <urn:g> { <urn:s> <urn:p> "caf\xe9" } }'), 400, "UTF-8"),
                refused(server.request("POST", "/update", body=b"update=INSERT%20DATA%20%7B%7D%FF",
                                       headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"}), 400),
                refused(writes.update("INSERT DATA { GRAPH <urn:g> { <urn:s> <urn:p> 1 } }", headers={
                    **AUTH, "Content-Type": "application/sparql-update; charset=iso-8859-1"}), 400),
                refused(writes.graph_store("PUT", "?graph=urn:g", b'<urn:s> <urn:p> "caf\xe9" .\n'), 400),
                refused(writes.graph_store("PUT", "?graph=urn:g", b'<urn:s> <urn:p> "x" .\n',
                                           headers={**AUTH, "Content-Type": "text/turtle; charset=latin-1"}), 400),
                refused(writes.graph_store("PUT", "?graph=urn:g", b"\xff\xfe<\x00u\x00", "application/n-triples"), 400)]
    unchanged(writes, guards, before, *replies)


# --- U8: a late error leaves everything as it was ---------------------------------------------------------


def test_U8_late_errors_change_nothing(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards, before = armed(), writes.snapshot()
    lines = [f'<urn:u8#s{i}> <urn:p> "value {i}" .\n' for i in range(30_000)]
    lines[27_000] = "<urn:u8#broken> <urn:p> \"unterminated .\n"  # at 90 %
    turtle = "".join(lines).encode()
    assert len(turtle) < MAX_BYTES
    replies = [refused(writes.graph_store(method, target, turtle), 400)
               for method, target in (("PUT", "?graph=urn:seed"), ("POST", "?graph=urn:seed"), ("PUT", "?default"),
                                      ("POST", ""), ("PUT", "/u8"))]
    good = "".join(f'<urn:u8#s{i}> <urn:p> "value {i}" .\n' for i in range(20_000))
    for bad_iri in ("<urn:u8#a b>", "<http://ex/\u0000>", '<http://ex/">', "<http://ex/{x}>"):
        text = f"INSERT DATA {{ GRAPH <urn:seed> {{\n{good}<urn:u8#end> <urn:p> {bad_iri} }} }}"
        replies.append(refused(writes.update(text), 400))
    two_ops = f"INSERT DATA {{ GRAPH <urn:u8> {{\n{good}}} }} ;\nCREATE GRAPH <urn:seed>"  # the 2nd op fails
    replies.append(refused(writes.update(two_ops), 400, "changed nothing"))
    unchanged(writes, guards, before, *replies)
    assert writes.count("urn:u8") == 0


# --- U9: concurrent writers and readers ---------------------------------------------------------------------


def test_U9_concurrent_writes_and_readers(writes: Writes, armed: Callable[[], Guards]) -> None:
    guards = armed()
    batch, writers = 200, 20
    statuses: list[int] = []
    seen: list[list[int]] = [[] for _ in range(4)]
    done = threading.Event()

    def write(n: int) -> None:
        triples = "".join(f"<urn:u9#w{n}-{i}> <urn:p> {i} .\n" for i in range(batch))
        for _ in range(5):  # an explicit 503 may be retried; anything else is final
            reply = writes.update(f"INSERT DATA {{ GRAPH <urn:u9> {{\n{triples}}} }}")
            if reply.status != 503:
                break
        statuses.append(reply.status)

    def read(k: int) -> None:
        while not done.is_set():
            seen[k].append(writes.count("urn:u9"))

    readers = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for thread in readers:
        thread.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    for thread in readers:
        thread.join(timeout=30)
    assert statuses == [204] * writers, statuses
    assert writes.count("urn:u9") == batch * writers  # no lost update
    for counts in seen:
        assert counts and all(c % batch == 0 for c in counts), counts  # never half a write
        assert counts == sorted(counts), counts  # a reader never goes back in time
    assert_harmless(guards, store_may_change=True, extra_leaks=[TOKEN])
    assert writes.update("DROP GRAPH <urn:u9>").status == 204


# --- last: nothing of the token in the log ------------------------------------------------------------------


def test_zz_token_never_logged_and_writes_audited(writes: Writes) -> None:
    """Runs last in this module: after hundreds of wrong and right tokens, none is in the log."""
    log = writes.server.log()
    assert TOKEN not in log and TOKEN[:-1] not in log and TOKEN.upper() not in log
    assert base64.b64encode(f"admin:{TOKEN}".encode()).decode() not in log
    assert "guess-000000000999" not in log
    assert "write POST from 127.0.0.1: update of" in log  # the audit line, one per acknowledged write
    assert "Traceback" not in log
