"""The Graph Store HTTP Protocol at /rdf-graph-store: reads, writes, formats, hostile uploads.

Writes run on a fresh store per test (``tests/web/writable.py``). Hostile uploads prove
their absence of harm: a canary TCP listener on 127.0.0.1 sees no connection, and the
content of a canary file (a unique literal) never reaches the store or a response.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rdflib import Graph
from rdflib.compare import isomorphic

from tests.canary import Canary
from tests.web.writable import AUTH, assert_plain, writable_app  # noqa: F401 - fixture

DATA1 = "http://kasei.us/2009/09/sparql/data/data1.rdf"
GSP = "/rdf-graph-store"
TTL = "text/turtle"
PERSON = """@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<http://www.example/gsp/person/1> a foaf:Person ; foaf:name "Jane Doe" ; foaf:knows [ foaf:name "Bob" ] .
"""

#: The same graph in every upload format.
DOCS = {
    "text/turtle": PERSON,
    "application/n-triples": '<http://www.example/gsp/person/1> <http://xmlns.com/foaf/0.1/name> "Jane Doe" .\n',
    "application/n-quads": '<http://www.example/gsp/person/1> <http://xmlns.com/foaf/0.1/name> "Jane Doe" .\n',
    "application/trig": '{ <http://www.example/gsp/person/1> <http://xmlns.com/foaf/0.1/name> "Jane Doe" }\n',
    "application/rdf+xml": """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY foaf "http://xmlns.com/foaf/0.1/"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:foaf="&foaf;">
  <rdf:Description rdf:about="http://www.example/gsp/person/1"><foaf:name>Jane Doe</foaf:name></rdf:Description>
