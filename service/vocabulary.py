"""The vocabulary a page names things with: labels, definitions and unit symbols of the
ontology's terms and of the reference concepts (indicators, industries, periods, units,
schemes), read from the store in one query and cached per build by the caller.

Contract: :func:`load_terms` returns a :class:`Terms` table; :meth:`Terms.covers` says
whether an IRI belongs to the cached namespaces (:func:`vocabulary_prefixes`), so that
:func:`service.describe.describe` does not look those resources up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.describe import IRIREF, QUDT_SYMBOL, RDFS, SKOS, parse_term
from service.iris import Namespaces
from service.store import GraphStore

__all__ = ["Terms", "load_terms", "vocabulary_prefixes"]


@dataclass
class Terms:
    """Labels and definitions of the ontology's terms, by language.

    :param labels: IRI → language → label (``rdfs:label``, else ``skos:prefLabel``).
    :param definitions: IRI → language → ``skos:definition`` (else ``rdfs:comment``).
    """

    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    definitions: dict[str, dict[str, str]] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()
    symbols: dict[str, str] = field(default_factory=dict)

    def covers(self, iri: str) -> bool:
        """Whether ``iri`` is a vocabulary term this table describes (by namespace)."""
        return iri.startswith(self.prefixes)

    def label(self, iri: str, lang: str) -> str | None:
        found = self.labels.get(iri)
        if not found:
            return None
        return found.get(lang) or found.get("en") or next(iter(found.values()))

    def definition(self, iri: str, lang: str) -> str | None:
        found = self.definitions.get(iri)
        if not found:
            return None
        return found.get(lang) or found.get("en") or next(iter(found.values()))


def vocabulary_prefixes(ns: Namespaces) -> tuple[str, ...]:
    """The namespaces :func:`load_terms` caches: the ontology and the reference concepts."""
    return (ns.ontology, *(ns.id_ns + kind + "/" for kind in ("indicator", "industry", "period", "unit", "scheme")))


def load_terms(store: GraphStore, ns: Namespaces) -> Terms:
    """Read the labels and definitions of the ontology's terms and the reference concepts
    (indicators, industries, periods, units, schemes): one query, a few hundred terms.
    """
    prefixes = vocabulary_prefixes(ns)
    starts = " || ".join(f'STRSTARTS(STR(?s), "{n}")' for n in prefixes if IRIREF.fullmatch(n))
    rows = store.select(f"SELECT ?s ?p ?o WHERE {{ VALUES ?p {{ <{RDFS}label> <{SKOS}prefLabel> "
                        f"<{SKOS}definition> <{RDFS}comment> <{QUDT_SYMBOL}> }} ?s ?p ?o FILTER(isIRI(?s) && ({starts})) }}")
    terms = Terms(prefixes=prefixes)
    rank = {RDFS + "label": 0, SKOS + "prefLabel": 1, SKOS + "definition": 0, RDFS + "comment": 1}
    best: dict[tuple[str, str, str], int] = {}
    for row in rows:
        s, p, o = row["s"][1:-1], row["p"][1:-1], parse_term(row["o"])
        if o.kind != "literal":
            continue
        if p == QUDT_SYMBOL:
            terms.symbols[s] = o.value
            continue
        table = terms.labels if p in (RDFS + "label", SKOS + "prefLabel") else terms.definitions
        kind = "l" if table is terms.labels else "d"
        lang = o.lang or "en"
        if best.get((s, kind, lang), 99) > rank[p]:
            best[(s, kind, lang)] = rank[p]
            table.setdefault(s, {})[lang] = o.value
    return terms
