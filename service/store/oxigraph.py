"""The embedded engine: pyoxigraph on disk (or in memory for tests)."""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from service.errors import BadQuery, InsufficientStorage, ReadOnly, ResultTooLarge, StoreUnavailable
from service.sparql_guard import declares_dataset
from service.sparqltext import prebind
from service.store import Binding, Dataset, QueryOutput

__all__ = ["OxigraphStore", "RESULT_FORMATS", "GRAPH_FORMATS", "term_to_nt", "nt_to_term", "graph_name",
           "dataset_options"]

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
    quads: list[ox.Quad] = list(ox.parse(f"<urn:s> <urn:p> {text} .", format=ox.RdfFormat.N_TRIPLES))
    term = quads[0].object if len(quads) == 1 else None
    if term is None or isinstance(term, ox.Triple):
        raise ValueError(f"not one N-Triples term: {text!r}")
    return term


def graph_name(iri: str | None) -> ox.NamedNode | ox.DefaultGraph:
    """The graph ``iri`` names (``None``: the default graph).

    :raises BadQuery: ``iri`` is not an absolute IRI.
    """
    if iri is None:
        return ox.DefaultGraph()
    try:
        return ox.NamedNode(iri)
    except ValueError:
        raise BadQuery(f"Not an absolute IRI: {iri[:200]!r}") from None


def dataset_options(query: str, dataset: Dataset | None) -> dict[str, Any]:
    """``Store.query`` keyword arguments for the dataset a query sees (SPARQL 1.1 Protocol 2.1.4):

    1. the protocol's ``default-graph-uri``/``named-graph-uri`` alone, when either is given
       (the query's ``FROM``/``FROM NAMED`` are overridden; a part not given is empty);
    2. else the query's own ``FROM``/``FROM NAMED`` (nothing to pass: pyoxigraph reads them);
    3. else this service's default: the union of the graphs as the default graph, every
       named graph available to ``GRAPH``.

    pyoxigraph's ``use_default_graph_as_union`` would override a ``FROM``, and setting only
    ``default_graph`` keeps the query's ``FROM NAMED``: hence both lists in case 1.

    >>> dataset_options("SELECT * FROM <urn:a> {}", Dataset(named_graphs=("urn:b",)))
    {'default_graph': [], 'named_graphs': [<NamedNode value=urn:b>]}
    >>> dataset_options("SELECT * FROM <urn:a> {}", None), dataset_options("SELECT * {}", Dataset())
    ({}, {'use_default_graph_as_union': True})
    """
    if dataset is not None and (dataset.default_graphs or dataset.named_graphs):
        return {"default_graph": [graph_name(g) for g in dataset.default_graphs],
                "named_graphs": [graph_name(g) for g in dataset.named_graphs]}
    if declares_dataset(query):
        return {}
    return {"use_default_graph_as_union": True}


def disk_full(exc: OSError) -> bool:
    """Whether a store error is the disk (or the quota) being full; RocksDB says so in the message.

    >>> disk_full(OSError("IO error: No space left on device: While appending to file: 000051.sst"))
    True
    """
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or any(
        words in str(exc) for words in ("No space left on device", "Disk quota exceeded"))


def _update_error(exc: Exception) -> BadQuery:
    """pyoxigraph's ``error at L:C: …`` as a client message."""
    found = re.match(r"error at (\d+):(\d+)(?:-\d+:\d+)?: (.*)", str(exc), re.S)
    if isinstance(exc, SyntaxError):
        where = f" at line {found[1]}, column {found[2]}: {found[3]}" if found else f": {exc}"
        return BadQuery(f"SPARQL update syntax error{where}")
    return BadQuery(f"The update failed and changed nothing: {exc}")


def query_bound(store: ox.Store, query: str, bound: Mapping[ox.Variable, Any], **kwargs: Any) -> Any:
    """``store.query(query, **kwargs)`` with the variables of ``bound`` bound: written into the
    text as constants when that can be written (:func:`service.sparqltext.prebind`: planned
    as constants, where ``substitutions`` are planned as free variables joined afterwards),
    else as ``substitutions``. Errors are the engine's, for the text it was given."""
    if bound:
        written = prebind(query, {v.value: str(t) for v, t in bound.items()})
        if written is not None:
            try:
                return store.query(written, **kwargs)
            except (SyntaxError, ValueError, RuntimeError):
                log.debug("pre-bound text refused by the engine; binding with substitutions")
        kwargs["substitutions"] = bound
    return store.query(query, **kwargs)


