"""Materialised inferences: each rule, and the fixpoint, on a tiny hand-written graph."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from service.build.inference import InferenceReport, materialise

DATA = """
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix e: <http://kg.test/def/eco#> .
@prefix x: <http://kg.test/id/> .
e:withinTerritory a owl:TransitiveProperty .
e:directlyWithin rdfs:subPropertyOf e:withinTerritory .
e:containsPlace owl:inverseOf e:withinTerritory .
e:Commune rdfs:subClassOf e:AdministrativeArea . e:AdministrativeArea rdfs:subClassOf e:Territory .
e:Territory rdfs:subClassOf [ a owl:Restriction ; owl:onProperty e:withinTerritory ; owl:someValuesFrom e:Territory ] .
x:lille a e:Commune ; e:directlyWithin x:nord . x:nord e:directlyWithin x:hdf . x:hdf e:directlyWithin x:fr .
x:textiles skos:broader x:manufacturing . x:manufacturing skos:broader x:all .
"""
INFERRED = ox.NamedNode("http://kg.test/graph/inferred")


@pytest.fixture()
def inferred() -> tuple[ox.Store, InferenceReport]:
    s = ox.Store()
    s.load(DATA.encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("http://kg.test/graph/data"))

    def construct_into(query: str) -> int:
        triples = {(t.subject, t.predicate, t.object) for t in s.query(query, use_default_graph_as_union=True)}
        s.extend([ox.Quad(a, b, c, INFERRED) for a, b, c in triples])
        return len(triples)

    return s, materialise(construct_into)


@pytest.fixture()
def store(inferred: tuple[ox.Store, InferenceReport]) -> ox.Store:
    return inferred[0]


def ask(store: ox.Store, pattern: str) -> bool:
    query = f"""PREFIX e: <http://kg.test/def/eco#> PREFIX x: <http://kg.test/id/>
    PREFIX skos: <http://www.w3.org/2004/02/skos/core#> ASK {{ GRAPH <http://kg.test/graph/inferred> {{ {pattern} }} }}"""
    return bool(store.query(query))


@pytest.mark.parametrize("pattern", [
    "x:lille e:withinTerritory x:nord",             # super-property
    "x:lille e:withinTerritory x:fr",               # transitive, three hops
    "x:fr e:containsPlace x:lille",                 # inverse of the closure
    "x:lille a e:Territory",                        # subclass, two levels
    "x:textiles skos:broaderTransitive x:all",      # broader closure
    "x:all skos:narrowerTransitive x:textiles",
])
def test_rule(store: ox.Store, pattern: str) -> None:
    assert ask(store, pattern)


def test_nothing_spurious(store: ox.Store) -> None:
    assert not ask(store, "x:lille e:withinTerritory x:lille")
    assert not ask(store, "x:lille e:directlyWithin x:fr")
    assert not ask(store, "?s a ?restriction . FILTER(isBlank(?restriction))")
    # asserted triples are not copied into the inferred graph
    assert not ask(store, "x:lille e:directlyWithin x:nord")


def test_fixpoint_is_reached_and_stable(inferred: tuple[ox.Store, InferenceReport]) -> None:
    store, report = inferred
    assert report.rounds >= 2 and report.total > 0
    before = len(store)
    again = materialise(lambda q: len(list(store.query(q, use_default_graph_as_union=True))))
    assert again.total == 0 and len(store) == before


# --------------------------------------------------------------------------------------
# The Python evaluation the build uses (service.build.fixpoint) equals the SPARQL rules
# --------------------------------------------------------------------------------------
CYCLES = DATA + """
x:a skos:broader x:b . x:b skos:broader x:a .
x:p e:withinTerritory x:q . x:q e:withinTerritory x:p .
x:lit e:directlyWithin "not a place" .
e:SubWithin rdfs:subPropertyOf e:directlyWithin . x:deep e:SubWithin x:lille .
x:blank e:directlyWithin [ a e:Commune ] .
"""


def _both(turtle: str) -> tuple[set[str], set[str], dict[str, int]]:
    """What the SPARQL rules write into the inferred graph, and what the Python evaluation
    derives, from one store (blank nodes are renamed on every load)."""
    from service.build.fixpoint import infer
    from service.build.inference import RULES

    s = ox.Store()
    s.load(turtle.encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("http://kg.test/graph/data"))
    triples, counts, passes = infer(s, [name for name, _ in RULES])
    assert passes == 1

    def construct_into(query: str) -> int:
        found = {(t.subject, t.predicate, t.object) for t in s.query(query, use_default_graph_as_union=True)}
        s.extend([ox.Quad(a, b, c, INFERRED) for a, b, c in found])
        return len(found)

    materialise(construct_into)
    expected = {f"{q.subject} {q.predicate} {q.object}" for q in s.quads_for_pattern(None, None, None, INFERRED)}
    return expected, {" ".join(t) for t in triples}, counts


