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
  graphs included, and it adds a protocol ``default-graph-uri`` to a query's ``FROM``. So
  every query is sent with both protocol parts computed from the embedded store's rule and
  its own ``FROM`` clauses blanked out (:mod:`service.store.remote_dataset`); with
  ``graph_prefix`` only graphs under it are ever sent, and without a dataset the default
  graph is the union of those graphs (listed once, cached :data:`GRAPH_CACHE_SECONDS`,
  refreshed after our writes), as in the embedded store.
* **HTTP** (timeouts, caps, partial answers, sanitised errors): :mod:`service.store.upstream`.
  SPARQLWrapper builds the protocol requests (``_createRequest``; pinned ``~=2.0.0``), the
  exchange is ours because its ``setTimeout`` is one integer for the process-wide
  ``urlopen``. Virtuoso truncates CONSTRUCT answers at its row cap with a plain 200 and no
  header, so a graph of a known cap (10,000, or one seen in a header) or one more is refused.
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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox
from SPARQLWrapper import POST, SPARQLWrapper

from service.errors import BadQuery, NotAcceptable, ReadOnly, UpstreamError
from service.sparql_guard import _expand_escapes
from service.store import Binding, Dataset, QueryOutput
from service.store.oxigraph import GRAPH_FORMATS, RESULT_FORMATS, nt_to_term
from service.store.remote_dataset import EMPTY_SUFFIX, _tokens, empty_graph, remote_dataset
from service.store.upstream import Reply, Upstream

__all__ = ["RemoteStore", "query_form", "with_values", "canonical"]

log = logging.getLogger(__name__)

XSD = "http://www.w3.org/2001/XMLSchema#"
JSON_RESULTS = "application/sparql-results+json"
NTRIPLES_TYPES = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/plain": ox.RdfFormat.N_TRIPLES,
                  "text/ntriples": ox.RdfFormat.N_TRIPLES, "text/turtle": ox.RdfFormat.TURTLE}
READ_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
GRAPH_CACHE_SECONDS = 60.0
USER_AGENT = "territory-kg (SPARQLWrapper)"

_VARNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def with_values(query: str, bindings: Mapping[str, str]) -> str:
    """Bind variables with ``VALUES`` blocks opening the groups of the query that need them.

    The value then holds wherever the query uses the variable: in sub-selects, and in the
    filters of nested ``OPTIONAL`` groups, which a block opening the WHERE clause alone would
    not reach (SPARQL evaluates groups bottom-up). (The embedded engine's ``substitutions`` do
    not reach a sub-select that uses the variable without projecting it; the embedded backend
    writes the values into the text instead, :func:`service.sparqltext.prebind`.)
    Blocks open the query's WHERE, each sub-select's WHERE that uses a bound
    variable without projecting it, and each group with a FILTER or BIND of its own that uses
    one, a ``FILTER [NOT] EXISTS`` pattern that uses one counting as the group's own filter (and
    the groups enclosing it); never a group that holds only a sub-select (the syntax
    forbids it), a ``VALUES`` data block or a ``MINUS`` group (it would change what matches).
    No more than that: every block weighs on Virtuoso's cost estimate, which refuses a query
    past its limit.
    Values are parsed as N-Triples terms and re-serialised, so no text is pasted.

    >>> with_values('SELECT ?l WHERE { ?s <urn:label> ?l }', {"s": "<urn:a>"})
    'SELECT ?l WHERE { VALUES (?s) { (<urn:a>) }  ?s <urn:label> ?l }'
    >>> print(with_values('SELECT ?select { { SELECT ?t { ?t a:select ?select VALUES ?x { 1 } } } '
    ...                   '{ SELECT ?s (COUNT(*) AS ?n) { ?s a:p ?o } GROUP BY ?s } { SELECT (COUNT(?s) AS ?m) { ?s a:p ?o } } '
    ...                   '{ SELECT ?n2 { ?t a:p ?s } } '
    ...                   'OPTIONAL { ?s a:q ?o OPTIONAL { ?o a:r ?p FILTER(?p = ?s) } } }', {"s": "<urn:a>"}))
    SELECT ?select { VALUES (?s) { (<urn:a>) }  { SELECT ?t { ?t a:select ?select VALUES ?x { 1 } } } { SELECT ?s (COUNT(*) AS ?n) { ?s a:p ?o } GROUP BY ?s } { SELECT (COUNT(?s) AS ?m) { VALUES (?s) { (<urn:a>) }  ?s a:p ?o } } { SELECT ?n2 { VALUES (?s) { (<urn:a>) }  ?t a:p ?s } } OPTIONAL { VALUES (?s) { (<urn:a>) }  ?s a:q ?o OPTIONAL { VALUES (?s) { (<urn:a>) }  ?o a:r ?p FILTER(?p = ?s) } } }

    A sub-select that projects the variable and tests it only in ``FILTER EXISTS`` gets a block
    (bottom-up, the pattern would otherwise see it unbound and match any class):

    >>> print(with_values('SELECT ?r ?c { { SELECT ?r ?c { { SELECT ?r { ?r a:l ?l } } '
    ...                   'FILTER EXISTS { ?r a ?c } } } }', {"c": "<urn:C>"}))
    SELECT ?r ?c { VALUES (?c) { (<urn:C>) }  { SELECT ?r ?c { VALUES (?c) { (<urn:C>) }  { SELECT ?r { ?r a:l ?l } } FILTER EXISTS { ?r a ?c } } } }

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
    block = f" VALUES ({' '.join(names)}) {{ ({' '.join(terms)}) }} "
    tokens = list(_tokens(query))
    bound = {name[1:] for name in names}
    groups: list[int] = []
    # An open group: [offset after "{" (-1: it holds a sub-select), the query's WHERE, the
    # bound variables a sub-select's WHERE hides (not projected), bound variables mentioned
    # inside, whether a FILTER or BIND of its own uses one, whether a group inside got a block,
    # whether it is the group of a FILTER [NOT] EXISTS].
    open_groups: list[list[Any]] = []
    skipping, skip_next, where = 0, False, True  # a VALUES data block or MINUS group: skipped
    projection: set[str] | None = None  # variables of the SELECT clause being read
    depth = 0  # parenthesis depth in that clause
    expression: int | None = None  # parenthesis depth inside a FILTER or BIND of the current group
    for i, (kind, match) in enumerate(tokens):
        text = match.group()
        if expression is not None and kind != "open":
            expression += 1 if text == "(" else -1 if text == ")" else 0
            if kind == "var" and text[1:] in bound and open_groups:
                open_groups[-1][4] = True
            if expression <= 0 and text == ")":
                expression = None
        if skipping:
            skipping += 1 if kind == "open" else -1 if text == "}" else 0
        elif kind == "word" and text.upper() in ("VALUES", "MINUS"):
            skip_next = True
        elif kind == "open" and skip_next:
            skipping, skip_next = 1, False
        elif kind == "word" and text.upper() == "SELECT":
            projection, depth = set(), 0
        elif projection is not None and kind != "open":  # ?v, *, or (expression AS ?v): not ?x inside it
            depth += 1 if text == "(" else -1 if text == ")" else 0
            if text == "*" or kind == "var" and (depth == 0 or tokens[i - 1][1].group().upper() == "AS"):
                projection |= bound if text == "*" else {text[1:]}
        elif kind == "open":
            exists, expression = expression is not None, None  # FILTER [NOT] EXISTS { … }: a group of its own
            following = tokens[i + 1][1].group().upper() if i + 1 < len(tokens) else ""
            hidden = bound - projection if projection is not None else set()
            open_groups.append([match.end() if following != "SELECT" else -1, where, hidden, set(), False, False,
                                exists])
            where, projection = False, None
        elif kind == "var" and text[1:] in bound:
            for group in open_groups:
                group[3].add(text[1:])
        elif kind == "word" and text.upper() in ("FILTER", "BIND") and open_groups:
            expression = 0
        elif text == "}" and open_groups:
            at, first, hidden, mentioned, uses, inner, exists = open_groups.pop()
            if exists and mentioned and open_groups:
                # the enclosing group's filter uses the variable: the EXISTS pattern sees that
                # group's solutions, so the value must be bound there, not only further out
                open_groups[-1][4] = True
            # The query's WHERE; a sub-select's WHERE that uses a variable it does not project
            # (outside, a binding cannot reach it); a group whose own FILTER/BIND uses one
            # (evaluated bottom-up, it cannot see a binding made outside it), and the groups
            # around that one (Virtuoso 7.2 needs them for nested OPTIONALs).
            if at >= 0 and (first or inner or uses or hidden & mentioned):
                groups.append(at)
                if open_groups and not first:
                    open_groups[-1][5] = True
    groups.sort()
    if not groups:
        raise BadQuery("The query has no WHERE clause to bind parameters in.")
    pieces, start = [], 0
    for end in groups:
        pieces += [query[start:end], block]
        start = end
    return "".join(pieces) + query[start:]


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
    :param base_iri: what relative IRIs in queries resolve against (the service's ``/sparql``).
    """

    supports_named_graphs = True

    def __init__(self, query_url: str, *, update_url: str | None = None, graph_store_url: str | None = None,
                 user: str | None = None, password: str | None = None, graph_prefix: str | None = None,
                 connect_timeout: float = 5.0, read_timeout: float = 30.0, max_bytes: int = 256 << 20,
                 base_iri: str | None = None) -> None:
        self.query_url, self.update_url, self.graph_prefix = query_url, update_url or None, graph_prefix
        self.base_iri = base_iri
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
        if self.base_iri:  # relative IRIs resolve as in the embedded store (same line: error positions hold)
            text = f"BASE <{self.base_iri}> {text}"
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
            self._graphs = tuple(sorted(row["g"].value for row in rows if self._ours(row["g"].value)))
            self._graphs_at = time.monotonic()
        return self._graphs

    def _dataset(self, query: str, dataset: Dataset | None) -> tuple[str, list[tuple[str, str]]]:
        """The query to send and its protocol dataset parameters (:func:`remote_dataset`)."""
        return remote_dataset(query, dataset, graph_prefix=self.graph_prefix, base=self.base_iri,
                              data_graphs=self.data_graphs)

    def _ours(self, iri: str) -> bool:
        """Whether ``iri`` can be one of this store's graphs (under ``graph_prefix``, not the empty one)."""
        return iri != empty_graph(self.graph_prefix) and (self.graph_prefix is None or iri.startswith(self.graph_prefix))

    # --- queries ----------------------------------------------------------------------

    def _form(self, query: str, allowed: tuple[str, ...] = READ_FORMS) -> str:
        form = query_form(query)
        if form not in (*READ_FORMS, *allowed):  # a parse error, as the embedded engine calls it
            raise BadQuery(f"SPARQL syntax error: expected a {', '.join(READ_FORMS)} query, "
                           f"not {(form or 'nothing')[:20]!r}.")
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
        # Virtuoso 7.2 cuts a CONSTRUCT at its cap plus one triple, with a plain 200 and no header.
        if len(graph) in self.upstream.row_caps or len(graph) - 1 in self.upstream.row_caps:
            raise UpstreamError(f"The remote engine returned {len(graph):,} triples, at its row limit: "
                                "the graph is probably truncated (raise ResultSetMaxRows on the engine).")
        return graph

    def execute(self, query: str, *, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput:
        form = self._form(query)
        query, params = self._dataset(query, dataset)
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
        text, params = self._dataset(text, None)
        result = self._solutions(text, "SELECT", params)
        names = [v.value for v in result.variables]
        return [{n: str(sol[n]) for n in names if sol[n] is not None} for sol in result]

    def ask(self, query: str) -> bool:
        self._form(query, ("ASK",))
        text, params = self._dataset(query, None)
        return bool(self._solutions(text, "ASK", params))

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
        if not self._ours(g):
            raise ValueError(f"graph {g} is reserved (it stands for no graph)")
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

    # --- /update and the Graph Store protocol (service.web.update, service.web.graphstore) -------

    def update(self, update: str, *, base_iri: str | None = None) -> None:
        """Send a SPARQL 1.1 update (already screened) to the update endpoint.

        Atomicity is the remote engine's: Virtuoso 7.2 keeps the operations before one that fails at
        run time (a syntax error changes nothing).

        :raises ReadOnly: no update endpoint.
        :raises UpstreamError: the engine refused or failed (its message, sanitised).
        """
        if EMPTY_SUFFIX.lstrip("~") in _expand_escapes(update).replace("\\", ""):
            raise BadQuery(f"The graph {empty_graph(self.graph_prefix)} is reserved (it stands for no graph).")
        try:
            # _request already declares the store's own BASE when it has one (one BASE per request here)
            self._update(f"BASE <{base_iri}>\n{update}" if base_iri and not self.base_iri else update)
        finally:
            self._graphs = None  # an update that failed half-way may still have made graphs

    def _named(self, iri: str | None) -> str:
        if iri is None:
            raise BadQuery("The remote store has no separate default graph: name a graph (?graph=<IRI>).")
        return str(nt_to_term(f"<{iri}>"))

    def has_graph(self, iri: str | None) -> bool:
        """Whether the named graph holds triples (the engine keeps no empty graphs); a graph
        outside ``graph_prefix`` never does (the engine's own graphs stay out of sight)."""
        name = self._named(iri)
        return self._ours(str(iri)) and bool(self._solutions(f"ASK {{ GRAPH {name} {{ ?s ?p ?o }} }}", "ASK", []))

    def graph(self, iri: str | None, media_type: str, max_bytes: int) -> bytes | None:
        """The named graph as ``media_type``; ``None`` when it holds no triples."""
        name = self._named(iri)
        if not self.has_graph(iri):
            return None
        data = self._graph(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {name} {{ ?s ?p ?o }} }}", "CONSTRUCT", [])
        body = ox.serialize(iter(data), format=GRAPH_FORMATS[media_type]) or b""
        if len(body) > max_bytes:
            raise BadQuery(f"The graph is more than {max_bytes:,} bytes: use a CONSTRUCT query with LIMIT.")
        return body

    def write_graph(self, iri: str | None, parts: list[tuple[bytes, str]], *, replace: bool) -> bool:
        """Replace or extend a named graph with uploaded documents (parsed here, sent as N-Triples).

        Not atomic on the remote engine: a ``PUT`` is a ``DROP`` then Graph Store ``POST`` requests.
        """
        from service.store.rdfio import to_ntriples

        name = self._named(iri)
        if not self._ours(str(iri)):
            raise BadQuery(f"The graph must be under {self.graph_prefix}, and not the reserved "
                           f"{empty_graph(self.graph_prefix)}." if self.graph_prefix else "The graph name is reserved.")
        lines = [line for body, media in parts for line in to_ntriples(body, media, iri).splitlines() if line]
        created = not self.has_graph(iri)
        if replace and not created:
            self._update(f"DROP SILENT GRAPH {name}")
        if lines:
            self._post(str(iri), lines)
        self._graphs = None
        return created

    def drop_graph(self, iri: str | None) -> bool:
        """Delete a named graph; ``False`` if it held no triples."""
        name = self._named(iri)
        if not self.has_graph(iri):
            return False
        self._update(f"DROP SILENT GRAPH {name}")
        self._graphs = None
        return True

    def close(self) -> None:
        self._graphs = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], *, graph_prefix: str | None = None) -> RemoteStore:
        """A store from the ``SPARQL_*`` and ``REMOTE_*`` settings (see :mod:`service.config`)."""
        return cls(str(cfg["SPARQL_URL"]), update_url=cfg.get("SPARQL_UPDATE_URL") or None,
                   graph_store_url=cfg.get("SPARQL_GRAPH_STORE_URL") or None,
                   user=cfg.get("SPARQL_USER") or None, password=cfg.get("SPARQL_PASSWORD") or None,
                   graph_prefix=graph_prefix, connect_timeout=float(cfg["REMOTE_CONNECT_TIMEOUT"]),
                   read_timeout=float(cfg["REMOTE_READ_TIMEOUT"]),
                   max_bytes=int(cfg.get("REMOTE_MAX_BYTES", 256 << 20)), base_iri=f"{cfg['BASE_URI']}sparql")