</rdf:RDF>""",
    "application/ld+json": json.dumps({"@context": {"name": "http://xmlns.com/foaf/0.1/name"},
                                       "@id": "http://www.example/gsp/person/1", "name": "Jane Doe"}),
}


def gsp(app: Flask, method: str, query: str = "", path: str = GSP, **kw: Any) -> Any:
    return app.test_client().open(f"{path}{'?' if query else ''}{query}", method=method, **kw)


def get_graph(app: Flask, query: str) -> Graph:
    resp = gsp(app, "GET", query, headers={"Accept": TTL})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"] == "text/turtle; charset=utf-8"
    return Graph().parse(data=resp.data, format="turtle")


# --- read-only server ---------------------------------------------------------------------


def test_read_only_server_reads_graphs(inproc_app: Flask) -> None:
    resp = gsp(inproc_app, "GET", f"graph={DATA1}", headers={"Accept": "application/n-triples"})
    assert resp.status_code == 200 and resp.mimetype == "application/n-triples"
    assert resp.data.count(b"\n") == 1 and resp.headers["Vary"] == "Accept"
    head = gsp(inproc_app, "HEAD", f"graph={DATA1}")
    assert head.status_code == 200 and head.mimetype == TTL and head.data == b""
    assert_plain(gsp(inproc_app, "GET", "graph=urn:missing"), 404)
    assert_plain(gsp(inproc_app, "GET", "graph=not%20an%20iri"), 400)
    assert_plain(gsp(inproc_app, "GET", f"graph={DATA1}", headers={"Accept": "image/png"}), 406)


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_read_only_server_refuses_writes(inproc_app: Flask, method: str) -> None:
    resp = gsp(inproc_app, method, f"graph={DATA1}", data=PERSON, content_type=TTL, headers=AUTH)
    assert assert_plain(resp, 403) == "The server is read-only.\n"
    assert gsp(inproc_app, "GET", f"graph={DATA1}").status_code == 200


# --- writes -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_writes_need_the_token(writable_app: Callable[..., Flask], method: str) -> None:
    app = writable_app()
    resp = gsp(app, method, f"graph={DATA1}", data=PERSON, content_type=TTL,
               headers={"Authorization": "Bearer not-the-token-at-all"})
    assert_plain(resp, 401)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert len(get_graph(app, f"graph={DATA1}")) == 1


def test_put_post_delete_cycle(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    target = "graph=http%3A%2F%2Fwww.example%2Fgsp%2Fperson%2F1.ttl"
    assert gsp(app, "PUT", target, data=PERSON, content_type=TTL, headers=AUTH).status_code == 201
    assert isomorphic(get_graph(app, target), Graph().parse(data=PERSON, format="turtle"))
    assert gsp(app, "PUT", target, data=DOCS["application/n-triples"], content_type="application/n-triples",
               headers=AUTH).status_code == 204
    assert len(get_graph(app, target)) == 1
    more = '<http://www.example/gsp/person/1> <http://xmlns.com/foaf/0.1/age> 42 .'
    assert gsp(app, "POST", target, data=more, content_type=TTL, headers=AUTH).status_code == 204
    assert len(get_graph(app, target)) == 2
    assert gsp(app, "DELETE", target, headers=AUTH).status_code == 204
    assert_plain(gsp(app, "GET", target), 404)
    assert_plain(gsp(app, "DELETE", target, headers=AUTH), 404)
    assert app.extensions["kg_data_generation"] == 4


def test_post_creates_a_graph_with_its_location(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    resp = gsp(app, "POST", data=PERSON, content_type=TTL, headers=AUTH)
    assert resp.status_code == 201
    location = resp.headers["Location"]
    assert location.startswith("http://kg.test/rdf-graph-store/")
    direct = location.removeprefix("http://kg.test")
    assert len(get_graph(app, f"graph={location}")) == 4
    resp = gsp(app, "GET", path=direct, headers={"Accept": TTL})
    assert resp.status_code == 200 and len(Graph().parse(data=resp.data, format="turtle")) == 4


def test_direct_identification(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    assert gsp(app, "PUT", path=f"{GSP}/people/jane.ttl", data=PERSON, content_type=TTL,
               headers=AUTH).status_code == 201
    assert len(get_graph(app, "graph=http://kg.test/rdf-graph-store/people/jane.ttl")) == 4
    assert gsp(app, "DELETE", path=f"{GSP}/people/jane.ttl", headers=AUTH).status_code == 204
    assert gsp(app, "HEAD", path=f"{GSP}/people/jane.ttl").status_code == 404


def test_default_graph(writable_app: Callable[..., Flask]) -> None:
    app = writable_app()
    assert len(get_graph(app, "default")) == 0  # the data lives in named graphs
    assert gsp(app, "PUT", "default", data=PERSON, content_type=TTL, headers=AUTH).status_code in (200, 204)
    assert len(get_graph(app, "default")) == 4
    assert len(get_graph(app, f"graph={DATA1}")) == 1
    assert gsp(app, "DELETE", "default", headers=AUTH).status_code == 204
    assert len(get_graph(app, "default")) == 0


@pytest.mark.parametrize("media_type", sorted(DOCS))
def test_every_upload_format(writable_app: Callable[..., Flask], media_type: str) -> None:
    app = writable_app()
    resp = gsp(app, "PUT", "graph=urn:person", data=DOCS[media_type].encode(), content_type=media_type, headers=AUTH)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    names = [str(o) for o in get_graph(app, "graph=urn:person").objects()]
    assert "Jane Doe" in names


def test_multipart_post(writable_app: Callable[..., Flask]) -> None:
    import io

    app = writable_app()
    files = {"a": (io.BytesIO(PERSON.encode()), "a.ttl", TTL),
             "b": (io.BytesIO(DOCS["application/ld+json"].encode()), "b.jsonld", "application/ld+json")}
    resp = gsp(app, "POST", "graph=urn:person", data=files, content_type="multipart/form-data", headers=AUTH)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert len(get_graph(app, "graph=urn:person")) == 4


@pytest.mark.parametrize(("body", "media_type", "status", "words"), [
    (b"<urn:a> <urn:b> .", TTL, 400, "not valid"),
    (b"<urn:a> <urn:b> <urn:c> .", "text/html", 415, "Cannot read"),
    (b"<urn:a> <urn:b> <urn:c> .", "", 415, "Cannot read"),
    (b"{ <urn:a> <urn:b> <urn:c> } <urn:g> { <urn:a> <urn:b> <urn:c> }", "application/trig", 400, "names graphs"),
    (b"<urn:a> <urn:b> <urn:c> <urn:g> .", "application/n-quads", 400, "names graphs"),
    ("<urn:a> <urn:b> \"é\" .".encode("latin-1"), "text/turtle; charset=latin-1", 400, "UTF-8"),
])
def test_bad_uploads_change_nothing(writable_app: Callable[..., Flask], body: bytes, media_type: str, status: int,
                                    words: str) -> None:
    app = writable_app()
    resp = gsp(app, "PUT", f"graph={DATA1}", data=body, content_type=media_type or None, headers=AUTH)
    assert_plain(resp, status, words)
    assert len(get_graph(app, f"graph={DATA1}")) == 1


def test_upload_size_cap(writable_app: Callable[..., Flask]) -> None:
    app = writable_app(UPDATE_MAX_BYTES=1000)
    body = "".join(f"<urn:s> <urn:p> {n} .\n" for n in range(200)).encode()
    assert_plain(gsp(app, "PUT", "graph=urn:big", data=body, content_type=TTL, headers=AUTH), 413)
    assert_plain(gsp(app, "GET", "graph=urn:big"), 404)


# --- hostile uploads ----------------------------------------------------------------------


def _no_harm(app: Flask, resp: Any, canary: Canary, secret: str) -> None:
    assert_plain(resp, 400)
    assert secret not in resp.get_data(as_text=True)
    time.sleep(0.3)  # a connection would have reached the listener by now
    assert canary.count == 0
    assert gsp(app, "GET", "graph=urn:evil").status_code == 404
    dump = app.test_client().get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }", "format": "nt"})
    assert secret not in dump.get_data(as_text=True)


@pytest.fixture()
def canary_file(tmp_path: Path) -> tuple[Path, str]:
    secret = "canary-5b1e0c"
    path = tmp_path / "canary.txt"
    path.write_text(secret)
    return path, secret


@pytest.mark.parametrize("entity", ['SYSTEM "file://{file}"', 'SYSTEM "http://127.0.0.1:{port}/x"',
                                    'PUBLIC "-//x//y" "http://127.0.0.1:{port}/x"'])
def test_xml_external_entities_are_not_resolved(writable_app: Callable[..., Flask], canary: Canary,
                                                canary_file: tuple[Path, str], entity: str) -> None:
    app = writable_app()
    doc = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY xxe {entity.format(file=canary_file[0], port=canary.port)}> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex/">
  <rdf:Description rdf:about="http://ex/s"><ex:p>&xxe;</ex:p></rdf:Description></rdf:RDF>"""
    resp = gsp(app, "PUT", "graph=urn:evil", data=doc, content_type="application/rdf+xml", headers=AUTH)
    _no_harm(app, resp, canary, canary_file[1])


