"""Servers and guards for the hardening tests (see ``harness.py``).

* ``kg_server``: the built test graph served by gunicorn (2 workers, 2 killable query
  workers each, 4 s query timeout, 300 MiB worker memory cap).
* ``hostile_server``: a small store of hostile literals and IRIs (XSS, ``javascript:``,
  5 MB literals, RTL overrides, 10,000 values on one property).
* ``fake_engine`` + ``remote_server``: the remote backend pointed at a fake SPARQL engine on
  127.0.0.1 whose failure mode a test chooses (unreachable, silent, slow, partial, huge…).
* ``guard(server)``: arms a canary listener, a canary file and the store fingerprint;
  :func:`harness.assert_harmless` checks them after the case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.fakes import FakeEngine
from tests.hardening.harness import Canary, CanaryFile, Guards, Server, StoreFingerprint

TEST_BASE = "http://kg.test/"
QUERY_TIMEOUT = 4
MEMORY_CAP_MB = 300


@pytest.fixture(scope="session")
def hardening_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardening")


def kg_settings(kg_config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Settings of a server over the session's built graph."""
    return {"BASE_URI": TEST_BASE, "STORE_PATH": kg_config["STORE_PATH"], "DUMPS_DIR": kg_config["DUMPS_DIR"],
            "QUERY_WORKERS": 2, "QUERY_TIMEOUT": QUERY_TIMEOUT, "QUERY_QUEUE_TIMEOUT": 5,
            "QUERY_MAX_MEMORY_MB": MEMORY_CAP_MB, "LOG_LEVEL": "WARNING", **extra}


@pytest.fixture(scope="session")
def kg_server(built_kg: Any, kg_config: dict[str, Any], hardening_dir: Path) -> Iterator[Server]:
    server = Server(kg_settings(kg_config), hardening_dir / "kg-server.log")
    yield server
    server.stop()


HOSTILE_SUBJECT = f"{TEST_BASE}id/organization/x"
_G = f"<{TEST_BASE}graph/t>"
_S = f"<{HOSTILE_SUBJECT}>"


def hostile_quads() -> str:
    """Hostile data about one organisation (and a list resource with 10,000 values)."""
    rdfs, eco = "http://www.w3.org/2000/01/rdf-schema#", f"{TEST_BASE}def/eco#"
    lines = [
        f'{_S} <{rdfs}label> "<script>alert(1)</script>"@en {_G} .',
        f'{_S} <http://schema.org/description> "\\"><img src=x onerror=alert(1)></script><script>alert(2)</script>"@en {_G} .',
        f'{_S} <{eco}note> "<b onmouseover=alert(3)>bold</b>"^^<http://www.w3.org/1999/02/22-rdf-syntax-ns#HTML> {_G} .',
        f"{_S} <{rdfs}seeAlso> <javascript:alert(4)> {_G} .",
        f"{_S} <{rdfs}seeAlso> <JaVaScRiPt:alert(5)> {_G} .",
        f"{_S} <{rdfs}seeAlso> <data:text/html,%3Cscript%3Ealert(6)%3C/script%3E> {_G} .",
        f"{_S} <{rdfs}seeAlso> <vbscript:msgbox(7)> {_G} .",
        f"{_S} <{rdfs}seeAlso> <https://example.org/ok> {_G} .",
        f'{_S} <{eco}note> "\u202eevil\u202c and zero\u200bwidth" {_G} .',
        f'{_S} <{eco}long> "{"A" * 5_000_000}" {_G} .',
        f"{_S} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{eco}Company> {_G} .",
    ]
    many = f"<{TEST_BASE}id/organization/many>"
    lines.append(f'{many} <{rdfs}label> "many"@en {_G} .')
    lines += [f'{many} <{eco}note> "value {i}" {_G} .' for i in range(10_000)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def hostile_store(hardening_dir: Path) -> str:
    import pyoxigraph as ox

    path = hardening_dir / "hostile-store"
    store = ox.Store(str(path))
    store.load(hostile_quads().encode(), format=ox.RdfFormat.N_QUADS)
    store.flush()
    del store
    return str(path)


@pytest.fixture(scope="session")
def hostile_server(hostile_store: str, hardening_dir: Path) -> Iterator[Server]:
    server = Server({"BASE_URI": TEST_BASE, "STORE_PATH": hostile_store, "DUMPS_DIR": str(hardening_dir / "none"),
                     "DATA_DIR": str(hardening_dir), "QUERY_WORKERS": 1, "LOG_LEVEL": "WARNING"},
                    hardening_dir / "hostile-server.log", workers=1)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_engine() -> Iterator[FakeEngine]:
    engine = FakeEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def remote_server(fake_engine: FakeEngine, hardening_dir: Path) -> Iterator[Server]:
    """The remote backend over the fake engine: 1 s to connect, 2 s to read, 1 MB answers."""
    server = Server({"BASE_URI": TEST_BASE, "BACKEND": "remote", "SPARQL_URL": fake_engine.url,
                     "REMOTE_CONNECT_TIMEOUT": 1, "REMOTE_READ_TIMEOUT": 2, "REMOTE_MAX_BYTES": 1_000_000,
                     "STORE_PATH": str(hardening_dir / "no-store"), "DUMPS_DIR": str(hardening_dir / "none"),
                     "LOG_LEVEL": "WARNING"}, hardening_dir / "remote-server.log", workers=1)
    yield server
    server.stop()


@pytest.fixture()
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()


@pytest.fixture()
def canary_file() -> Iterator[CanaryFile]:
    file = CanaryFile()
    yield file
    file.close()


@pytest.fixture()
def guard(canary: Canary, canary_file: CanaryFile) -> Callable[[Server], Guards]:
    """``guard(server)``: armed guards for one case on ``server``."""

    def arm(server: Server) -> Guards:
        store = server.settings.get("STORE_PATH")
        guards = Guards(server, canary, canary_file,
                        StoreFingerprint(store) if store and Path(store).is_dir() else None)
        guards.arm()
        return guards

    return arm
