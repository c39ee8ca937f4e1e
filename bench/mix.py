"""The benchmark's query mix and how answers are compared across systems.

The mix is ``bench/queries/*.rq`` (the issue's ten shapes) plus every named query of
``queries/*.rq`` (``nq-<name>``), bound with its default parameters (its example values
when a required parameter has no default) and paged like the API's first page (100 rows),
as standalone SPARQL with the parameters written into the text as the API does on the
embedded backend (:func:`service.sparqltext.prebind`, tables and graphs; the ``VALUES`` form
of the remote backend, :func:`service.store.remote.with_values`, where they cannot be
written), so every engine runs the same text. The bench builds under the default base
(``https://data.example.org/``), which the query files use.

Answers are compared as multisets of rows, order ignored: SELECT rows as tuples of
values (numbers rounded to 6 decimals, booleans as 1/0, blank nodes as ``_:``, datatypes and
language tags ignored, since engines type aggregates differently); CONSTRUCT answers as triples normalised
the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from service.iris import DEFAULT_BASE

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "queries"
NAMED = ROOT / "queries"

__all__ = ["Query", "mix", "rows_from_json", "rows_from_ox", "rows_from_rdf"]

Row = tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """One query of the mix: ``kind`` is ``select`` (SELECT/ASK) or ``construct``."""

    name: str
    text: str
    kind: str = "select"

    @property
    def accept(self) -> str:
        return "application/sparql-results+json" if self.kind == "select" else "text/turtle"


def mix(base: str = DEFAULT_BASE) -> list[Query]:
    """The whole mix, in a fixed order."""
    from service.catalogue import DEFAULT_LIMIT, bind, graph_text, load_catalogue, table_text
    from service.errors import BadParameter
    from service.sparqltext import prebind
    from service.store.oxigraph import nt_to_term
    from service.store.remote import with_values

    out = [Query(p.stem, p.read_text(encoding="utf-8")) for p in sorted(QUERIES.glob("*.rq"))]
    for q in sorted(load_catalogue(NAMED, base), key=lambda q: q.name):
        try:
            terms = bind(q, {})
        except BadParameter:
            terms = bind(q, dict(q.example))
        written = {k: str(nt_to_term(v)) for k, v in terms.items()}
        if q.returns == "table":
            text = table_text(q, DEFAULT_LIMIT, 0)
            out.append(Query(f"nq-{q.name}", prebind(text, written) or with_values(text, terms) if terms else text))
        else:
            text = graph_text(q, {}, DEFAULT_LIMIT, 0)[0]
            bound = prebind(text, written) if terms else text
            out.append(Query(f"nq-{q.name}", bound or graph_text(q, terms, DEFAULT_LIMIT, 0)[0], "construct"))
    return out


def _norm(value: str) -> str:
    if value in ("true", "false"):  # Virtuoso answers xsd:boolean values as 1 and 0
        return "1.0" if value == "true" else "0.0"
    try:
        f = float(value)
    except ValueError:
        return value
    return repr(round(f, 6)) if f == f else value


def _term(term: Any) -> str:
    if isinstance(term, ox.BlankNode):
        return "_:"
    return _norm(term.value)


def rows_from_json(doc: dict[str, Any]) -> list[Row]:
    """Rows of a SPARQL JSON results document (an ASK answer is one row ``(true|false,)``)."""
    if "boolean" in doc:
        return [(str(doc["boolean"]).lower(),)]
    names = doc["head"]["vars"]
    out = []
    for b in doc["results"]["bindings"]:
        out.append(tuple(("_:" if b[n]["type"] == "bnode" else _norm(b[n]["value"])) if n in b else ""
                         for n in names))
    return sorted(out)


def rows_from_ox(result: Any) -> list[Row]:
    """Rows of a pyoxigraph query result (solutions, a boolean, or triples)."""
    if isinstance(result, bool):
        return [(str(result).lower(),)]
    if isinstance(result, ox.QueryTriples):
        return sorted((_term(t.subject), _term(t.predicate), _term(t.object)) for t in result)
    names = [v.value for v in result.variables]
    return sorted(tuple(_term(sol[n]) if sol[n] is not None else "" for n in names) for sol in result)


def rows_from_rdf(body: bytes, media_type: str) -> list[Row]:
    """Triples of a CONSTRUCT answer (Turtle, N-Triples or JSON-LD) as rows."""
    fmt = ox.RdfFormat.JSON_LD if "json" in media_type else ox.RdfFormat.TURTLE
    return sorted((_term(t.subject), _term(t.predicate), _term(t.object)) for t in ox.parse(body, format=fmt))


def dumps(rows: list[Row] | None) -> str:
    return json.dumps(rows)
