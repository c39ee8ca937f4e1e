"""Fixtures for the write tests (/update, the Graph Store): fresh stores with updates on.

Imported by ``test_update.py``, ``test_graph_store.py`` and ``test_w3c_update.py``.
``writable_app(**overrides)`` builds an app with ``UPDATES=on`` over a new on-disk store
in the test's temporary directory, holding the W3C protocol data (the same three graphs
as the read-only ``protocol_store_path``, see ``tests/data/protocol/README.md``), so every
test starts from the same state and may change it freely. Its writer process and query
workers are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.store import executor
from tests.web.conftest import TEST_BASE, protocol_graphs

__all__ = ["TOKEN", "AUTH", "writable_app", "fresh_protocol_store", "close_app"]

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def fresh_protocol_store(directory: Path) -> str:
    """A new on-disk store under ``directory`` with the protocol data, closed; returns its path."""
    import pyoxigraph as ox

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "store"
    store = ox.Store(str(path))
    for data, iri in protocol_graphs().items():
        store.load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(iri))
    store.flush()
    del store
    return str(path)


def close_app(app: Flask) -> None:
    """Stop the app's query workers and its store (the writer process, with updates on)."""
    executor.shutdown(app)
    store = app.extensions.get("kg_store")
    if store is not None:
        store.close()
        app.extensions["kg_store"] = None


@pytest.fixture()
def writable_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``writable_app(**overrides)``: an app with updates on over a fresh protocol store."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        settings = {"TESTING": True, "BASE_URI": TEST_BASE, "QUERY_WORKERS": 0, "LOG_LEVEL": "WARNING",
                    "UPDATES": "on", "UPDATE_TOKEN": TOKEN, **overrides}
        if "STORE_PATH" not in settings:
            settings["STORE_PATH"] = fresh_protocol_store(tmp_path / f"app{len(apps)}")
        app = create_app(settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_app(app)


def assert_plain(resp: Any, status: int, *fragments: str) -> str:
    """``resp`` is a ``text/plain`` error of ``status`` naming every fragment, without a stack trace."""
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text
    assert resp.mimetype == "text/plain" and "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text
    return text
