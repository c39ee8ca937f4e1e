"""Materialised inferences, computed by the engine itself.

Queries should not need a reasoner at request time, so the build writes what they rely
on into the graph ``{BASE}graph/inferred``: super-properties, transitive closures,
inverse relations, ``skos:broaderTransitive`` and types from subclasses. Each rule is one
SPARQL Update run by the store; the rules are repeated until nothing new appears (a
fixpoint), which takes two or three rounds on this ontology. Only what the ontology
declares is used: ``rdfs:subPropertyOf``, ``owl:TransitiveProperty``, ``owl:inverseOf``
and ``rdfs:subClassOf`` between named classes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RULES", "LABEL_RULES", "materialise", "InferenceReport"]

log = logging.getLogger(__name__)

PREFIXES = """PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

#: (name, SPARQL CONSTRUCT over the union of all graphs) yielding only new triples.
RULES: list[tuple[str, str]] = [
    ("super-properties", """CONSTRUCT { ?s ?super ?o }
WHERE { ?p rdfs:subPropertyOf+ ?super . FILTER(isIRI(?super) && ?super != ?p)
        ?s ?p ?o . FILTER NOT EXISTS { ?s ?super ?o } }"""),
    ("transitive", """CONSTRUCT { ?s ?p ?o }
WHERE { ?p a owl:TransitiveProperty . ?s ?p ?m . ?m ?p ?o .
        FILTER(?s != ?o) FILTER NOT EXISTS { ?s ?p ?o } }"""),
    ("inverses", """CONSTRUCT { ?o ?q ?s }
WHERE { { ?p owl:inverseOf ?q } UNION { ?q owl:inverseOf ?p }
        FILTER(isIRI(?p) && isIRI(?q)) ?s ?p ?o . FILTER(isIRI(?o) || isBlank(?o))
        FILTER NOT EXISTS { ?o ?q ?s } }"""),
    ("broader-transitive", """CONSTRUCT { ?a skos:broaderTransitive ?b . ?b skos:narrowerTransitive ?a }
WHERE { ?a skos:broader+ ?b . FILTER NOT EXISTS { ?a skos:broaderTransitive ?b } }"""),
    ("subclass-types", """CONSTRUCT { ?s a ?super }
WHERE { ?c rdfs:subClassOf+ ?super . FILTER(isIRI(?super) && isIRI(?c) && ?super != ?c)
        ?s a ?c . FILTER NOT EXISTS { ?s a ?super } }"""),
]


#: Derived labels for observations that have none: "indicator — subject: value as stated",
#: in English and French, from the labels of the indicator and of the area or organisation (in
#: the label's language, else in French, else "?"; the least when there are several).
#:
#: Each property is read in its own sub-select and the parts are hash-joined: pyoxigraph would
#: otherwise look the indicator, text, area and existing labels up observation by observation
#: (about 20 µs a lookup over the union of graphs). The 100k benchmark store: 5.8 + 5.3 s for the
#: two rules, one joined pattern each; 2.2 + 2.8 s this way (bench/RESULTS.md).
LABEL_RULES: list[tuple[str, str]] = [
    (f"observation-labels-{lang}", f"""CONSTRUCT {{ ?obs rdfs:label ?label }}
WHERE {{ {{ SELECT ?obs {{ ?obs a <{{eco}}Observation> }} }}
        {{ SELECT ?obs ?ind {{ ?obs <{{eco}}indicator> ?ind }} }}
        {{ SELECT ?obs ?stated {{ ?obs <{{eco}}statedValueText> ?stated }} }}
        MINUS {{ ?obs rdfs:label ?existing FILTER(lang(?existing) = "{lang}") }}
        {{ SELECT ?ind (MIN(?l) AS ?indLabel) {{ ?ind skos:prefLabel ?l FILTER(lang(?l) = "{lang}") }} GROUP BY ?ind }}
        {{ SELECT ?obs ?subject {{ {{ ?obs <{{eco}}refArea> ?subject }} UNION {{ ?obs <{{eco}}refOrganization> ?subject }} }} }}
        OPTIONAL {{ SELECT ?subject (MIN(?sl) AS ?inLanguage)
                    {{ ?subject rdfs:label ?sl FILTER(lang(?sl) = "{lang}") }} GROUP BY ?subject }}
        OPTIONAL {{ SELECT ?subject (MIN(?sl) AS ?inFrench)
                    {{ ?subject rdfs:label ?sl FILTER(lang(?sl) = "fr") }} GROUP BY ?subject }}
        BIND(STRLANG(CONCAT(?indLabel, " — ", COALESCE(?inLanguage, ?inFrench, "?"), ": ", ?stated), "{lang}")
             AS ?label) }}""")
    for lang in ("en", "fr")
]


@dataclass(frozen=True)
class InferenceReport:
    """What the fixpoint added: triples per rule, rounds run."""

    added: dict[str, int]
    rounds: int

    @property
    def total(self) -> int:
        return sum(self.added.values())


def materialise(construct_into: Callable[[str], int], *, max_rounds: int = 10) -> InferenceReport:
    """Run :data:`RULES` to a fixpoint.

    :param construct_into: runs a CONSTRUCT over the union of the graphs, adds its triples
        to the inferred graph and returns how many it added.
    :raises RuntimeError: if no fixpoint is reached in ``max_rounds`` (a cyclic rule).
    """
    added = {name: 0 for name, _ in RULES}
    for round_number in range(1, max_rounds + 1):
        this_round = 0
        for name, template in RULES:
            new = construct_into(PREFIXES + template)
            added[name] += new
            this_round += new
        if this_round == 0:
            log.info("inference fixpoint after %d rounds: %d triples", round_number, sum(added.values()))
            return InferenceReport(added, round_number)
    raise RuntimeError(f"inference did not reach a fixpoint in {max_rounds} rounds")