@pytest.mark.parametrize("data", [DATA, CYCLES], ids=["tiny", "cycles-literals-blank-nodes"])
def test_python_evaluation_equals_sparql_rules(data: str) -> None:
    expected, found, counts = _both(data)
    assert found == expected
    assert sum(counts.values()) == len(found) and counts["subclass-types"] > 0 and counts["transitive"] > 0


def test_python_evaluation_of_cycles() -> None:
    _, found, _ = _both(CYCLES)
    assert "<http://kg.test/id/a> <http://www.w3.org/2004/02/skos/core#broaderTransitive> <http://kg.test/id/a>" \
        in found  # skos:broader+ through a cycle reaches the node itself, as the SPARQL path does
    assert not any(t.startswith("<http://kg.test/id/p> <http://kg.test/def/eco#withinTerritory> "
                                "<http://kg.test/id/p>") for t in found)  # the transitive rule skips ?s = ?o


def test_python_evaluation_equals_sparql_rules_on_the_real_graph(kg_config: dict[str, object]) -> None:
    """On every input of the real build (default scope): the same inferred triples."""
    from service.build.fixpoint import infer
    from service.build.inference import RULES
    from service.build.pipeline import compile_inputs

    graphs = compile_inputs(kg_config)
    s = ox.Store()
    s.bulk_load(("\n".join(line for lines in graphs.values() for line in lines) + "\n").encode(),
                format=ox.RdfFormat.N_QUADS)
    triples, counts, _ = infer(s, [name for name, _ in RULES])

    def construct_into(query: str) -> int:
        found = {(t.subject, t.predicate, t.object) for t in s.query(query, use_default_graph_as_union=True)}
        s.extend([ox.Quad(a, b, c, INFERRED) for a, b, c in found])
        return len(found)

    report = materialise(construct_into)
    expected = {f"{q.subject} {q.predicate} {q.object}" for q in s.quads_for_pattern(None, None, None, INFERRED)}
    assert {" ".join(t) for t in triples} == expected
    assert sum(counts.values()) == report.total > 10_000


# --------------------------------------------------------------------------------------
# Derived observation labels (inference.LABEL_RULES)
# --------------------------------------------------------------------------------------
LABELS = """
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix e: <http://kg.test/def/eco#> .
@prefix x: <http://kg.test/id/> .
x:jobs skos:prefLabel "Jobs"@en, "Emplois"@fr .
x:lille rdfs:label "Lille"@fr, "Lille (city)"@en, "Lille (town)"@en .
x:arras rdfs:label "Arras"@fr .
x:both a e:Observation ; e:indicator x:jobs ; e:statedValueText "285,000" ; e:refArea x:lille .
x:frenchOnly a e:Observation ; e:indicator x:jobs ; e:statedValueText "12" ; e:refArea x:arras .
x:unnamed a e:Observation ; e:indicator x:jobs ; e:statedValueText "3" ; e:refOrganization x:acme .
x:labelled a e:Observation ; e:indicator x:jobs ; e:statedValueText "4" ; e:refArea x:arras ;
    rdfs:label "Already named"@en .
x:notAnObservation e:indicator x:jobs ; e:statedValueText "5" ; e:refArea x:arras .
"""


def test_derived_labels() -> None:
    """In the label's language, else French, else "?"; the least of several; none where the
    observation has one in that language, none for what is not an observation."""
    from service.build.inference import LABEL_RULES, PREFIXES

    s = ox.Store()
    s.load(LABELS.encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("http://kg.test/graph/data"))
    found = set()
    for _, rule in LABEL_RULES:
        for t in s.query(PREFIXES + rule.replace("{eco}", "http://kg.test/def/eco#"), use_default_graph_as_union=True):
            found.add((t.subject.value.rsplit("/", 1)[1], t.object.value, t.object.language))
    assert found == {
        ("both", "Jobs — Lille (city): 285,000", "en"), ("both", "Emplois — Lille: 285,000", "fr"),
        ("frenchOnly", "Jobs — Arras: 12", "en"), ("frenchOnly", "Emplois — Arras: 12", "fr"),
        ("unnamed", "Jobs — ?: 3", "en"), ("unnamed", "Emplois — ?: 3", "fr"),
        ("labelled", "Emplois — Arras: 4", "fr"),
    }
