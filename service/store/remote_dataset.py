"""The dataset a remote (Virtuoso) query sees, made to follow the embedded store's rule.

The rule (:func:`service.store.oxigraph.dataset_options`, SPARQL 1.1 Protocol 2.1.4):

1. the protocol's ``default-graph-uri``/``named-graph-uri``, when either is given, alone
   define the dataset (the query's ``FROM``/``FROM NAMED`` are overridden; a part not given
   is empty);
2. else the query's ``FROM``/``FROM NAMED`` (a part not given is empty);
3. else the default graph is the union of the service's graphs, each of them named.

Virtuoso 7.2 does otherwise, as measured on the W3C protocol data: it adds the protocol's
``default-graph-uri`` to the query's ``FROM`` instead of replacing it, and a part left
unspecified is *all* its graphs, its own system graphs included (``FROM <g> … GRAPH ?g``
lists ``virtrdf#``, ``/DAV/``…). So :func:`remote_dataset` computes the dataset from the
rule here, blanks the query's own dataset clauses out (with spaces: error positions hold)
and always sends both parts as protocol parameters, an empty part as a graph that cannot
exist (:func:`empty_graph`; Virtuoso has no other way to say "no graph"). Every graph sent
is one of the service's (under its graph prefix): a dataset can never reach another graph.
A ``GRAPH <iri>`` naming a graph outside the named part lists no rows on Virtuoso either, but
(a Virtuoso 7.2 wrong answer, documented and tested) counts as one empty match in ``ASK`` and
``COUNT(*)``, whatever that graph holds.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterator

import pyoxigraph as ox

from service.errors import BadQuery
from service.store import Dataset

__all__ = ["EMPTY_GRAPH", "EMPTY_SUFFIX", "empty_graph", "dataset_clauses", "remote_dataset"]

#: The empty part's graph when the store has no graph prefix (an unscoped store).
EMPTY_GRAPH = "urn:x-territory-kg:no-graph"
#: Appended to the graph prefix to name the empty part's graph; never written (see RemoteStore).
EMPTY_SUFFIX = "~territory-kg-empty-dataset"

_TOKENS = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
      |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<open>\{)
  | (?P<var>[?$][A-Za-z0-9_]+)
  | (?P<pname>(?:[A-Za-z][\w.-]*)?:[\w.%:-]*)
  | (?P<word>[A-Za-z][A-Za-z0-9_-]*)
  | (?P<other>\S)""", re.VERBOSE | re.DOTALL)


def _tokens(query: str) -> Iterator[tuple[str, re.Match[str]]]:
    """The query's tokens (kind, match), comments left out: strings and IRIs are single tokens."""
    for match in _TOKENS.finditer(query):
        if match.lastgroup != "comment":
            yield str(match.lastgroup), match


def empty_graph(graph_prefix: str | None) -> str:
    """The graph IRI that stands for "no graph" in a protocol parameter."""
    return EMPTY_GRAPH if graph_prefix is None else graph_prefix + EMPTY_SUFFIX


def _resolve(kind: str, text: str, prefixes: dict[str, str], base: str | None) -> str:
    if kind == "iri":
        iri = text[1:-1]
        return urllib.parse.urljoin(base, iri) if base and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", iri) else iri
    prefix, _, local = text.partition(":")
    if prefix not in prefixes:
        raise BadQuery(f"Unknown prefix {prefix + ':'!r} in a FROM clause.")
    return prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)