def test_external_dtd_is_not_fetched(writable_app: Callable[..., Flask], canary: Canary) -> None:
    app = writable_app()
    doc = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF SYSTEM "http://127.0.0.1:{canary.port}/evil.dtd">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>"""
    resp = gsp(app, "PUT", "graph=urn:evil", data=doc, content_type="application/rdf+xml", headers=AUTH)
    _no_harm(app, resp, canary, "canary")


@pytest.mark.parametrize("levels", [9, 30])
def test_entity_expansion_bombs_are_refused(writable_app: Callable[..., Flask], canary: Canary, levels: int) -> None:
    app = writable_app()
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    doc = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ {" ".join(entities)} ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex/">
  <rdf:Description rdf:about="http://ex/s"><ex:p>&lol{levels - 1};</ex:p></rdf:Description></rdf:RDF>"""
    started = time.monotonic()
    resp = gsp(app, "PUT", "graph=urn:evil", data=doc, content_type="application/rdf+xml", headers=AUTH)
    assert time.monotonic() - started < 30  # refused up front, never expanded (10^9 bytes at 9 levels)
    _no_harm(app, resp, canary, "lollollol")


def test_quadratic_entity_blowup_is_refused(writable_app: Callable[..., Flask], canary: Canary) -> None:
    app = writable_app()
    doc = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY a "{'x' * 50_000}"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex/">
  <rdf:Description rdf:about="http://ex/s"><ex:p>{'&a;' * 50_000}</ex:p></rdf:Description></rdf:RDF>"""
    _no_harm(app, gsp(app, "PUT", "graph=urn:evil", data=doc, content_type="application/rdf+xml", headers=AUTH),
             canary, "xxxxxxxxxx")


@pytest.mark.parametrize("context", ["http://127.0.0.1:{port}/context.jsonld", "file://{file}",
                                     {"@import": "http://127.0.0.1:{port}/context.jsonld"},
                                     ["http://127.0.0.1:{port}/a", {"name": "http://xmlns.com/foaf/0.1/name"}]])
def test_jsonld_remote_contexts_are_never_fetched(writable_app: Callable[..., Flask], canary: Canary,
                                                  canary_file: tuple[Path, str], context: Any) -> None:
    app = writable_app()
    text = json.dumps({"@context": context, "@id": "http://ex/s", "name": "x"})
    text = text.replace("{port}", str(canary.port)).replace("{file}", str(canary_file[0]))
    resp = gsp(app, "PUT", "graph=urn:evil", data=text, content_type="application/ld+json", headers=AUTH)
    _no_harm(app, resp, canary, canary_file[1])
    assert "remote @context" in resp.get_data(as_text=True)
