"""Every figure, name, relation and gap of the two source documents is in the built graph,
each figure tied to its quoted sentence, its period and its cited source.

The expectations in ``tests/data/expected_facts.yaml`` were derived from the documents
independently of the curated CSV files."""

from __future__ import annotations

import hashlib
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.graph.helpers import ask, curie, lexical, select

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = yaml.safe_load((ROOT / "tests" / "data" / "expected_facts.yaml").read_text(encoding="utf-8"))
KIND_CLASS = {"count": "eco:Observation", "amount": "eco:Observation", "share": "eco:ShareObservation",
              "ranking": "eco:RankingObservation"}


def _id(item: dict[str, Any]) -> str:
    return f"{item.get('document', '')[:3]}:{item.get('quote') or item.get('label') or item.get('subject')}"[:70]


@pytest.mark.parametrize("fact", EXPECTED["figures"], ids=_id)
def test_figure(kg_store: Any, fact: dict[str, Any]) -> None:
    rows = select(kg_store, """
        SELECT ?obs ?value ?unit ?stated ?period ?exact ?source ?quote ?doc WHERE {
          ?obs prov:wasDerivedFrom ?excerpt ; eco:obsValue ?value ; eco:unit ?unit ;
               eco:statedValueText ?stated ; eco:refPeriod ?period ; dcterms:source ?source .
          ?excerpt oa:exact ?exact ; prov:wasQuotedFrom ?doc .
          FILTER(CONTAINS(?exact, ?quote) || CONTAINS(?quote, ?exact))
        }""", quote=_literal(fact["quote"]), doc=f"<http://kg.test/id/document/{fact['document']}>")
    matching = [r for r in rows if Decimal(lexical(r["value"])) == Decimal(str(fact["value"]))
                and r["unit"] == curie(fact["unit"])]
    assert matching, f"no observation with value {fact['value']} {fact['unit']} quoting {fact['quote']!r}: {rows}"
    obs = matching[0]["obs"]
    assert ask(kg_store, f"ASK {{ {obs} a {KIND_CLASS[fact['kind']]} }}")


@pytest.mark.parametrize("thing", EXPECTED["named"], ids=_id)
def test_named_thing(kg_store: Any, thing: dict[str, Any]) -> None:
    rows = select(kg_store, f"""
        SELECT DISTINCT ?s ?label WHERE {{
          ?s a {thing['class']} . {{ ?s rdfs:label ?label }} UNION {{ ?s skos:prefLabel ?label }}
               UNION {{ ?s skos:altLabel ?label }} }}""")
    wanted = _fold(thing["label"])
    assert any(wanted in _fold(lexical(r["label"])) or _fold(lexical(r["label"])) in wanted for r in rows), \
        f"nothing of class {thing['class']} labelled {thing['label']!r}"


@pytest.mark.parametrize("rel", EXPECTED["relations"], ids=_id)
def test_relation(kg_store: Any, rel: dict[str, Any]) -> None:
    obj = rel["object"]
    obj_term = obj if obj.startswith('"') else curie(obj)
    assert ask(kg_store, f"ASK {{ {curie(rel['subject'])} {curie(rel['predicate'])} {obj_term} }}")


@pytest.mark.parametrize("gap", EXPECTED["gaps"], ids=_id)
def test_gap_is_flagged(kg_store: Any, gap: dict[str, Any]) -> None:
    rows = select(kg_store, """SELECT ?g ?quote ?flag WHERE { ?g a eco:DataGap ; eco:statedText ?t ; eco:qualityFlag ?flag .
                                 FILTER(CONTAINS(?t, ?quote) || CONTAINS(?quote, ?t)) }""",
                  quote=_literal(gap["quote"]), flag=curie(gap["flag"]))
    assert rows, f"no gap flagged {gap['flag']} for {gap['quote']!r}"


def test_every_excerpt_quotes_its_document_exactly(kg_store: Any) -> None:
    rows = select(kg_store, """SELECT ?exact ?start ?end ?id ?sha WHERE {
        ?x a eco:Excerpt ; oa:exact ?exact ; oa:start ?start ; oa:end ?end ; prov:wasQuotedFrom ?doc .
        ?doc dcterms:identifier ?id ; eco:sha256 ?sha }""")
    assert len(rows) > 40
    for row in rows:
        raw = (ROOT / "graph_data" / "sources" / lexical(row["id"])).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == lexical(row["sha"])
        text = raw.decode("utf-8")
        assert text[int(lexical(row["start"])):int(lexical(row["end"]))] == lexical(row["exact"])


def test_source_documents_are_unedited_copies_of_the_seeds() -> None:
    seeds = ROOT.parent / "shared" / "seeds"
    copies = sorted((ROOT / "graph_data" / "sources").glob("*.txt"))
    assert [p.name for p in copies] == sorted(p.name for p in seeds.glob("*.txt"))
    for copy in copies:
        assert copy.read_bytes() == (seeds / copy.name).read_bytes()


def test_every_observation_has_its_provenance_chain(kg_store: Any) -> None:
    missing = select(kg_store, """SELECT ?obs WHERE { ?obs a eco:Observation .
        FILTER(NOT EXISTS { ?obs prov:wasDerivedFrom ?f . ?f a eco:SourceFragment ; prov:wasQuotedFrom ?d .
                            ?d eco:sha256 ?sha }
               || NOT EXISTS { ?obs eco:refPeriod ?p } || NOT EXISTS { ?obs dcterms:source ?src }) }""")
    assert missing == []


def test_cited_sources_are_linked(kg_store: Any) -> None:
    rows = select(kg_store, """SELECT DISTINCT ?citation WHERE {
        ?obs eco:citationAsStated ?citation ; prov:hadPrimarySource ?src . ?src a eco:StatisticalSource }""")
    citations = {lexical(r["citation"]) for r in rows}
    for cited in ("INSEE", "CCI Hauts-de-France", "Insee RGP 2015"):
        assert any(cited in c for c in citations), citations
    assert any("Linkcity" in c for c in citations), citations


def test_figures_found_by_containment(kg_store: Any) -> None:
    """Figures about places inside the Nord département, through the materialised closure."""
    rows = select(kg_store, """SELECT DISTINCT ?obs WHERE {
        ?obs eco:refArea ?area ; prov:wasDerivedFrom/prov:wasQuotedFrom ?doc .
        ?doc a eco:SourceDocument . FILTER(STRSTARTS(STR(?doc), "http://kg.test/id/document/0"))
        ?area eco:withinTerritory id:departement/59 }""")
    assert rows, "no seed figure is about a place inside Nord"


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _fold(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_text if ch.isalnum())
