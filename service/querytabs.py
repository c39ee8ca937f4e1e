"""The query UI's content: the dataset's prefixes and one runnable query per named query.

Pure functions over the catalogue and the namespaces (no Flask): :mod:`service.web.queryui`
puts their output in the YASGUI page.

* :func:`dataset_prefixes`: the project's namespaces (:meth:`service.iris.Namespaces.prefixes`)
  plus every ``PREFIX`` the curated queries declare.
* :func:`bound_text`: a named query as text a person can run and edit: its YAML header
  replaced by a short comment, its parameters bound by a ``VALUES`` line opening the
  ``WHERE`` group. Values go through :func:`service.catalogue.bind` first (typed, checked
  N-Triples terms), the same terms the API binds.
* :func:`query_tabs`: one tab per named query, titled by its summary in the page language.

>>> from service.catalogue import parse_query_file
>>> q = parse_query_file("demo.rq", '''#+ summary: {en: Labels of a place, fr: Les noms d'un lieu}
... #+ description: {en: A demo., fr: Une démo.}
... #+ tags: [demo]
... #+ params: [{name: place, type: iri, required: true, example: commune/59350}]
... #+ returns: table
... PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
... SELECT $place ?label WHERE {
...   $place rdfs:label ?label
... }
... ''', "http://kg.test/")
>>> print(bound_text(q, q.example, "en"))
# Labels of a place
# Named query "demo" (/api/queries/demo). Parameters, bound by the VALUES lines: place.
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT $place ?label WHERE {
  VALUES ($place) { (<http://kg.test/id/commune/59350>) }
  $place rdfs:label ?label
}
<BLANKLINE>
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.catalogue import NamedQuery, bind, parse_header
from service.iris import Namespaces
from service.sparqltext import graph_parts, split_prologue, tokens

__all__ = ["QueryTab", "dataset_prefixes", "declared_prefixes", "prefix_lines", "bound_text", "query_tabs",
           "starter_query"]

_NOTE = {
    "en": 'Named query "{name}" (/api/queries/{name}). Parameters, bound by the VALUES lines: {params}.',
    "fr": 'Requête nommée « {name} » (/api/queries/{name}). Paramètres, liés par les lignes VALUES : {params}.',
}
_NOTE_PLAIN = {
    "en": 'Named query "{name}" (/api/queries/{name}).',
    "fr": 'Requête nommée « {name} » (/api/queries/{name}).',
}
_STARTER = {
    "en": "# The dataset's prefixes; the default graph is the union of every named graph.",
    "fr": "# Les préfixes du jeu de données ; le graphe par défaut est l'union de tous les graphes nommés.",
}


@dataclass(frozen=True)
class QueryTab:
    """One pre-loaded YASGUI tab: ``id`` (the query's name), ``name`` (its title) and ``query``."""

    id: str
    name: str
    query: str


def declared_prefixes(text: str) -> dict[str, str]:
    """The ``PREFIX`` declarations of a query's prologue, in order.

    >>> declared_prefixes("# c\\nPREFIX eco: <http://kg.test/def/eco#>\\nPREFIX : <urn:x#>\\nSELECT * {}")
    {'eco': 'http://kg.test/def/eco#', '': 'urn:x#'}
    """
    prologue, _rest = split_prologue(text)
    found: dict[str, str] = {}
    pending: str | None = None
    for kind, tok, _start, _end in tokens(prologue):
        if kind == "word" and tok.upper() == "PREFIX":
            pending = ""
        elif pending == "" and kind == "word" and tok.endswith(":"):
            pending = tok[:-1] + ":"
        elif pending and kind == "iri":
            found[pending[:-1]] = tok[1:-1]
            pending = None
    return found


def dataset_prefixes(ns: Namespaces, queries: Iterable[NamedQuery]) -> dict[str, str]:
    """The project's prefixes, then those the named queries declare (the project's win a clash).

    >>> p = dataset_prefixes(Namespaces("http://kg.test/"), [])
    >>> p["eco"], p["id"], p["skos"]
    ('http://kg.test/def/eco#', 'http://kg.test/id/', 'http://www.w3.org/2004/02/skos/core#')
    """
    prefixes = dict(ns.prefixes())
    for query in queries:
        for prefix, iri in declared_prefixes(parse_header(query.text)[1]).items():
            prefixes.setdefault(prefix, iri)
    return prefixes


def prefix_lines(prefixes: Mapping[str, str]) -> str:
    """``PREFIX`` lines, one per prefix.

    >>> print(prefix_lines({"eco": "http://kg.test/def/eco#"}), end="")
    PREFIX eco: <http://kg.test/def/eco#>
    """
    return "".join(f"PREFIX {prefix}: <{iri}>\n" for prefix, iri in prefixes.items())


def starter_query(ns: Namespaces, queries: Iterable[NamedQuery], lang: str) -> str:
    """The text of a new tab: the prefixes the project and its named queries use, and a small query.

    >>> print(starter_query(Namespaces("http://kg.test/"), [], "en"))
    # The dataset's prefixes; the default graph is the union of every named graph.
    PREFIX eco: <http://kg.test/def/eco#>
    PREFIX id: <http://kg.test/id/>
    PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
    <BLANKLINE>
    SELECT ?s ?p ?o WHERE {
      ?s ?p ?o
    } LIMIT 10
    """
    own = ns.prefixes()
    used: dict[str, str] = {key: own[key] for key in ("eco", "id", "rdfs", "skos")}
    for query in queries:
        for prefix, iri in declared_prefixes(parse_header(query.text)[1]).items():
            used.setdefault(prefix, own.get(prefix, iri))
    return f"{_STARTER[lang]}\n{prefix_lines(used)}\nSELECT ?s ?p ?o WHERE {{\n  ?s ?p ?o\n}} LIMIT 10"


def _binding_points(rest: str, names: set[str]) -> list[tuple[int, bool]]:
    """Where a table query needs the ``VALUES`` line: ``(offset after '{', is the WHERE group)``.

    The engine binds a parameter like a constant everywhere (pyoxigraph ``substitutions``),
    also in nested groups: an ``OPTIONAL`` nested in another ``OPTIONAL`` does not see a
    value bound only at the top. So the line opens the ``WHERE`` group and every nested
    group that names a parameter itself; not a ``VALUES`` data block, nor the ``{ SELECT …}``
    wrapper of a sub-select (its own ``WHERE`` group gets the line).

    >>> print(_bind("SELECT $l ?x WHERE { VALUES ?k { 1 } OPTIONAL { ?x ?p ?y OPTIONAL { ?y ?q ?z "
    ...             "FILTER(LANG(?z) = $l) } } { SELECT ?x WHERE { ?x ?p $l } } }", "V", {"l"}, "table"))
    SELECT $l ?x WHERE {
      V VALUES ?k { 1 } OPTIONAL { ?x ?p ?y OPTIONAL { V ?y ?q ?z FILTER(LANG(?z) = $l) } } { SELECT ?x WHERE { V ?x ?p $l } } }
    """
    stack: list[dict[str, Any]] = []
    found: list[tuple[int, bool]] = []
    data_next = False
    for kind, tok, _start, end in tokens(rest):
        if kind in ("space", "comment"):
            continue
        if stack and stack[-1]["first"]:
            stack[-1]["first"] = False
            if kind == "word" and tok.upper() == "SELECT":
                stack[-1]["kind"] = "subselect"
        if kind == "word" and tok.upper() == "VALUES":
            data_next = True
        elif kind == "open":
            stack.append({"at": end, "kind": "data" if data_next else "group", "names": False, "first": True})
            data_next = False
        elif kind == "close" and stack:
            group = stack.pop()
            if group["kind"] == "group" and (group["names"] or not stack):
                found.append((group["at"], not stack))
        elif kind in ("param", "var") and tok[1:] in names and stack:
            stack[-1]["names"] = True
    return sorted(found)


def _bind(body: str, line: str, names: set[str], returns: str) -> str:
    """``body`` with ``line`` opening its ``WHERE`` group (graph queries: only there, as the API
    binds them; table queries: see :func:`_binding_points`)."""
    if returns == "graph":
        prologue, head, group, tail = graph_parts(body)
        return f"{prologue}{head}{{\n  {line}{group}}}{tail}"
    prologue, rest = split_prologue(body)
    out, done = [], 0
    for at, is_where in _binding_points(rest, names):
        out += [rest[done:at], f"\n  {line}" if is_where else f" {line}"]
        done = at
    return prologue + "".join(out) + rest[done:]


def bound_text(query: NamedQuery, values: Mapping[str, str], lang: str) -> str:
    """``query`` as runnable text: a comment, then its SPARQL with ``values`` bound by ``VALUES``.

    Missing values take the parameters' defaults; parameters with neither stay unbound.

    :param values: raw parameter values, as the API takes them (``commune/59350``, ``2019``).
    :param lang: ``en`` or ``fr``, the language of the comment.
    :raises service.errors.BadParameter: a value the parameter does not accept.
    """
    terms = bind(query, values)
    _header, body = parse_header(query.text)
    summary = " ".join(query.summary[lang].split())
    if terms:
        names = " ".join(f"${name}" for name in terms)
        line = f"VALUES ({names}) {{ ({' '.join(terms.values())}) }}"
        body = _bind(body, line, set(terms), query.returns)
        note = _NOTE[lang].format(name=query.name, params=", ".join(terms))
    else:
        note = _NOTE_PLAIN[lang].format(name=query.name)
    return f"# {summary}\n# {note}\n{body.lstrip(chr(10))}"


def query_tabs(queries: Iterable[NamedQuery], lang: str) -> list[QueryTab]:
    """One tab per named query, with its example (or default) values bound, titled in ``lang``."""
    return [QueryTab(q.name, " ".join(q.summary[lang].split()), bound_text(q, q.example, lang)) for q in queries]
