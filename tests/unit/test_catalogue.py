"""The named-query catalogue: header parsing, validation failures, typed binding, injection."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.catalogue import (MAX_LIMIT, CatalogueError, NamedQuery, bind, graph_text, load_catalogue, paging,
                               parse_query_file, resolve_iri, run_graph, run_table)
from service.config import DEFAULTS
from service.errors import BadParameter, PayloadTooLarge
from service.store.oxigraph import OxigraphStore, nt_to_term

BASE = "http://kg.test/"
HEADER = """#+ summary: {en: Demo, fr: Démo}
#+ description: {en: A demo query., fr: Une requête de démonstration.}
#+ tags: [demo]
"""
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
DATA = [f'<{BASE}id/commune/59350> {LABEL} "Lille"@fr <urn:g> .',
        f'<{BASE}id/commune/59009> {LABEL} "Villeneuve-d\'Ascq"@fr <urn:g> .']


def make(text: str, name: str = "demo.rq") -> NamedQuery:
    return parse_query_file(name, text, BASE)


def demo(params: str, sparql: str, returns: str = "table") -> NamedQuery:
    return make(f"{HEADER}#+ params: {params}\n#+ returns: {returns}\n{sparql}")


@pytest.fixture()
def store() -> OxigraphStore:
    return OxigraphStore.in_memory(DATA)


def count(store: OxigraphStore) -> int:
    rows = store.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    return int(rows[0]["n"].split('"')[1])


# ---------------------------------------------------------------- the real catalogue


def test_real_catalogue_loads_under_another_base() -> None:
    catalogue = load_catalogue(DEFAULTS["QUERIES_DIR"], BASE)
    assert len(catalogue) >= 20
    for query in catalogue:
        assert query.summary["en"] and query.summary["fr"] and query.description["fr"], query.name
        assert "https://data.example.org/" not in query.text, f"{query.name} not re-based"
        assert all(p.name in query.example for p in query.params if p.required), query.name
        bind(query, query.example)


# ---------------------------------------------------------------- validation failures, each named


BAD_FILES = {
    "bad YAML": ("#+ summary: [unclosed\n#+ returns: table\nSELECT ?x WHERE {}", "bad header"),
    "no header": ("SELECT ?x WHERE { ?x ?p ?o }", "must start with '#+'"),
    "unknown key": (HEADER + "#+ returns: table\n#+ colour: blue\nSELECT ?x WHERE { ?x ?p ?o }", "header keys"),
    "french missing": ("#+ summary: {en: Demo}\n#+ description: {en: a, fr: b}\n#+ tags: [t]\n#+ returns: table\n"
                       "SELECT ?x WHERE { ?x ?p ?o }", "'summary' needs non-empty 'en' and 'fr'"),
    "bad returns": (HEADER + "#+ returns: list\nSELECT ?x WHERE { ?x ?p ?o }", "'returns' must be"),
    "unknown type": (HEADER + "#+ params: [{name: x, type: colour}]\n#+ returns: table\nSELECT $x WHERE { $x ?p ?o }",
                     "has type 'colour'"),
    "undeclared param": (HEADER + "#+ returns: table\nSELECT $x WHERE { $x ?p ?o }", "undeclared parameter(s) ['x']"),
    "unused param": (HEADER + "#+ params: [{name: y, type: iri}]\n#+ returns: table\nSELECT ?x WHERE { ?x ?p ?o }",
                     "not used as $name"),
    "syntax error": (HEADER + "#+ returns: table\nSELECT ?x WHERE { ?x ?p ", "SPARQL does not parse"),
    "not projected": (HEADER + "#+ params: [{name: x, type: iri}]\n#+ returns: table\nSELECT ?o WHERE { $x ?p ?o }",
                      "must be projected"),
    "kind mismatch": (HEADER + "#+ returns: graph\nSELECT ?x WHERE { ?x ?p ?o }", "needs a CONSTRUCT query"),
    "no example": (HEADER + "#+ params: [{name: x, type: iri, required: true}]\n#+ returns: table\n"
                   "SELECT $x WHERE { $x ?p ?o }", "has no example"),
    "bad enum": (HEADER + "#+ params: [{name: y, type: year, enum: ['20x']}]\n#+ returns: table\n"
                 "SELECT $y WHERE { ?s ?p $y }", "bad example, default or enum value"),
    "service": (HEADER + "#+ returns: table\nSELECT ?x WHERE { SERVICE <http://127.0.0.1/> { ?x ?p ?o } }",
                "SERVICE, LOAD and FROM"),
    "select star": (HEADER + "#+ returns: table\nSELECT * WHERE { ?x ?p ?o }", "no SELECT *"),
    "reserved name": (HEADER + "#+ params: [{name: limit, type: integer}]\n#+ returns: table\n"
                      "SELECT $limit WHERE { ?x ?p $limit }", "bad parameter name"),
    "construct paging": (HEADER + "#+ returns: graph\nCONSTRUCT { ?x ?p ?o } WHERE { ?x ?p ?o } LIMIT 3",
                         "may not end with LIMIT"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_fails_loading_with_its_name(case: str, tmp_path: Path) -> None:
    text, message = BAD_FILES[case]
    (tmp_path / "good.rq").write_text(HEADER + "#+ returns: table\nSELECT ?x WHERE { ?x ?p ?o }\n")
    (tmp_path / "broken-query.rq").write_text(text)
    with pytest.raises(CatalogueError) as err:
        load_catalogue(tmp_path, BASE)
    assert "broken-query.rq" in str(err.value) and message in str(err.value)


def test_bad_file_name_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no named queries"):
        load_catalogue(tmp_path, BASE)
    (tmp_path / "Bad_Name.rq").write_text(HEADER + "#+ returns: table\nSELECT ?x WHERE { ?x ?p ?o }\n")
    with pytest.raises(CatalogueError, match="Bad_Name.rq: the file name"):
        load_catalogue(tmp_path, BASE)


def test_header_and_rebase() -> None:
    query = demo("[{name: lang, type: language, default: en, enum: [en, fr]}]",
                 "PREFIX eco: <https://data.example.org/def/eco#>\nSELECT $lang ?x WHERE { ?x a eco:Region ; "
                 "<urn:l> ?l FILTER(LANG(?l) = $lang) }")
    assert query.text.count("<http://kg.test/def/eco#>") == 1
    assert query.variables == ("lang", "x")
    assert query.formats == ("json", "records", "csv", "tsv")


# ---------------------------------------------------------------- binding


TYPED = demo("[{name: i, type: integer}, {name: d, type: decimal}, {name: y, type: year}, "
             "{name: l, type: language}, {name: s, type: string}, {name: r, type: iri}]",
             "SELECT $i $d $y $l $s $r WHERE { ?x ?p ?o }")
XSD = "http://www.w3.org/2001/XMLSchema#"


@pytest.mark.parametrize(("name", "raw", "term"), [
    ("i", "-42", f'"-42"^^<{XSD}integer>'),
    ("d", "12.50", f'"12.50"^^<{XSD}decimal>'),
    ("d", ".5", f'"0.5"^^<{XSD}decimal>'),
    ("y", "2019", f'"2019"^^<{XSD}integer>'),
    ("l", "FR", '"fr"'),
    ("s", 'say "hi"\n', '"say \\"hi\\"\\n"'),
    ("r", "commune/59350", f"<{BASE}id/commune/59350>"),
    ("r", "eco:Region", f"<{BASE}def/eco#Region>"),
    ("r", "https://www.wikidata.org/wiki/Q648", "<https://www.wikidata.org/wiki/Q648>"),
])
def test_typed_terms(name: str, raw: str, term: str) -> None:
    assert bind(TYPED, {name: raw}) == {name: term}
    nt_to_term(term)  # valid N-Triples


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("i", "4.2", "must be a whole number"), ("i", "1e9", "must be a whole number"),
    ("d", "1,5", "decimal number"), ("y", "19", "four-digit year"), ("l", 'en"@', "language tag"),
    ("s", "a\x00b", "control characters"), ("r", "mailto:x@y.z", "absolute http(s) IRI"),
])
def test_wrong_type_is_400_naming_the_parameter(name: str, raw: str, expected: str) -> None:
    with pytest.raises(BadParameter) as err:
        bind(TYPED, {name: raw})
    assert f"Parameter {name!r}" in err.value.message and expected in err.value.message
    assert err.value.status == 400 and err.value.code == "invalid-parameter"


def test_enum_missing_unknown() -> None:
    query = demo("[{name: flag, type: iri, required: true, enum: [eco:areaInferred, eco:valueMissing], "
                 "example: eco:valueMissing}]", "SELECT $flag WHERE { ?x <urn:f> $flag }")
    assert bind(query, {"flag": f"{BASE}def/eco#areaInferred"}) == {"flag": f"<{BASE}def/eco#areaInferred>"}
    with pytest.raises(BadParameter, match="must be one of: eco:areaInferred, eco:valueMissing"):
        bind(query, {"flag": "eco:sourceNotCited"})
    with pytest.raises(BadParameter, match="Missing required parameter.*flag") as missing:
        bind(query, {})
    assert missing.value.code == "missing-parameters"
    with pytest.raises(BadParameter, match="Unknown parameter.*colour. Allowed: flag") as unknown:
        bind(query, {"flag": "eco:valueMissing", "colour": "red"})
    assert unknown.value.details["allowed"] == ["flag", "format", "limit", "offset"]
    assert bind(query, {"flag": "eco:valueMissing", "limit": "5", "format": "csv"})  # reserved names pass


def test_defaults_apply_and_empty_means_absent() -> None:
    query = demo("[{name: lang, type: language, default: en}]", "SELECT $lang WHERE { ?x ?p ?o }")
    assert bind(query, {}) == bind(query, {"lang": ""}) == {"lang": '"en"'}


def test_huge_value_is_413() -> None:
    with pytest.raises(PayloadTooLarge) as err:
        bind(TYPED, {"s": "x" * 1_000_000})
    assert err.value.status == 413


@pytest.mark.parametrize("raw", ["http://ex.org/a> } UNION { ?s ?p ?o } #", "http://ex.org/a\\u003E",
                                 "http://ex.org/a b", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
                                 "file:///etc/passwd", "../x", "commune/../../x", "http://", "<http://ex.org/a>",
                                 'http://ex.org/"x', "http://ex.org/{x}", "http://ex.org/a|b", "ftp://ex.org/a"])
def test_iri_allow_list(raw: str) -> None:
    with pytest.raises(BadParameter, match="absolute http"):
        bind(TYPED, {"r": raw})
    with pytest.raises(ValueError):
        resolve_iri(raw, BASE)


# ---------------------------------------------------------------- injection against a store

SEARCH = demo("[{name: text, type: string, required: true, example: Lille}]",
              f"SELECT $text ?place WHERE {{ ?place {LABEL} ?label FILTER(STR(?label) = $text) }}")
PLACE = demo("[{name: place, type: iri, required: true, example: commune/59350}]",
             f"SELECT $place ?label WHERE {{ $place {LABEL} ?label }}")
GRAPH = demo("[{name: text, type: string, required: true, example: Lille}]",
             f"CONSTRUCT {{ ?place {LABEL} ?label }} WHERE {{ ?place {LABEL} ?label FILTER(STR(?label) = $text) }}",
             returns="graph")


@pytest.mark.parametrize("payload", ['x" } ; DROP ALL ; #', 'x"@en . ?s ?p ?o #', "Lille\" || true || \"",
                                     "\\u0022 } DROP ALL #", "x' } ; CLEAR DEFAULT ; #", "}}}}", "Villeneuve-d'Ascq"])
def test_literal_injection_keeps_shape_and_store(payload: str, store: OxigraphStore) -> None:
    before = count(store)
    terms = bind(SEARCH, {"text": payload})
    assert str(nt_to_term(terms["text"]).value) == payload  # the exact text, as one literal
    page = run_table(store, SEARCH, terms, limit=10, offset=0)
    assert page.variables == ("text", "place")
    assert [r["place"] for r in page.rows] == ([f"<{BASE}id/commune/59009>"] if "Ascq" in payload else [])
    graph_page = run_graph(store, GRAPH, bind(GRAPH, {"text": payload}), limit=10, offset=0,
                           media_type="application/n-triples")
    assert graph_page.body.count(b"\n") == (1 if "Ascq" in payload else 0)
    assert count(store) == before


def test_iri_parameter_runs_and_graph_text_uses_values(store: OxigraphStore) -> None:
    page = run_table(store, PLACE, bind(PLACE, {"place": "commune/59350"}), limit=10, offset=0)
    assert page.rows == [{"place": f"<{BASE}id/commune/59350>", "label": '"Lille"@fr'}]
    construct, probe = graph_text(GRAPH, bind(GRAPH, {"text": 'a"b'}), 5, 10)
    assert 'VALUES (?text) { ("a\\"b") }' in construct and construct.rstrip().endswith("LIMIT 5 OFFSET 10")
    assert probe.rstrip().endswith("LIMIT 1 OFFSET 15")


@pytest.mark.parametrize(("limit", "offset", "expected"), [
    (None, None, (100, 0)), ("5", "10", (5, 10)), ("1000000", "0", (MAX_LIMIT, 0)), (" 7 ", "", (7, 0))])
def test_paging(limit: str | None, offset: str | None, expected: tuple[int, int]) -> None:
    assert paging(limit, offset) == expected


@pytest.mark.parametrize(("limit", "offset"), [("abc", None), ("1e9", None), ("-1", None), ("0", None),
                                               (None, "-5"), (None, "99999999999999999999")])
def test_bad_paging_is_400(limit: str | None, offset: str | None) -> None:
    with pytest.raises(BadParameter):
        paging(limit, offset)
