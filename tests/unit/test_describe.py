"""Bounded descriptions, labels and page models on a tiny in-memory store (no app, no build)."""

from __future__ import annotations

from typing import Any

import pytest

from service.describe import describe, exists, iri_ref, parse_term, part_figures
from service.iris import Namespaces
from service.labels import Ctx, local_href
from service.pagemodel import PageParams, build_page
from service.rdfdoc import describe_triples, serialize
from service.store.oxigraph import OxigraphStore
from service.vocabulary import load_terms

NS = Namespaces("http://kg.test/")
ECO, ID = NS.eco_ns, NS.id_ns
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
OA = "http://www.w3.org/ns/oa#"
DCT = "http://purl.org/dc/terms/"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
G1, G2 = "<http://kg.test/graph/a>", "<http://kg.test/graph/b>"


def q(s: str, p: str, o: str, g: str = G1) -> str:
    return f"<{s}> <{p}> {o} {g} ."


def iri(value: str) -> str:
    return f"<{value}>"


REGION, OBS = ID + "region/99", ID + "observation/doc/jobs"
EXCERPT, DOC = ID + "excerpt/doc/10-40", ID + "document/doc"
SOURCE, PUBLISHER = ID + "source/insee", ID + "organization/insee"
QUADS = [
    q(REGION, TYPE, iri(ECO + "Region")),
    q(REGION, RDFS + "label", '"Région test"@fr'),
    q(REGION, RDFS + "label", '"Région test"@fr', G2),  # the same triple in another graph
    q(REGION, ECO + "inseeCode", '"99"'),
    *(q(f"{ID}commune/{n:05d}", ECO + "withinTerritory", iri(REGION)) for n in range(120)),
    *(q(f"{ID}commune/{n:05d}", RDFS + "label", f'"Commune {n}"@fr') for n in range(120)),
    *(q(REGION, ECO + "directlyContains", iri(f"{ID}commune/{n:05d}")) for n in range(3)),
    q(OBS, TYPE, iri(ECO + "Observation")), q(OBS, ECO + "refArea", iri(REGION)),
    q(OBS, ECO + "indicator", iri(ID + "indicator/jobs")), q(OBS, ECO + "obsValue", '"285000"^^<http://www.w3.org/2001/XMLSchema#integer>'),
    q(OBS, ECO + "unit", iri("http://qudt.org/vocab/unit/NUM")), q(OBS, PROV + "wasDerivedFrom", iri(EXCERPT)),
    q(OBS, PROV + "hadPrimarySource", iri(SOURCE)), q(OBS, RDFS + "label", '"Jobs — Région test: 285,000"@en'),
    q(EXCERPT, OA + "exact", '"285,000 jobs (INSEE)"'), q(EXCERPT, OA + "start", '"10"^^<http://www.w3.org/2001/XMLSchema#integer>'),
    q(EXCERPT, OA + "end", '"40"^^<http://www.w3.org/2001/XMLSchema#integer>'),
    q(EXCERPT, PROV + "wasQuotedFrom", iri(DOC)), q(EXCERPT, TYPE, iri(ECO + "Excerpt")),
    q(DOC, ECO + "sha256", '"' + "ab" * 32 + '"'), q(DOC, DCT + "identifier", '"doc.txt"'),
    q(SOURCE, DCT + "title", '"INSEE"'), q(SOURCE, DCT + "publisher", iri(PUBLISHER)),
    q(PUBLISHER, RDFS + "label", '"Institut national de la statistique"@fr'),
    q(ID + "indicator/jobs", SKOS + "prefLabel", '"Jobs"@en'), q(ID + "indicator/jobs", SKOS + "prefLabel", '"Emplois"@fr'),
    q(ECO + "withinTerritory", RDFS + "label", '"within territory"@en'),
    q(ECO + "withinTerritory", RDFS + "label", '"situé dans le territoire"@fr'),
    q(ECO + "withinTerritory", SKOS + "definition", '"Lies inside."@en'),
    *(q(f"{ID}observation/doc/pop-{n}", ECO + "refArea", iri(f"{ID}commune/{n:05d}")) for n in range(3)),
    *(q(f"{ID}observation/doc/pop-{n}", ECO + "indicator", iri(ID + "indicator/jobs")) for n in range(3)),
    *(q(f"{ID}observation/doc/pop-{n}", ECO + "unit", iri("http://qudt.org/vocab/unit/NUM")) for n in range(3)),
    *(q(f"{ID}observation/doc/pop-{n}", ECO + "obsValue", f'"{n + 1}"^^<http://www.w3.org/2001/XMLSchema#integer>')
      for n in range(3)),
]


@pytest.fixture(scope="module")
def store() -> Any:
    return OxigraphStore.in_memory(QUADS)


@pytest.fixture(scope="module")
def terms(store: Any) -> Any:
    return load_terms(store, NS)


def test_parse_term_forms() -> None:
    assert parse_term("<http://x/a>").is_iri
    lit = parse_term('"caf\\u00E9 \\"x\\"\\n"@FR')
    assert (lit.value, lit.lang) == ('café "x"\n', "fr")
    assert parse_term('"1"^^<http://www.w3.org/2001/XMLSchema#integer>').datatype.endswith("#integer")
    assert parse_term('"plain"').datatype.endswith("#string")
    with pytest.raises(ValueError):
        parse_term("not a term")


