"""Named queries written for the engine's planner answer what their plain reading says.

``search-by-label`` scans labels in a sub-select before its per-resource checks,
``source-documents`` counts figures through a join of two sub-selects and ``counts-per-class``
starts from the ontology's classes (all much faster on the benchmark stores, bench/RESULTS.md).
Their answers on the real graph are checked here against the same definitions computed in
Python from the graph's triples.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from service.catalogue import bind, load_catalogue, run_table
from service.config import DEFAULTS
from tests.graph.helpers import NS, lexical, select

QUERIES = load_catalogue(DEFAULTS["QUERIES_DIR"], "http://kg.test/")
EXCLUDED = {f"<{NS.eco_ns}{name}>" for name in ("Observation", "SourceFragment", "DataGap")}


def fold(text: str) -> str:
    """The query's folding: lower case, the French accents and the typographic apostrophe."""
    text = text.lower()
    for pattern, plain in (("[àâä]", "a"), ("[éèêë]", "e"), ("[îï]", "i"), ("[ôö]", "o"), ("[ùûü]", "u"),
                           ("ç", "c"), ("’", "'")):
        text = re.sub(pattern, plain, text)
    return text


@pytest.fixture(scope="module")
def typed(kg_store: Any) -> dict[str, set[str]]:
    types: dict[str, set[str]] = defaultdict(set)
    for row in select(kg_store, "SELECT ?r ?t { ?r a ?t }"):
        types[row["r"]].add(row["t"])
    return types


@pytest.mark.parametrize(("text", "kind"), [("metropole europeenne", None), ("LILLE", None), ("Béthune", None),
                                            ("’", None), ("e", "Commune"), ("universite", "Organization")])
def test_search_by_label_finds_what_its_description_says(kg_store: Any, typed: dict[str, set[str]], text: str,
                                                         kind: str | None) -> None:
    query = QUERIES.queries["search-by-label"]
    params = {"text": text, **({"class": f"eco:{kind}"} if kind else {})}
    got = run_table(kg_store, query, bind(query, params), limit=100_000, offset=0).rows
    want = set()
    for row in select(kg_store, "SELECT ?r ?l { ?r rdfs:label|skos:prefLabel|skos:altLabel ?l }"):
        types = typed[row["r"]]
        if (fold(text) in fold(lexical(row["l"])) and not types & EXCLUDED
                and any(t.startswith(f"<{NS.eco_ns}") for t in types)
                and (kind is None or f"<{NS.eco_ns}{kind}>" in types)):
            want.add((row["r"], row["l"]))
    assert want, "the case finds something"
    assert {(r["resource"], r["label"]) for r in got} == want
    exact = [r for r in got if r["exact"].startswith('"true"')]
    assert got[:len(exact)] == exact  # exact matches first
    assert all(fold(lexical(r["label"])) == fold(text) for r in exact)


def test_source_documents_counts_are_the_graphs(kg_store: Any, typed: dict[str, set[str]]) -> None:
    query = QUERIES.queries["source-documents"]
    got = {r["document"]: r for r in run_table(kg_store, query, bind(query, {}), limit=1000, offset=0).rows}
    fragments: dict[str, set[str]] = defaultdict(set)
    for row in select(kg_store, "SELECT ?f ?d { ?f prov:wasQuotedFrom ?d }"):
        fragments[row["d"]].add(row["f"])
    derived: dict[str, set[str]] = defaultdict(set)
    for row in select(kg_store, "SELECT ?x ?f { ?x prov:wasDerivedFrom ?f }"):
        derived[row["f"]].add(row["x"])
    observation = f"<{NS.eco_ns}Observation>"
    documents = {r for r, types in typed.items() if f"<{NS.eco_ns}SourceDocument>" in types}
    assert set(got) == documents
    for document, row in got.items():
        figures = {x for f in fragments[document] for x in derived[f] if observation in typed[x]}
        assert int(lexical(row["fragments"])) == len(fragments[document]), document
        assert int(lexical(row["figures"])) == len(figures), document
    assert any(int(lexical(r["figures"])) > 0 for r in got.values())


def test_counts_per_class_are_the_graphs(kg_store: Any, typed: dict[str, set[str]]) -> None:
    query = QUERIES.queries["counts-per-class"]
    got = {r["class"]: int(lexical(r["instances"]))
           for r in run_table(kg_store, query, bind(query, {"lang": "fr"}), limit=1000, offset=0).rows}
    counts: dict[str, int] = defaultdict(int)
    for types in typed.values():
        for t in types:
            if t.startswith(f"<{NS.eco_ns}"):
                counts[t] += 1
    declared = {r["c"] for r in select(kg_store, "SELECT DISTINCT ?c { ?c a owl:Class }")}
    assert set(counts) <= declared, set(counts) - declared  # "every class of the eco: ontology"
    assert got == counts
