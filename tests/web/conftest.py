"""Fixtures for the /sparql tests: the W3C protocol data in an on-disk store, apps over it.

The store holds ``data1.nt``…``data3.nt`` of the W3C SPARQL 1.1 Protocol test suite
(``../shared/conformance/sparql11-protocol``), each in the named graph the manifest's
``ut:graphData`` gives it (see ``tests/data/protocol/README.md``). It is written once,
closed, then only ever opened read-only, by the apps and by their query workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rdflib import Graph, Namespace
from rdflib.namespace import RDFS

from service import create_app
from service.config import PROJECT_ROOT
from service.store import executor
from tests.canary import Canary

PROTOCOL_DIR = PROJECT_ROOT.parent / "shared" / "conformance" / "sparql11-protocol"
MANIFEST = PROTOCOL_DIR / "manifest.ttl"
TEST_BASE = "http://kg.test/"
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")


def protocol_graphs() -> dict[Path, str]:
    """Data file → graph IRI, as the manifest's ``ut:graphData`` entries pair them."""
    manifest = Graph().parse(MANIFEST, format="turtle")
    pairs = {}
    for node in manifest.objects(None, UT.graphData):
        pairs[Path(str(manifest.value(node, UT.graph)).removeprefix("file://"))] = str(manifest.value(node, RDFS.label))
    return pairs


@pytest.fixture(scope="session")
def protocol_store_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An on-disk store with the protocol data, closed before anyone opens it read-only."""
    import pyoxigraph as ox

    path = tmp_path_factory.mktemp("protocol") / "store"
    store = ox.Store(str(path))
    graphs = protocol_graphs()
    assert {p.name for p in graphs} == {"data1.nt", "data2.nt", "data3.nt"}, graphs
    for data, iri in graphs.items():
        store.load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(iri))
    store.flush()
    del store
    return str(path)


@pytest.fixture(scope="session")
def make_app(protocol_store_path: str) -> Iterator[Callable[..., Flask]]:
    """``make_app(**overrides)``: an app over the protocol store (in-process queries unless told)."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app({"TESTING": True, "BASE_URI": TEST_BASE, "STORE_PATH": protocol_store_path,
                          "QUERY_WORKERS": 0, "LOG_LEVEL": "WARNING", **overrides})
        apps.append(app)
        return app

    yield make
    for app in apps:
        executor.shutdown(app)


@pytest.fixture(scope="session")
def inproc_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture(scope="session")
def pool_app(make_app: Callable[..., Flask]) -> Flask:
    """Two killable query workers, a 2 s timeout."""
    return make_app(QUERY_WORKERS=2, QUERY_TIMEOUT=2, QUERY_QUEUE_TIMEOUT=5)


#: Where the protocol data lives in Virtuoso: the remote app's dataset is the graphs under it.
PROTOCOL_PREFIX = "http://kasei.us/2009/09/sparql/data/"


@pytest.fixture(scope="session")
def remote_app(make_app: Callable[..., Flask], protocol_store_path: str, virtuoso: Any) -> Flask:
    """The protocol data in the private Virtuoso (the contract suite's instance: its own graphs
    are elsewhere), served through ``KG_BACKEND=remote``."""
    import pyoxigraph as ox

    from service.store.remote import RemoteStore
    from tests.conftest_virtuoso import remote_overrides

    writer = RemoteStore(virtuoso.sparql_url, update_url=virtuoso.sparql_url, graph_prefix=PROTOCOL_PREFIX)
    writer.clear()
    reader = ox.Store.read_only(protocol_store_path)
    writer.load_nquads(ox.serialize(reader, format=ox.RdfFormat.N_QUADS) or b"")
    del reader
    return make_app(**remote_overrides(virtuoso), SPARQL_GRAPH_PREFIX=PROTOCOL_PREFIX)


@pytest.fixture(scope="session", params=["in-process", "workers", "remote"])
def engine_app(request: pytest.FixtureRequest, inproc_app: Flask, pool_app: Flask) -> Flask:
    """The same tests over both execution paths of the embedded store, and over Virtuoso."""
    if request.param == "remote":
        return request.getfixturevalue("remote_app")  # type: ignore[no-any-return]
    return inproc_app if request.param == "in-process" else pool_app


@pytest.fixture()
def live_server() -> Iterator[Callable[[Flask], str]]:
    """``live_server(app)`` serves ``app`` on 127.0.0.1 (threaded werkzeug) and returns its /sparql URL."""
    from werkzeug.serving import make_server

    servers = []

    def serve(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}/sparql"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()