class OxigraphStore:
    """A :class:`service.store.GraphStore` over ``pyoxigraph.Store``.

    Opened read-write (:meth:`open` with ``read_only=False``, or in memory) it also writes:
    every write is one pyoxigraph update, so it is applied entirely or not at all.
    """

    supports_named_graphs = True

    def __init__(self, store: ox.Store, *, writable: bool = False) -> None:
        self._store = store
        self.supports_update = writable

    @classmethod
    def open(cls, path: str, *, read_only: bool) -> OxigraphStore:
        """Open an on-disk store.

        :raises StoreUnavailable: if the store does not exist (not built) or is locked.
        """
        cls.check_exists(path)
        try:
            return cls(ox.Store.read_only(path)) if read_only else cls(ox.Store(path), writable=True)
        except OSError as exc:
            log.error("cannot open store %s: %s", path, exc)
            if disk_full(exc):
                raise InsufficientStorage("The server's storage is full: the store cannot be opened for "
                                          "writing. Reads go on; writes resume once space is freed.") from None
            raise StoreUnavailable("The store cannot be opened (locked or damaged).") from None

    @staticmethod
    def check_exists(path: str) -> None:
        """:raises StoreUnavailable: if there is no store at ``path`` (not built)."""
        if not (Path(path) / "CURRENT").exists():
            raise StoreUnavailable(f"No store at {Path(path).name!r}: run 'territory-kg build' first.")

    @classmethod
    def in_memory(cls, nquads: Iterable[str] = ()) -> OxigraphStore:
        """A store in memory, optionally loaded with N-Quads lines (tests)."""
        store = ox.Store()
        data = "\n".join(nquads)
        if data:
            store.load(data.encode(), format=ox.RdfFormat.N_QUADS)
        return cls(store, writable=True)

    @property
    def raw(self) -> ox.Store:
        """The pyoxigraph store, for the build pipeline only."""
        return self._store

    def _query(self, query: str, dataset: Dataset | None = None,
               substitutions: Mapping[str, str] | None = None) -> object:
        kwargs = dataset_options(query, dataset)
        bound: dict[ox.Variable, ox.NamedNode | ox.Literal | ox.BlankNode] = {}
        for name, value in (substitutions or {}).items():
            try:
                bound[ox.Variable(name)] = nt_to_term(value)
            except (SyntaxError, ValueError):
                raise BadQuery(f"Binding {name[:40]!r} is not a variable name and one N-Triples term.") from None
        try:
            return query_bound(self._store, query, bound, **kwargs)
        except SyntaxError as exc:
            raise BadQuery(f"SPARQL syntax error: {exc}") from None
        except (ValueError, RuntimeError) as exc:  # RuntimeError: e.g. a bound variable the query does not project
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

    # --- writes (read-write stores) and the Graph Store protocol ----------------------

    def update(self, update: str, *, base_iri: str | None = None) -> None:
        """Run a SPARQL 1.1 update in one transaction: all of it or nothing.

        The caller has screened it (:func:`service.update_guard.preflight_update`).

        :raises BadQuery: a syntax error (with line and column) or a failed operation (400).
        :raises ReadOnly: the store is opened read-only.
        :raises StoreUnavailable: the store failed.
        """
        if not self.supports_update:
            raise ReadOnly()
        try:
            self._store.update(update, base_iri=base_iri)
        except (SyntaxError, ValueError, RuntimeError) as exc:
            raise _update_error(exc) from None
        except OSError as exc:
            log.error("store error during an update: %s", exc)
            if disk_full(exc):
                raise InsufficientStorage() from None
            raise StoreUnavailable("The store failed to write; nothing was changed.") from None

    def has_graph(self, iri: str | None) -> bool:
        """Whether the graph exists (the default graph always does; a named graph may be empty)."""
        name = graph_name(iri)
        return isinstance(name, ox.DefaultGraph) or self._store.contains_named_graph(name)

    def graph(self, iri: str | None, media_type: str, max_bytes: int) -> bytes | None:
        """The graph serialised as ``media_type`` (one of :data:`GRAPH_FORMATS`), ``None`` if it does not exist.

        :raises ResultTooLarge: the serialisation is over ``max_bytes`` (422).
        """
        from service.store.executor import _CappedBuffer, _Overflow

        if not self.has_graph(iri):
            return None
        out = _CappedBuffer(max_bytes)
        try:
            ox.serialize((q.triple for q in self._store.quads_for_pattern(None, None, None, graph_name(iri))),
                         out, GRAPH_FORMATS[media_type])
        except _Overflow:
            raise ResultTooLarge(f"The graph is more than {max_bytes:,} bytes as {media_type}: use the data "
                                 "dumps or a CONSTRUCT query with LIMIT.") from None
        return out.getvalue()

    def write_graph(self, iri: str | None, parts: list[tuple[bytes, str]], *, replace: bool) -> bool:
        """Replace (``PUT``) or extend (``POST``) a graph with uploaded documents, in one transaction.

        :param parts: ``(body, media type)`` per document (relative IRIs resolve against the graph's IRI).
        :returns: whether the graph was created.
        :raises BadQuery, UnsupportedMediaType: see :func:`service.store.rdfio.to_ntriples`.
        """
        from service.store.rdfio import to_ntriples

        name = graph_name(iri)
        triples = "".join(to_ntriples(body, media, iri) for body, media in parts)
        created = not self.has_graph(iri)
        if isinstance(name, ox.DefaultGraph):
            ops = ["CLEAR SILENT DEFAULT"] if replace else []
            ops += [f"INSERT DATA {{\n{triples}}}"] if triples else []
        else:
            ops = [f"DROP SILENT GRAPH {name}", f"CREATE GRAPH {name}"] if replace else [f"CREATE SILENT GRAPH {name}"]
            ops += [f"INSERT DATA {{ GRAPH {name} {{\n{triples}}} }}"] if triples else []
        if ops:
            self.update(" ;\n".join(ops))
        return created and not isinstance(name, ox.DefaultGraph)

    def drop_graph(self, iri: str | None) -> bool:
        """Delete a named graph, or empty the default graph.

        :returns: whether it existed.
        """
        name = graph_name(iri)
        if isinstance(name, ox.DefaultGraph):
            self.update("CLEAR DEFAULT")
            return True
        if not self.has_graph(iri):
            return False
        self.update(f"DROP GRAPH {name}")
        return True

    def checkpoint(self, directory: str) -> None:
        """Write a consistent, independent copy of the store to the new ``directory`` (hard links).

        :raises StoreUnavailable: the copy failed.
        """
        try:
            self._store.backup(directory)
        except OSError as exc:
            log.error("checkpoint to %s failed: %s", directory, exc)
            if disk_full(exc):  # the write itself is committed; readers see it once a checkpoint succeeds
                raise InsufficientStorage("The server's storage is full: the write was stored but cannot be "
                                          "published to readers yet; it becomes visible once space is freed.") from None
            raise StoreUnavailable("The store could not publish the write.") from None

    def close(self) -> None:
        del self._store
