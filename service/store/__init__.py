"""One store interface, chosen by name from a registry.

A backend is a factory taking the configuration mapping and returning a
:class:`GraphStore`. Backend modules import their engine lazily, so a missing optional
package only fails when that backend is used. Nothing outside this package imports
pyoxigraph or SPARQLWrapper.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["GraphStore", "QueryOutput", "Dataset", "BACKENDS", "open_store", "init_app", "get_store",
           "Binding"]

#: One solution of a SELECT: variable name → term in N-Triples syntax
#: (``<iri>``, ``"lit"@en``, ``"1"^^<xsd:integer>``, ``_:b0``).
Binding = dict[str, str]


@dataclass(frozen=True)
class Dataset:
    """A SPARQL protocol dataset: ``default-graph-uri`` and ``named-graph-uri`` values."""

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueryOutput:
    """A serialised query answer.

    :param kind: ``"solutions"``, ``"boolean"`` or ``"graph"``.
    :param media_type: the media type of ``body``.
    """

    kind: str
    media_type: str
    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)


class GraphStore(Protocol):
    """What every backend offers."""

    supports_update: bool
    supports_named_graphs: bool

    def execute(self, query: str, *, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput:
        """Run a query and serialise its answer (``result_format`` for solutions and
        booleans, ``graph_format`` for graphs; both are media types).

        :raises service.errors.BadQuery: on a syntax error.
        :raises service.errors.StoreUnavailable: when the engine cannot answer.
        """
        ...

    def select(self, query: str, *, bindings: Mapping[str, str] | None = None) -> list[Binding]:
        """Run a SELECT and return its solutions as :data:`Binding` dicts.

        ``bindings`` maps variable names to N-Triples terms bound before evaluation.
        """
        ...

    def ask(self, query: str) -> bool:
        """Run an ASK query."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...

    # Writes and the Graph Store protocol: only where ``supports_update`` is true (else ReadOnly).

    def update(self, update: str, *, base_iri: str | None = None) -> None:
        """Run a SPARQL 1.1 update, entirely or not at all.

        :raises service.errors.BadQuery: a syntax error or a failed operation (nothing written).
        :raises service.errors.QueryRefused: ``LOAD`` or ``SERVICE``.
        """
        ...

    def has_graph(self, iri: str | None) -> bool:
        """Whether the graph exists (``None``: the default graph)."""
        ...

    def graph(self, iri: str | None, media_type: str, max_bytes: int) -> bytes | None:
        """One graph serialised as ``media_type``, or ``None`` if it does not exist."""
        ...

    def write_graph(self, iri: str | None, parts: list[tuple[bytes, str]], *, replace: bool) -> bool:
        """Replace or extend a graph with uploaded ``(body, media type)`` documents; ``True`` if created."""
        ...

    def drop_graph(self, iri: str | None) -> bool:
        """Delete a graph (empty the default one); ``True`` if it existed."""
        ...


def _oxigraph(cfg: Mapping[str, Any]) -> GraphStore:
    from service.store.oxigraph import OxigraphStore

    if cfg.get("UPDATES"):  # one writer process; readers use its published generations
        from service.store.live import LiveStore

        return LiveStore.open(cfg)
    return OxigraphStore.open(str(cfg["STORE_PATH"]), read_only=True)


def _remote(cfg: Mapping[str, Any]) -> GraphStore:
    from service.config import remote_graph_prefix
    from service.store.remote import RemoteStore

    return RemoteStore.from_config(cfg, graph_prefix=remote_graph_prefix(cfg))


BACKENDS: dict[str, Callable[[Mapping[str, Any]], GraphStore]] = {"oxigraph": _oxigraph, "remote": _remote}


def open_store(cfg: Mapping[str, Any]) -> GraphStore:
    """Open the configured backend."""
    return BACKENDS[str(cfg["BACKEND"])](cfg)


def init_app(app: Flask) -> None:
    """Open the store lazily on first use and close it with the app."""
    app.extensions["kg_store"] = None


def get_store() -> GraphStore:
    """The app's store, opened on first use, once even when threads ask at the same time
    (a worker's first requests and its warm-up thread: with updates on, a second opening
    would start a second writer on the locked store).

    :raises service.errors.StoreUnavailable: if it cannot be opened.
    """
    from flask import current_app

    ext = current_app.extensions
    store: GraphStore | None = ext.get("kg_store")
    if store is None:
        with ext.setdefault("kg_store_lock", threading.Lock()):
            store = ext.get("kg_store")
            if store is None:
                store = ext["kg_store"] = open_store(current_app.config)
    return store
