"""The remote backend: a SPARQL 1.1 endpoint through SPARQLWrapper (tested on Virtuoso 7.2).

Contract and the reasons behind it (observations are asserted in ``tests/store/test_contract.py``):

* **Exchange formats.** Solutions and booleans are always fetched as SPARQL JSON and graphs
  as N-Triples, then parsed (``json`` and pyoxigraph: no XML is ever parsed, so no entity
  expansion), normalised, and re-serialised by pyoxigraph into the requested media type.
  So every format works even where the engine lacks it (Virtuoso 7.2 answers 406 for
  N-Quads/TriG, writes ``xsd:double`` as bare decimals in Turtle and as JSON numbers in
  JSON-LD), and both backends produce bytes with the same serialisers.
* **One canonical form for literals.** Both engines keep typed literals by value, each
  printing them its own way: pyoxigraph writes ``xsd:int``/``long``/``short``… as
  ``xsd:integer``, ``"1.5E3"^^xsd:double`` as ``1500``, ``"1"^^xsd:boolean`` as ``true``;
  Virtuoso keeps ``xsd:int``, prints ``1500.0``, ``1``, and answers in SPARQL 1.0 JSON
  (``typed-literal``, ``nodeID://`` blank nodes). Every remote literal is therefore passed
  through an in-memory pyoxigraph store (:func:`canonical`), so both backends print the
  same value the same way. Lost before it reaches us, documented and asserted in the
  tests: Virtuoso prints doubles with 6 significant digits, turns an integral
  ``xsd:decimal`` into ``xsd:integer`` and a ``xsd:duration`` into a month count, so
  figures belong in ``xsd:decimal`` with a fraction or in ``xsd:integer``.
* **Dataset.** Virtuoso's default graph is the union of *all* its graphs, its own system
  graphs included. With ``graph_prefix``, a query without a dataset (protocol or FROM) is
  sent with ``default-graph-uri``/``named-graph-uri`` set to the data graphs under the
  prefix (listed once, cached :data:`GRAPH_CACHE_SECONDS`, refreshed after our writes), so
  the default graph is the union of our named graphs, as in the embedded store.
* **HTTP** (timeouts, caps, partial answers, sanitised errors): :mod:`service.store.upstream`.
  SPARQLWrapper builds the protocol requests (``_createRequest``; pinned ``~=2.0.0``), the
  exchange is ours because its ``setTimeout`` is one integer for the process-wide
  ``urlopen``. Virtuoso truncates CONSTRUCT answers at its row cap with a plain 200 and no
  header, so a graph of exactly a known cap (10,000, or one seen in a header) is refused.
* **Writes** use the SPARQL 1.1 Graph Store protocol (``POST ?graph=``, N-Triples bodies
  in batches): Virtuoso 7.2 refuses blank nodes in ``INSERT DATA`` (SP031) and answers 500
  to ``INSERT {…} WHERE {}`` templates it did apply. Blank-node labels are scoped per graph
  (as the build loads graphs) and a batch never splits the triples sharing a blank node.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import re
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox
from SPARQLWrapper import POST, SPARQLWrapper

from service.errors import BadQuery, NotAcceptable, ReadOnly, UpstreamError
from service.store import Binding, Dataset, QueryOutput
from service.store.oxigraph import GRAPH_FORMATS, RESULT_FORMATS, nt_to_term
from service.store.upstream import Reply, Upstream

__all__ = ["RemoteStore", "query_form", "with_values", "canonical"]

log = logging.getLogger(__name__)

XSD = "http://www.w3.org/2001/XMLSchema#"
JSON_RESULTS = "application/sparql-results+json"
NTRIPLES_TYPES = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/plain": ox.RdfFormat.N_TRIPLES,
                  "text/ntriples": ox.RdfFormat.N_TRIPLES, "text/turtle": ox.RdfFormat.TURTLE}
READ_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
GRAPH_CACHE_SECONDS = 60.0
EMPTY_GRAPH = "urn:x-territory-kg:no-graph"
USER_AGENT = "territory-kg (SPARQLWrapper)"

_TOKENS = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
      |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<open>\{)
  | (?P<word>[A-Za-z][A-Za-z0-9_-]*)
  | (?P<other>\S)""", re.VERBOSE | re.DOTALL)
_VARNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _tokens(query: str) -> Iterator[tuple[str, re.Match[str]]]:
    for match in _TOKENS.finditer(query):
        if match.lastgroup != "comment":
            yield str(match.lastgroup), match


def query_form(query: str) -> str | None:
    """The query-form keyword after the prologue, upper-cased (``None`` if there is none).

    >>> query_form('PREFIX s: <urn:x#> # SELECT in a comment\\nask { ?s s:p "{" }')
    'ASK'
    """
    in_prologue_decl = False
    for kind, match in _tokens(query):
        if in_prologue_decl:
            in_prologue_decl = kind != "iri"
        elif kind == "word" and match.group().upper() in ("PREFIX", "BASE"):
            in_prologue_decl = True
        else:
            return match.group().upper() if kind == "word" else None
    return None


def _has_dataset_clause(query: str) -> bool:
    for kind, match in _tokens(query):
        if kind == "open":
            return False
        if kind == "word" and match.group().upper() == "FROM":
            return True
    return False


def with_values(query: str, bindings: Mapping[str, str]) -> str:
    """Bind variables with a ``VALUES`` block opening the query's first group (its WHERE).

    Values are parsed as N-Triples terms and re-serialised, so no text is pasted.

    >>> with_values('SELECT ?l WHERE { ?s <urn:label> ?l }', {"s": "<urn:a>"})
    'SELECT ?l WHERE { VALUES (?s) { (<urn:a>) }  ?s <urn:label> ?l }'

    :raises BadQuery: a bad variable name, a value that is not one IRI or literal, or no group.
    """
    names, terms = [], []
    for name, text in bindings.items():
        if not _VARNAME.fullmatch(name):
            raise BadQuery(f"Bad variable name {name!r}.")
        try:
            term = nt_to_term(text)
        except (ValueError, SyntaxError):
            raise BadQuery(f"Parameter {name!r} is not one IRI or literal in N-Triples syntax.") from None
        if isinstance(term, ox.BlankNode):
            raise BadQuery(f"Parameter {name!r}: blank nodes cannot be bound.")
        names.append(f"?{name}")
        terms.append(str(term))
    if not names:
        return query
    for kind, match in _tokens(query):
        if kind == "open":
            block = f" VALUES ({' '.join(names)}) {{ ({' '.join(terms)}) }} "
            return query[: match.end()] + block + query[match.end():]
    raise BadQuery("The query has no WHERE clause to bind parameters in.")


