"""Parameters written into the text (service.sparqltext.prebind) answer like VALUES blocks.

The embedded engine runs a named query with its parameters written in as constants (fast
plans); the reference is the same query with ``VALUES`` blocks wherever the parameter is used
(:func:`service.store.remote.with_values`, what the remote backend runs), on the real graph,
with each query's example. ``substitutions`` are not a reference: they do not reach a
sub-select that uses a parameter without projecting it (population-of-territory's sum).
"""

from __future__ import annotations

from typing import Any

import pytest

from service.catalogue import bind, load_catalogue, run_table, table_text
from service.config import DEFAULTS
from service.sparqltext import prebind
from service.store.oxigraph import nt_to_term
from service.store.remote import with_values

QUERIES = load_catalogue(DEFAULTS["QUERIES_DIR"], "http://kg.test/")
TABLES = sorted(q.name for q in QUERIES if q.returns == "table" and q.params and bind(q, q.example))
#: Queries whose parameters cannot be written in (``VALUES $kind { … }``): bound by substitutions.
NOT_WRITTEN = {"programmes-and-labels"}


def _rows(rows: list[dict[str, str]]) -> list[tuple[tuple[str, str], ...]]:
    """Rows as sorted tuples; words of a value sorted (GROUP_CONCAT's order is the engine's choice)."""
    return sorted(tuple(sorted((k, " ".join(sorted(v.replace('"', ' ').split()))) for k, v in row.items())) for row in rows)


@pytest.mark.parametrize("name", TABLES)
def test_written_parameters_answer_like_values_blocks(name: str, kg_store: Any) -> None:
    query = QUERIES.queries[name]
    terms = bind(query, query.example)
    text = table_text(query, 1001, 0)
    written = prebind(text, {k: str(nt_to_term(v)) for k, v in terms.items()})
    assert (written is None) == (name in NOT_WRITTEN)
    page = run_table(kg_store, query, terms, limit=1000, offset=0)  # the embedded path: written when it can be
    reference = kg_store.select(with_values(text, terms))
    assert page.rows, name
    assert _rows(page.rows) == _rows(reference[:1000])


def test_population_sum_is_the_territorys_own(kg_store: Any) -> None:
    """The sum of the communes' legal populations counts the communes within the territory only."""
    query = QUERIES.queries["population-of-territory"]
    terms = bind(query, {"territory": "epci/200093201"})
    rows = run_table(kg_store, query, terms, limit=100, offset=0).rows
    summed = [r for r in rows if "Sum of the legal populations" in r["measure"]]
    expected = kg_store.select(
        "PREFIX eco: <http://kg.test/def/eco#> SELECT (COUNT(?c) AS ?n) (SUM(?p) AS ?s) WHERE { "
        "?c eco:withinTerritory <http://kg.test/id/epci/200093201> ; a eco:Commune . "
        "?f eco:refArea ?c ; eco:indicator <http://kg.test/id/indicator/legal-population> ; eco:obsValue ?p }")[0]
    assert len(summed) == 1
    assert summed[0]["communes"] == expected["n"] and summed[0]["value"] == expected["s"]
    assert int(expected["n"].split('"')[1]) > 50  # the MEL's communes, not every commune of the graph


#: Parameters beyond the examples: a class tested only in ``FILTER EXISTS`` inside a sub-select
#: that projects it (``with_values`` must bind it there, or every class matches).
MORE = [("search-by-label", {"text": "lille", "class": "eco:Commune"}, "Commune"),
        ("search-by-label", {"text": "e", "class": "eco:Industry"}, "Industry"),
        ("search-by-label", {"text": "Métropole", "class": "eco:Intercommunality"}, "Intercommunality")]


@pytest.mark.parametrize(("name", "params", "kind"), MORE)
def test_a_class_parameter_filters_on_both_paths(name: str, params: dict[str, str], kind: str, kg_store: Any) -> None:
    query = QUERIES.queries[name]
    terms = bind(query, params)
    text = table_text(query, 1001, 0)
    page = run_table(kg_store, query, terms, limit=1000, offset=0)
    reference = kg_store.select(with_values(text, terms))
    assert page.rows and all(kind in row["types"].split('"')[1].split() for row in page.rows), page.rows
    assert _rows(page.rows) == _rows(reference[:1000])
