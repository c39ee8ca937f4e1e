"""The curated-data compiler: quotes located, every column emitted, every mistake named."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from service.build.curated import CurationError, DocumentCompiler, SourceText, mapping_lines, read_checksums
from service.iris import Namespaces

FIXTURE = Path(__file__).parent.parent / "data" / "curated"
NS = Namespaces("http://kg.test/")
PREFIXES = """PREFIX eco: <http://kg.test/def/eco#> PREFIX id: <http://kg.test/id/>
PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX unit: <http://qudt.org/vocab/unit/> PREFIX qb: <http://purl.org/linked-data/cube#>
"""


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "data")
    return tmp_path / "data"


def compile_tree(tree: Path) -> list[str]:
    sums = read_checksums(tree / "sources" / "SHA256SUMS")
    source = SourceText.read(tree / "sources" / "tiny.txt", sums.get("tiny.txt"))
    return DocumentCompiler(NS, source, tree / "documents" / "tiny").compile()


def load(lines: list[str]) -> ox.Store:
    store = ox.Store()
    store.load("\n".join(lines).encode(), format=ox.RdfFormat.N_QUADS)
    return store


def expand_ids(query: str) -> str:
    """``id:kind/key`` is not a SPARQL prefixed name (no ``/`` allowed): write it out."""
    return re.sub(r"\bid:([\w/.-]+)", r"<http://kg.test/id/\1>", query)


def ask(store: ox.Store, query: str) -> bool:
    return bool(store.query(PREFIXES + expand_ids(query), use_default_graph_as_union=True))


def test_excerpt_offsets_are_code_points_and_quote_the_text(tree: Path) -> None:
    store = load(compile_tree(tree))
    text = (tree / "sources" / "tiny.txt").read_text(encoding="utf-8")
    query = PREFIXES + "SELECT ?x ?exact ?s ?e { ?x a eco:Excerpt ; oa:exact ?exact ; oa:start ?s ; oa:end ?e }"
    rows = list(store.query(query, use_default_graph_as_union=True))
    assert len(rows) == 5  # five distinct quotes in the fixture
    for row in rows:
        start, end = int(row["s"].value), int(row["e"].value)
        assert text[start:end] == row["exact"].value
        assert row["x"].value == f"http://kg.test/id/excerpt/tiny/{start}-{end}"
    rent = text.index("for rent 160€")
    excerpt = f"<http://kg.test/id/excerpt/tiny/{rent}-{rent + 13}>"
    assert ask(store, f"ASK {{ id:observation/tiny/rent prov:wasDerivedFrom {excerpt} }}")


def test_observation_columns(tree: Path) -> None:
    store = load(compile_tree(tree))
    assert ask(store, """ASK { id:observation/tiny/members a eco:Observation ; eco:obsValue 1200 ;
        eco:statedValueText "more than 1,200" ; eco:valueQualifier eco:valueMoreThan ; eco:unit unit:NUM ;
        eco:refOrganization id:organization/widget-cluster ; prov:hadPrimarySource id:source/cci-test ;
        dcterms:source id:source/cci-test ; eco:citationAsStated "CCI Test" ; eco:qualityFlag eco:periodUnspecified ;
        qb:dataSet id:dataset/tiny-organisations }""")
    assert ask(store, """ASK { id:observation/tiny/share a eco:ShareObservation ; eco:obsValue 40 ;
        eco:shareOf id:country/FR ; eco:refArea id:region/32 ; eco:areaResolution eco:areaInferredFromContext ;
        eco:qualityFlag eco:areaInferred , eco:sourceNotCited ; dcterms:source id:document/tiny ;
        eco:refPeriod id:period/2019 ; eco:industry id:industry/widgets ;
        qb:dataSet id:dataset/tiny }""")
    assert not ask(store, "ASK { id:observation/tiny/share eco:qualityFlag eco:periodUnspecified }")
    assert ask(store, """ASK { id:observation/tiny/rent eco:qualityFlag eco:unitBasisUnclear ;
        eco:industry id:industry/all-activities ; eco:areaResolution eco:areaExplicit }""")


def test_stated_triples_are_reified_with_their_excerpt(tree: Path) -> None:
    store = load(compile_tree(tree))
    assert ask(store, """ASK { ?st a rdf:Statement ; rdf:subject id:organization/widget-cluster ;
        rdf:predicate eco:servesIndustry ; rdf:object id:industry/widgets ;
        prov:wasDerivedFrom/oa:exact "The Widget Cluster serves the widget industry in Lille." }""")
    assert ask(store, 'ASK { ?st rdf:object "Widget Cluster"@en }')
    assert ask(store, "ASK { id:organization/widget-cluster eco:mentionedIn ?e }")


def test_gap(tree: Path) -> None:
    store = load(compile_tree(tree))
    assert ask(store, """ASK { id:gap/tiny/rent-basis a eco:DataGap ; eco:qualityFlag eco:unitBasisUnclear ;
        eco:concerns id:site/widgets ; eco:statedText "for rent 160€" ; prov:wasDerivedFrom ?e }""")


def test_same_input_same_lines(tree: Path) -> None:
    assert sorted(compile_tree(tree)) == sorted(compile_tree(tree))


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("observations.csv", "for rent 160€", "for rent 170€", "quote not found"),
    ("observations.csv", ",1200,", ",twelve,", "not a number"),
    ("observations.csv", "unit:NUM", "nope:NUM", "not a known CURIE"),
    ("observations.csv", "share,share", "share,fraction", "kind must be one of"),
    ("observations.csv", "rent,amount", "members,amount", "duplicate key"),
    ("statements.csv", "id:industry/widgets,The", "id:industry/gadgets,The", "not in entities.ttl"),
    ("entities.ttl", "eco:locatedIn commune:59350 .", "eco:locatedIn", "does not parse"),
])
def test_mistakes_are_named(tree: Path, file: str, old: str, new: str, message: str) -> None:
    path = tree / "documents" / "tiny" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CurationError, match=message):
        compile_tree(tree)


def test_edited_source_document_is_refused(tree: Path) -> None:
    doc = tree / "sources" / "tiny.txt"
    doc.write_text(doc.read_text(encoding="utf-8").replace("1,200", "1,300"), encoding="utf-8")
    with pytest.raises(CurationError, match="differs from SHA256SUMS"):
        compile_tree(tree)


def test_only_confirmed_mappings_are_emitted(tmp_path: Path) -> None:
    csv = tmp_path / "mappings.csv"
    csv.write_text("iri,external,relation,status,evidence\n"
                   "id:region/32,http://www.wikidata.org/entity/Q18677767,skos:exactMatch,confirmed,design 3.5\n"
                   "id:commune/59350,http://www.wikidata.org/entity/Q648,skos:exactMatch,reported,design 3.5\n")
    lines = mapping_lines(csv, NS, "http://kg.test/graph/reference")
    assert lines == ["<http://kg.test/id/region/32> <http://www.w3.org/2004/02/skos/core#exactMatch> "
                     "<http://www.wikidata.org/entity/Q18677767> <http://kg.test/graph/reference> ."]