@pytest.mark.parametrize("bad", ["http://kg.test/a>b", "http://kg.test/a b", "relative/x", "http://kg.test/{x}",
                                 'http://kg.test/"', "http://kg.test/\\x"])
def test_iri_ref_refuses_what_could_change_a_query(bad: str) -> None:
    with pytest.raises(ValueError):
        iri_ref(bad)


def test_unknown_and_unsafe_iris(store: Any) -> None:
    assert describe(store, NS, ID + "region/00") is None
    assert describe(store, NS, ID + "x> } <y") is None
    assert exists(store, REGION) and not exists(store, ID + "nothing")


def test_outgoing_incoming_and_duplicates(store: Any) -> None:
    desc = describe(store, NS, REGION, page_size=50)
    assert desc is not None
    assert len(desc.out[RDFS + "label"].values) == 1  # merged across named graphs
    within = desc.inc[ECO + "withinTerritory"]
    assert (within.total, within.pages, len(within.values)) == (120, 3, 50)
    assert within.values[0].value == f"{ID}commune/00000"
    last = describe(store, NS, REGION, inv_page=9, page_size=50)
    assert last is not None and last.inc[ECO + "withinTerritory"].page == 3
    assert len(last.inc[ECO + "withinTerritory"].values) == 20


def test_figures_come_with_provenance(store: Any, terms: Any) -> None:
    desc = describe(store, NS, REGION, terms=terms)
    assert desc is not None and desc.figures == [OBS]
    assert desc.first(EXCERPT, OA + "exact").value == "285,000 jobs (INSEE)"
    assert desc.first(DOC, ECO + "sha256").value == "ab" * 32
    assert desc.first(PUBLISHER, RDFS + "label").value.startswith("Institut")
    # a vocabulary term is labelled from the cached table, not looked up again
    assert ID + "indicator/jobs" not in desc.nodes


def test_terms_cache(terms: Any) -> None:
    assert terms.label(ECO + "withinTerritory", "fr") == "situé dans le territoire"
    assert terms.definition(ECO + "withinTerritory", "fr") == "Lies inside."  # falls back to English
    assert terms.label(ID + "indicator/jobs", "fr") == "Emplois"
    assert terms.covers(ID + "indicator/x") and not terms.covers(ID + "commune/1")


def test_labels_fall_back_to_the_other_language(store: Any, terms: Any) -> None:
    desc = describe(store, NS, REGION, terms=terms)
    assert desc is not None
    ctx = Ctx(NS, "en", terms, desc)
    assert ctx.label(REGION) == ("Région test", "fr")
    assert ctx.label(ID + "indicator/jobs") == ("Jobs", "")
    assert ctx.label("http://example.org/no/label#Thing") == ("Thing", "")


@pytest.mark.parametrize(("target", "expected"), [
    ("http://kg.test/id/commune/59350", "/kg/page/commune/59350"),
    ("http://kg.test/def/eco#Region", "/kg/def/eco#Region"),
    ("https://www.wikidata.org/entity/Q1", "https://www.wikidata.org/entity/Q1"),
    ("mailto:someone@example.org", "mailto:someone@example.org"),
    ("javascript:alert(1)", None), ("data:text/html,x", None), ("vbscript:x", None), ("ftp://x/y", None),
    ("http://kg.test//evil.example/x", None), ("http://kg.test/\\evil.example", None),
])
def test_local_href(target: str, expected: str | None) -> None:
    assert local_href(target, "http://kg.test/", "/kg") == expected


def test_part_figures(store: Any) -> None:
    parts = part_figures(store, NS, REGION)
    assert sorted(p.place for p in parts) == [f"{ID}commune/{n:05d}" for n in range(3)]
    assert {t.value for p in parts for t in p.labels} == {"Commune 0", "Commune 1", "Commune 2"}


def test_page_model(store: Any, terms: Any) -> None:
    page = build_page(store, NS, terms, REGION, "fr", PageParams("/page/region/99", page_size=50))
    assert page is not None
    assert page.title == "Région test" and page.kind == "territory"
    assert [g.key for g in page.groups][:1] == ["identity"]
    inverse = {row.prop.label: row for row in page.inverse}
    row = inverse["situé dans le territoire"]
    assert row.total == 120 and row.pager is not None and row.pager.next_href == \
        "/page/region/99?inv_page=2#" + row.anchor
    assert page.figures[0].value == "285\u202f000" and page.figures[0].quote is not None
    assert page.figures[0].cited is not None and page.figures[0].publisher is not None
    assert "INSEE" in page.figures[0].cite and "ab" * 32 in page.figures[0].cite
    assert any(chart.bars for chart in page.charts)  # the places within have comparable figures
    assert page.jsonld["@id"] == REGION and page.jsonld["identifier"] == "99"


def test_rdf_document(store: Any, terms: Any) -> None:
    desc = describe(store, NS, REGION, terms=terms, page_size=50)
    assert desc is not None
    lines = describe_triples(desc, NS, terms, "http://kg.test/data/region/99", "http://kg.test/data/region/99?x")
    assert f"<http://kg.test/data/region/99> <http://xmlns.com/foaf/0.1/primaryTopic> <{REGION}> ." in lines
    assert any("Values left out" in line for line in lines)
    assert any(line.startswith(f"<{ID}indicator/jobs> <{RDFS}label>") for line in lines)  # from the cache
    text = serialize(lines, "text/turtle", NS).decode()
    assert "@prefix eco:" in text
    assert serialize(lines, "application/n-triples", NS).decode().count("\n") == len(lines)