def _json_term(term: Mapping[str, Any]) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A SPARQL JSON term (also the 1.0 ``typed-literal`` form, Virtuoso's ``nodeID://`` blank nodes)."""
    value = term.get("value")
    value = value if isinstance(value, str) else json.dumps(value)
    kind = term.get("type")
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(re.sub(r"[^A-Za-z0-9]", "", value.removeprefix("nodeID://")) or "b")
    if kind in ("literal", "typed-literal"):
        if term.get("xml:lang"):
            return ox.Literal(value, language=str(term["xml:lang"]))
        datatype = term.get("datatype")
        return ox.Literal(value, datatype=ox.NamedNode(str(datatype))) if datatype else ox.Literal(value)
    raise ValueError(f"unknown term type {str(kind)[:40]!r}")


def _json(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> dict[str, str]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if term.language:
        return {"type": "literal", "value": term.value, "xml:lang": term.language}
    if term.datatype.value == XSD + "string":
        return {"type": "literal", "value": term.value}
    return {"type": "literal", "value": term.value, "datatype": term.datatype.value}


def canonical(literals: Iterable[ox.Literal]) -> dict[ox.Literal, ox.Literal]:
    """Each literal as the embedded store gives it back: the same engine writes both answers.

    >>> XSD_ = "http://www.w3.org/2001/XMLSchema#"
    >>> [str(v) for v in canonical([ox.Literal("1500.0", datatype=ox.NamedNode(XSD_ + "double")),
    ...                             ox.Literal("12", datatype=ox.NamedNode(XSD_ + "int"))]).values()]
    ['"1500"^^<http://www.w3.org/2001/XMLSchema#double>', '"12"^^<http://www.w3.org/2001/XMLSchema#integer>']
    """
    distinct = list(dict.fromkeys(literals))
    store, predicate = ox.Store(), ox.NamedNode("urn:x-territory-kg:value")
    store.extend(ox.Quad(ox.NamedNode(f"urn:x-territory-kg:{i}"), predicate, lit) for i, lit in enumerate(distinct))
    found = {int(q.subject.value.rsplit(":", 1)[1]): q.object for q in store}
    return {lit: found[i] for i, lit in enumerate(distinct)}


class RemoteStore:
    """A :class:`service.store.GraphStore` over a remote SPARQL 1.1 endpoint.

    :param query_url: the query endpoint (http or https).
    :param update_url: the update endpoint; without it the store is read-only.
    :param graph_store_url: the Graph Store endpoint for :meth:`load_nquads`; by default
        Virtuoso's, next to the update endpoint (``…/sparql`` → ``…/sparql-graph-crud``).
    :param graph_prefix: the IRI prefix of this service's named graphs (see the module doc).
    """

    supports_named_graphs = True

    def __init__(self, query_url: str, *, update_url: str | None = None, graph_store_url: str | None = None,
                 user: str | None = None, password: str | None = None, graph_prefix: str | None = None,
                 connect_timeout: float = 5.0, read_timeout: float = 30.0, max_bytes: int = 256 << 20) -> None:
        self.query_url, self.update_url, self.graph_prefix = query_url, update_url or None, graph_prefix
        base = self.update_url or query_url
        self.graph_store_url = graph_store_url or re.sub(r"/sparql(-auth)?/?$", r"/sparql-graph-crud\1", base)
        self.supports_update = self.update_url is not None
        self.upstream = Upstream([query_url, base, self.graph_store_url], user=user, password=password,
                                 connect_timeout=connect_timeout, read_timeout=read_timeout, max_bytes=max_bytes)
        self._graphs: tuple[str, ...] | None = None
        self._graphs_at = 0.0

    def _request(self, text: str, form: str, accept: str, params: Iterable[tuple[str, str]] = ()) -> Reply:
        client = SPARQLWrapper(self.query_url, updateEndpoint=self.update_url or self.query_url, agent=USER_AGENT)
        client.setMethod(POST)
        client.setOnlyConneg(True)
        # Set directly: setQuery() sniffs the form with a regex and warns on anything unusual.
        client.queryString, client.queryType = text, form
        for name, value in params:
            client.addParameter(name, value)
        request = client._createRequest()  # the protocol request; the exchange is ours (module doc)
        request.add_header("Accept", accept)
        return self.upstream.check(self.upstream.send(request))

    # --- dataset ----------------------------------------------------------------------

    def data_graphs(self) -> tuple[str, ...]:
        """The named graphs under ``graph_prefix`` (cached for :data:`GRAPH_CACHE_SECONDS`)."""
        if self.graph_prefix is None:
            return ()
        if self._graphs is None or time.monotonic() - self._graphs_at > GRAPH_CACHE_SECONDS:
            query = (f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                     f"FILTER(STRSTARTS(STR(?g), {ox.Literal(self.graph_prefix)})) }}")
            rows = self._solutions(query, "SELECT", [])
            self._graphs = tuple(sorted(row["g"].value for row in rows))
            self._graphs_at = time.monotonic()
        return self._graphs

    def _dataset(self, query: str, dataset: Dataset | None) -> list[tuple[str, str]]:
        default = list(dataset.default_graphs) if dataset else []
        named = list(dataset.named_graphs) if dataset else []
        query_decides = not default and not named and _has_dataset_clause(query)
        if self.graph_prefix is not None and not query_decides:
            default = default or list(self.data_graphs()) or [EMPTY_GRAPH]
            named = named or list(self.data_graphs()) or [EMPTY_GRAPH]
        return [("default-graph-uri", g) for g in default] + [("named-graph-uri", g) for g in named]

    # --- queries ----------------------------------------------------------------------

    def _form(self, query: str, allowed: tuple[str, ...] = READ_FORMS) -> str:
        form = query_form(query)
        if form not in allowed:
            raise BadQuery(f"Expected a {' or '.join(allowed)} query.")
        return str(form)

    def _solutions(self, query: str, form: str, params: list[tuple[str, str]]) -> Any:
        reply = self._request(query, form, JSON_RESULTS, params)
        try:
            doc = json.loads(reply.body)
            if "boolean" in doc:
                doc = {"head": {}, "boolean": bool(doc["boolean"])}
            else:
                rows = [{k: _json_term(v) for k, v in row.items()} for row in doc["results"]["bindings"]]
                same = canonical(t for row in rows for t in row.values() if isinstance(t, ox.Literal))
                doc = {"head": {"vars": list(doc["head"].get("vars", []))},
                       "results": {"bindings": [{k: _json(same[t] if isinstance(t, ox.Literal) else t)
                                                 for k, t in row.items()}
                                                for row in rows]}}
            return ox.parse_query_results(json.dumps(doc).encode(), format=ox.QueryResultsFormat.JSON)
        except (ValueError, KeyError, TypeError, AttributeError, SyntaxError) as exc:
            log.warning("unusable SPARQL JSON from the remote engine: %s", exc)
            raise UpstreamError("The remote SPARQL engine sent unusable SPARQL JSON.") from None

    def _graph(self, query: str, form: str, params: list[tuple[str, str]]) -> ox.Store:
        """The answer graph in an in-memory store (which puts its literals in canonical form)."""
        reply = self._request(query, form, "application/n-triples, text/plain;q=0.5, text/turtle;q=0.1", params)
        fmt = NTRIPLES_TYPES.get(reply.headers.get_content_type())
        if fmt is None:
            raise UpstreamError(f"The remote SPARQL engine sent a graph as {reply.headers.get_content_type()!r}.")
        graph = ox.Store()
        try:
            graph.load(reply.body, format=fmt)
        except (SyntaxError, ValueError) as exc:
            log.warning("unusable graph from the remote engine: %s", exc)
            raise UpstreamError("The remote SPARQL engine sent an unparsable graph.") from None
        if len(graph) in self.upstream.row_caps:
            raise UpstreamError(f"The remote engine returned exactly {len(graph):,} triples, its row limit: "
                                "the graph is probably truncated (raise ResultSetMaxRows on the engine).")
        return graph

    def execute(self, query: str, *, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput:
        form = self._form(query)
        params = self._dataset(query, dataset)
        if form in ("CONSTRUCT", "DESCRIBE"):
            if graph_format not in GRAPH_FORMATS:
                raise NotAcceptable()
            body = ox.serialize(iter(self._graph(query, form, params)), format=GRAPH_FORMATS[graph_format])
            return QueryOutput("graph", graph_format, body or b"")
        if result_format not in RESULT_FORMATS:
            raise NotAcceptable()
        result = self._solutions(query, form, params)
        kind = "boolean" if isinstance(result, ox.QueryBoolean) else "solutions"
        return QueryOutput(kind, result_format, result.serialize(format=RESULT_FORMATS[result_format]) or b"")

    def select(self, query: str, *, bindings: Mapping[str, str] | None = None) -> list[Binding]:
        self._form(query, ("SELECT",))
        text = with_values(query, bindings or {})
        result = self._solutions(text, "SELECT", self._dataset(text, None))
        names = [v.value for v in result.variables]
        return [{n: str(sol[n]) for n in names if sol[n] is not None} for sol in result]

    def ask(self, query: str) -> bool:
        self._form(query, ("ASK",))
        return bool(self._solutions(query, "ASK", self._dataset(query, None)))

    # --- writes -----------------------------------------------------------------------

    def _update(self, text: str) -> None:
        if not self.supports_update:
            raise ReadOnly("The remote store has no update endpoint configured.")
        self._request(text, "DROP", "*/*")

    def load_nquads(self, source: str | Path | bytes, graph: str | None = None, *, batch: int = 20_000) -> int:
        """Add N-Quads (bytes, or a path, ``.gz`` allowed) through the Graph Store protocol.

        :param graph: where triples without a graph go (required if there are any).
        :param batch: triples per request (the triples sharing a blank node stay together).
        :returns: the number of quads sent.
        :raises ReadOnly: no update endpoint.
        :raises ValueError: bad N-Quads, a triple without a graph and no ``graph``, a
            blank-node graph name, or a graph outside ``graph_prefix``.
        """
        if not self.supports_update:
            raise ReadOnly("The remote store has no update endpoint configured.")
        pending: dict[str, list[str]] = defaultdict(list)
        with_blanks: dict[str, list[tuple[str, str]]] = defaultdict(list)
        parent: dict[tuple[str, str], tuple[str, str]] = {}

        def root(key: tuple[str, str]) -> tuple[str, str]:
            parent.setdefault(key, key)
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        def flush(g: str) -> None:
            if pending[g]:
                self._post(g, pending.pop(g))

        count = 0
        with contextlib.ExitStack() as stack:
            if isinstance(source, bytes):
                quads = ox.parse(source, format=ox.RdfFormat.N_QUADS)
            elif str(source).endswith(".gz"):
                quads = ox.parse(cast(IO[bytes], stack.enter_context(gzip.open(source))), format=ox.RdfFormat.N_QUADS)
            else:
                quads = ox.parse(path=str(source), format=ox.RdfFormat.N_QUADS)
            try:
                for quad in quads:
                    g = self._target_graph(quad.graph_name, graph)
                    line = f"{quad.subject} {quad.predicate} {quad.object} ."
                    blanks = [t.value for t in (quad.subject, quad.object) if isinstance(t, ox.BlankNode)]
                    if blanks:
                        first, last = root((g, blanks[0])), root((g, blanks[-1]))
                        parent[last] = first
                        with_blanks[g].append((blanks[0], line))
                    else:
                        pending[g].append(line)
                        if len(pending[g]) >= batch:
                            flush(g)
                    count += 1
            except SyntaxError as exc:
                raise ValueError(f"not N-Quads: {exc}") from None
        for g, items in with_blanks.items():
            components: dict[tuple[str, str], list[str]] = defaultdict(list)
            for label, line in items:
                components[root((g, label))].append(line)
            for lines in components.values():
                if len(pending[g]) + len(lines) > batch:
                    flush(g)
                pending[g].extend(lines)
        for g in list(pending):
            flush(g)
        self._graphs = None
        log.info("loaded %d quads into the remote store", count)
        return count

    def _target_graph(self, name: Any, default: str | None) -> str:
        if isinstance(name, ox.NamedNode):
            g: str | None = name.value
        elif isinstance(name, ox.DefaultGraph):
            g = default
        else:
            raise ValueError("blank-node graph names are not supported")
        if g is None:
            raise ValueError("a triple has no graph and no default graph was given")
        if self.graph_prefix is not None and not g.startswith(self.graph_prefix):
            raise ValueError(f"graph {g} is outside {self.graph_prefix}")
        return g

    def _post(self, graph: str, lines: list[str]) -> None:
        url = f"{self.graph_store_url}?{urllib.parse.urlencode({'graph': graph})}"
        request = urllib.request.Request(url, data=("\n".join(lines) + "\n").encode(), method="POST",
                                         headers={"Content-Type": "application/n-triples", "User-Agent": USER_AGENT})
        self.upstream.check(self.upstream.send(request))

    def clear(self) -> None:
        """Drop every data graph under ``graph_prefix`` (never the engine's own graphs).

        :raises ReadOnly: no update endpoint.
        :raises ValueError: no ``graph_prefix``.
        """
        if self.graph_prefix is None:
            raise ValueError("clear() needs a graph_prefix: it never drops the engine's own graphs")
        self._graphs = None
        graphs = self.data_graphs()
        if graphs:
            self._update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs))
        self._graphs = None

    def close(self) -> None:
        self._graphs = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], *, graph_prefix: str | None = None) -> RemoteStore:
        """A store from the ``SPARQL_*`` and ``REMOTE_*`` settings (see :mod:`service.config`)."""
        return cls(str(cfg["SPARQL_URL"]), update_url=cfg.get("SPARQL_UPDATE_URL") or None,
                   graph_store_url=cfg.get("SPARQL_GRAPH_STORE_URL") or None,
                   user=cfg.get("SPARQL_USER") or None, password=cfg.get("SPARQL_PASSWORD") or None,
                   graph_prefix=graph_prefix, connect_timeout=float(cfg["REMOTE_CONNECT_TIMEOUT"]),
                   read_timeout=float(cfg["REMOTE_READ_TIMEOUT"]))
