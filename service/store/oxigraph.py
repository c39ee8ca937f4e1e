"""The embedded engine: pyoxigraph on disk (or in memory for tests)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyoxigraph as ox

from service.errors import BadQuery, StoreUnavailable
from service.store import Binding, Dataset, QueryOutput

__all__ = ["OxigraphStore", "RESULT_FORMATS", "GRAPH_FORMATS", "term_to_nt", "nt_to_term"]

log = logging.getLogger(__name__)

RESULT_FORMATS: dict[str, ox.QueryResultsFormat] = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}

GRAPH_FORMATS: dict[str, ox.RdfFormat] = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}


def term_to_nt(term: object) -> str:
    """A pyoxigraph term in N-Triples syntax (its ``str``)."""
    return str(term)


def nt_to_term(text: str) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """Parse one N-Triples term.

    :raises ValueError: if ``text`` is not exactly one IRI, literal or blank node.
    """
    quads = list(ox.parse(f"<urn:s> <urn:p> {text} .", format=ox.RdfFormat.N_TRIPLES))
    if len(quads) != 1:
        raise ValueError(f"not one N-Triples term: {text!r}")
    return quads[0].object  # type: ignore[return-value]


class OxigraphStore:
    """A :class:`service.store.GraphStore` over ``pyoxigraph.Store``."""

    supports_update = False
    supports_named_graphs = True

    def __init__(self, store: ox.Store) -> None:
        self._store = store

    @classmethod
    def open(cls, path: str, *, read_only: bool) -> OxigraphStore:
        """Open an on-disk store.

        :raises StoreUnavailable: if the store does not exist (not built) or is locked.
        """
        if not (Path(path) / "CURRENT").exists():
            raise StoreUnavailable(f"No store at {Path(path).name!r}: run 'territory-kg build' first.")
        try:
            return cls(ox.Store.read_only(path) if read_only else ox.Store(path))
        except OSError as exc:
            log.error("cannot open store %s: %s", path, exc)
            raise StoreUnavailable("The store cannot be opened (locked or damaged).") from None

    @classmethod
    def in_memory(cls, nquads: Iterable[str] = ()) -> OxigraphStore:
        """A store in memory, optionally loaded with N-Quads lines (tests)."""
        store = ox.Store()
        data = "\n".join(nquads)
        if data:
            store.load(data.encode(), format=ox.RdfFormat.N_QUADS)
        return cls(store)

    @property
    def raw(self) -> ox.Store:
        """The pyoxigraph store, for the build pipeline only."""
        return self._store

    def _query(self, query: str, dataset: Dataset | None = None,
               substitutions: Mapping[str, str] | None = None) -> object:
        kwargs: dict[str, object] = {}
        if dataset and (dataset.default_graphs or dataset.named_graphs):
            kwargs["default_graph"] = [ox.NamedNode(g) for g in dataset.default_graphs] or None
            if dataset.named_graphs:
                kwargs["named_graphs"] = [ox.NamedNode(g) for g in dataset.named_graphs]
            if not dataset.default_graphs:
                kwargs["use_default_graph_as_union"] = True
        else:
            kwargs["use_default_graph_as_union"] = True
        if substitutions:
            kwargs["substitutions"] = {ox.Variable(k): nt_to_term(v) for k, v in substitutions.items()}
        try:
            return self._store.query(query, **kwargs)  # type: ignore[arg-type]
        except SyntaxError as exc:
            raise BadQuery(f"SPARQL syntax error: {exc}") from None
        except ValueError as exc:
            raise BadQuery(f"Invalid query: {exc}") from None
        except OSError as exc:
            log.error("store error: %s", exc)
            raise StoreUnavailable("The store failed to answer.") from None

    def execute(self, query: str, *, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput:
        result = self._query(query, dataset)
        if isinstance(result, ox.QueryTriples):
            fmt = GRAPH_FORMATS[graph_format]
            return QueryOutput("graph", graph_format, result.serialize(format=fmt) or b"")
        fmt_r = RESULT_FORMATS[result_format]
        kind = "boolean" if isinstance(result, ox.QueryBoolean) else "solutions"
        return QueryOutput(kind, result_format, result.serialize(format=fmt_r) or b"")  # type: ignore[attr-defined]

    def select(self, query: str, *, bindings: Mapping[str, str] | None = None) -> list[Binding]:
        result = self._query(query, substitutions=bindings)
        if not isinstance(result, ox.QuerySolutions):
            raise BadQuery("Expected a SELECT query.")
        names = [v.value for v in result.variables]
        return [{n: str(sol[n]) for n in names if sol[n] is not None} for sol in result]

    def ask(self, query: str) -> bool:
        result = self._query(query)
        if not isinstance(result, ox.QueryBoolean):
            raise BadQuery("Expected an ASK query.")
        return bool(result)

    def close(self) -> None:
        del self._store