def dataset_clauses(query: str, base: str | None = None) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """The query's ``FROM`` and ``FROM NAMED`` graphs (prefixed names and relative IRIs
    resolved) and the character spans of those clauses.

    >>> q = "PREFIX d: <urn:d:>\\nselect * from d:a FROM named <b> where { ?s ?p 'FROM <c>' }"
    >>> dataset_clauses(q, "http://x.test/sparql")
    (['urn:d:a'], ['http://x.test/b'], [(28, 36), (37, 51)])
    >>> dataset_clauses("CONSTRUCT { ?s <urn:from> 'FROM' } FROM <urn:g> WHERE { ?s ?p ?o }")[0]
    ['urn:g']

    :raises BadQuery: a ``FROM`` not followed by an IRI, or an unknown prefix.
    """
    default: list[str] = []
    named: list[str] = []
    spans: list[tuple[int, int]] = []
    prefixes: dict[str, str] = {}
    tokens = list(_tokens(query))
    depth, i = 0, 0
    while i < len(tokens):
        kind, match = tokens[i]
        word = match.group().upper() if kind == "word" else ""
        if kind == "open":
            depth += 1
        elif match.group() == "}":
            depth = max(depth - 1, 0)
        elif depth == 0 and word in ("PREFIX", "BASE"):
            following = tokens[i + 1: i + 3] if word == "PREFIX" else tokens[i + 1: i + 2]
            if word == "PREFIX" and len(following) == 2 and following[0][0] == "pname" and following[1][0] == "iri":
                prefixes[following[0][1].group()[:-1]] = _resolve("iri", following[1][1].group(), prefixes, base)
            elif word == "BASE" and following and following[0][0] == "iri":
                base = _resolve("iri", following[0][1].group(), prefixes, base)
        elif depth == 0 and word == "FROM":
            j = i + 1
            is_named = j < len(tokens) and tokens[j][0] == "word" and tokens[j][1].group().upper() == "NAMED"
            j += is_named
            if j >= len(tokens) or tokens[j][0] not in ("iri", "pname"):
                raise BadQuery("FROM must be followed by a graph IRI.")
            (named if is_named else default).append(_resolve(tokens[j][0], tokens[j][1].group(), prefixes, base))
            spans.append((match.start(), tokens[j][1].end()))
            i = j
        i += 1
    return default, named, spans


def _blank(query: str, spans: list[tuple[int, int]]) -> str:
    """``query`` with each span replaced by spaces (its newlines kept)."""
    chars = list(query)
    for start, end in spans:
        chars[start:end] = [c if c == "\n" else " " for c in query[start:end]]
    return "".join(chars)


def remote_dataset(query: str, dataset: Dataset | None, *, graph_prefix: str | None, base: str | None,
                   data_graphs: Callable[[], tuple[str, ...]]) -> tuple[str, list[tuple[str, str]]]:
    """The query to send (its dataset clauses blanked out) and the protocol parameters
    that give Virtuoso the dataset of the rule (module doc).

    Graphs outside ``graph_prefix`` are dropped (they do not exist for this service);
    an empty part is :func:`empty_graph`. Without a prefix (an unscoped store) rule 3
    sends no parameters: the engine's own default dataset.

    >>> send = lambda q, d=None: remote_dataset(q, d, graph_prefix="urn:g:", base=None,
    ...                                         data_graphs=lambda: ("urn:g:1", "urn:g:2"))
    >>> send("SELECT * FROM <urn:g:1> { ?s ?p ?o }")
    ('SELECT *                { ?s ?p ?o }', [('default-graph-uri', 'urn:g:1'), ('named-graph-uri', 'urn:g:~territory-kg-empty-dataset')])
    >>> send("ASK {}", Dataset(named_graphs=("urn:g:2", "urn:other")))[1]
    [('default-graph-uri', 'urn:g:~territory-kg-empty-dataset'), ('named-graph-uri', 'urn:g:2')]
    >>> send("ASK {}")[1]
    [('default-graph-uri', 'urn:g:1'), ('default-graph-uri', 'urn:g:2'), ('named-graph-uri', 'urn:g:1'), ('named-graph-uri', 'urn:g:2')]
    """
    from_default, from_named, spans = dataset_clauses(query, base)
    text = _blank(query, spans) if spans else query
    if dataset is not None and (dataset.default_graphs or dataset.named_graphs):
        default, named = list(dataset.default_graphs), list(dataset.named_graphs)
    elif spans:
        default, named = from_default, from_named
    elif graph_prefix is not None:
        default = named = list(data_graphs())
    else:
        return text, []
    empty = empty_graph(graph_prefix)

    def ours(graphs: list[str]) -> list[str]:
        kept = [g for g in dict.fromkeys(graphs) if _is_iri(g) and g != empty
                and (graph_prefix is None or g.startswith(graph_prefix))]
        return kept or [empty]

    return text, [("default-graph-uri", g) for g in ours(default)] + [("named-graph-uri", g) for g in ours(named)]


def _is_iri(text: str) -> bool:
    """An absolute IRI (Virtuoso pastes protocol graphs into its query text: nothing else may pass)."""
    try:
        ox.NamedNode(text)
    except ValueError:
        return False
    return ":" in text
