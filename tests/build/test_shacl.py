"""The SHACL-to-SPARQL validator agrees with pySHACL, the reference implementation.

Every fixture in ``tests/data/shacl/`` holds a shapes graph, a conforming data graph and
a violating one. Each data graph is validated by both engines over the same triples
(data + ontology excerpt, no inference) and the results are compared as sets of
(focus node, result path, constraint component, severity).
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pyshacl
import pytest
from rdflib import BNode, Graph, Node, URIRef
from rdflib.namespace import RDF, SH

from service.build.shacl import (
    INFO,
    VIOLATION,
    WARNING,
    UnsupportedShape,
    ValidationReport,
    compile_shapes,
    validate,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "shacl"
SHAPES_TTL = Path(__file__).resolve().parents[2] / "ontology" / "shapes.ttl"
ID = "http://kg.test/id/"
ECO = "http://kg.test/def/eco#"
FIXTURES = sorted(p.stem for p in DATA.glob("*.trig"))

Row = tuple[str, str | None, str, str]

#: What each violating variant must report: (focus under id/, path, component, severity).
#: A path is a CURIE-like ``eco:x``/``^eco:x`` or a full ``<iri>``; None for node shapes.
EXPECTED: dict[str, set[tuple[str, str | None, str, str]]] = {
    "target_class": {("region/32", "rdfs:label", "MinCount", VIOLATION),
                     ("territory/europe", "rdfs:label", "MinCount", VIOLATION),
                     ("programme/rev3", "rdfs:label", "MinCount", VIOLATION)},
    "target_node": {("country/BE", "rdfs:label", "MinCount", VIOLATION)},
    "min_count": {("observation/o1", "dcterms:source", "MinCount", VIOLATION),
                  ("observation/o2", "dcterms:source", "MinCount", VIOLATION),
                  ("observation/o2", "eco:unit", "MinCount", VIOLATION)},
    "max_count": {("observation/o1", "eco:unit", "MaxCount", VIOLATION),
                  ("observation/o2", "dcterms:source", "MaxCount", VIOLATION)},
    "inverse_path": {("region/11", "^eco:directlyWithin", "MinCount", VIOLATION),
                     ("region/32", "^eco:directlyWithin", "Class", VIOLATION),
                     ("region/32", "^eco:capitalOf", "MaxCount", VIOLATION)},
    "datatype": {("excerpt/d/0-5", p, "Datatype", VIOLATION)
                 for p in ("oa:exact", "oa:start", "oa:end", "rdfs:label", "eco:weight")},
    "class": {(f"observation/{o}", "eco:refArea", "Class", VIOLATION) for o in ("o1", "o2", "o3")},
    "node_kind": {("organization/inria", p, "NodeKind", VIOLATION)
                  for p in ("eco:locatedIn", "rdfs:label", "eco:address", "eco:sameAs", "eco:note",
                            "eco:alias")},
    "pattern": {("commune/59350", "eco:inseeCode", "Pattern", VIOLATION),
                ("commune/59350", "rdfs:label", "Pattern", VIOLATION),
                ("commune/59350", "eco:site", "Pattern", VIOLATION),
                ("commune/2A004", "eco:inseeCode", "Pattern", VIOLATION),
                ("commune/2A004", "eco:site", "Pattern", VIOLATION)},
    "has_value": {("observation/o1", "eco:unit", "HasValue", VIOLATION),
                  ("observation/o2", "eco:unit", "HasValue", VIOLATION),
                  ("country/BE", None, "HasValue", VIOLATION)},
    "in": {("observation/o1", "eco:valueQualifier", "In", VIOLATION),
           ("observation/o1", "eco:status", "In", VIOLATION),
           ("observation/o2", "eco:status", "In", VIOLATION),
           ("observation/o2", "eco:rank", "In", VIOLATION)},
    "ranges": {("observation/s1", "eco:obsValue", "MinInclusive", VIOLATION),
               ("observation/s2", "eco:obsValue", "MaxInclusive", VIOLATION),
               ("observation/s3", "eco:obsValue", "MinInclusive", VIOLATION),
               ("observation/s3", "eco:obsValue", "MaxInclusive", VIOLATION),
               ("observation/r1", "eco:obsValue", "MinExclusive", VIOLATION),
               ("observation/r2", "eco:obsValue", "MaxExclusive", VIOLATION)},
    "or": {("observation/o1", "eco:obsValue", "Or", VIOLATION),
           ("observation/o1", "eco:about", "Or", VIOLATION),
           ("observation/o2", None, "Or", VIOLATION)},
    "xone": {("observation/o1", None, "Xone", VIOLATION), ("observation/o2", None, "Xone", VIOLATION),
             ("observation/o3", None, "Xone", VIOLATION),
             ("observation/o3", "eco:about", "Xone", VIOLATION)},
    "not": {("observation/o1", "eco:refArea", "Not", VIOLATION),
            ("observation/o1", "eco:unit", "Not", VIOLATION),
            ("observation/o2", None, "Not", VIOLATION)},
    "sparql": {("observation/o1", None, "SPARQL", WARNING),
               ("excerpt/d/0-5", "oa:end", "SPARQL", VIOLATION),
               ("excerpt/d/0-5", None, "SPARQL", VIOLATION)},
    "severity": {("observation/o1", "prov:hadPrimarySource", "MinCount", WARNING),
                 ("observation/o1", "eco:note", "MaxCount", INFO),
                 ("observation/o1", "eco:unit", "MinCount", VIOLATION),
                 ("observation/o1", None, "Class", WARNING)},
    "deactivated": {("observation/o1", "eco:indicator", "MinCount", VIOLATION)},
}

PREFIXES = {"eco": ECO, "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "oa": "http://www.w3.org/ns/oa#",
            "dcterms": "http://purl.org/dc/terms/", "prov": "http://www.w3.org/ns/prov#"}


def _expected_row(focus: str, path: str | None, component: str, severity: str) -> Row:
    if path is not None and not path.startswith("<"):
        inverse, curie = path.startswith("^"), path.lstrip("^")
        prefix, _, local = curie.partition(":")
        path = ("^" if inverse else "") + f"<{PREFIXES[prefix]}{local}>"
    return f"<{ID}{focus}>", path, f"{SH}{component}ConstraintComponent", severity


def _nt(term: Node) -> str:
    if isinstance(term, URIRef):
        return f"<{term}>"
    return "_:b" if isinstance(term, BNode) else term.n3()


def _load(fixture: str) -> tuple[Graph, dict[str, Graph]]:
    """The fixture's shapes graph and its ``ok``/``bad`` data graphs (each + the ontology)."""
    quads = list(ox.parse(path=DATA / f"{fixture}.trig", format=ox.RdfFormat.TRIG))

    def graph(name: str) -> Graph:
        triples = [q.triple for q in quads if q.graph_name == ox.NamedNode(name)]
        return Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"", format="nt")

    ontology = Graph().parse(DATA / "ontology.ttl", format="turtle")
    return graph("urn:shapes"), {v: graph(f"urn:{v}") + ontology for v in ("ok", "bad")}


def _store(data: Graph, graphs: tuple[str, ...] = ("urn:data",)) -> ox.Store:
    store = ox.Store()
    for graph in graphs:
        store.load(data.serialize(format="nt").encode(), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(graph))
    return store


def _ours(shapes: Graph, data: Graph) -> set[Row]:
    # Every triple in two named graphs: the union default graph does not de-duplicate,
    # so a check that counted duplicates would fail here.
    report = validate(_store(data, ("urn:data", "urn:copy")), compile_shapes(shapes))
    return {("_:b" if r.focus.startswith("_:") else r.focus, r.path, r.component, r.severity)
            for r in report.results}


def _pyshacl(shapes: Graph, data: Graph) -> set[Row]:
    _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=False)
    rows = set()
    for result in results.subjects(RDF.type, SH.ValidationResult):
        path = results.value(result, SH.resultPath)
        if isinstance(path, BNode):
            path = f"^<{results.value(path, SH.inversePath)}>"
        elif path is not None:
            path = f"<{path}>"
        rows.add((_nt(results.value(result, SH.focusNode)), path,
                  str(results.value(result, SH.sourceConstraintComponent)),
                  str(results.value(result, SH.resultSeverity))))
    return rows


@pytest.mark.parametrize("variant", ["ok", "bad"])
@pytest.mark.parametrize("fixture", FIXTURES)
def test_agrees_with_pyshacl(fixture: str, variant: str) -> None:
    shapes, variants = _load(fixture)
    ours = _ours(shapes, variants[variant])
    assert ours == _pyshacl(shapes, variants[variant])
    if variant == "ok":
        assert ours == set()
    else:
        assert ours == {_expected_row(*row) for row in EXPECTED[fixture]}


def test_every_fixture_has_expectations() -> None:
    assert set(FIXTURES) == set(EXPECTED)


def _report(fixture: str, variant: str = "bad") -> ValidationReport:
    shapes, variants = _load(fixture)
    prefixes = {"ecosh": "http://kg.test/def/eco/shapes#", **PREFIXES}
    return validate(_store(variants[variant]), compile_shapes(shapes, prefixes=prefixes))


def test_report_text_names_resource_and_rule() -> None:
    report = _report("min_count")
    text = report.text()
    assert not report.conforms
    assert f"VIOLATION <{ID}observation/o2>  expected at least 1 value of eco:unit, found 0 " \
           "(ecosh:ObservationShape)" in text
    assert f"<{ID}observation/o1>  expected at least 2 values of dcterms:source, found 1" in text
    assert text.splitlines()[0] == "SHACL: 3 violation(s), 0 warning(s), 0 other result(s)"


def test_report_value_messages_and_grouping() -> None:
    text = _report("class").text()
    assert f"<{ID}observation/o3>  eco:refArea: expected an instance of eco:Territory, got \"Lille\"" in text
    assert text.count("ecosh:ObservationShape:") == 1


def test_report_text_shows_violations_first() -> None:
    report = _report("severity")
    assert [r.severity for r in report.results] == [VIOLATION, WARNING, WARNING, INFO]
    assert report.text(limit=1).splitlines()[1:] == [
        "ecosh:ObservationShape:",
        f"  VIOLATION <{ID}observation/o1>  expected at least 1 value of eco:unit, found 0 (ecosh:ObservationShape)",
        "  … 3 more results not shown"]


def test_warnings_do_not_break_conformance() -> None:
    report = _report("sparql", "ok")
    assert report.conforms and report.results == []
    shapes, variants = _load("sparql")
    data = variants["bad"]
    data.remove((URIRef(f"{ID}excerpt/d/0-5"), None, None))  # drop the violations, keep the warning
    report = validate(_store(data), compile_shapes(shapes))
    assert report.conforms and [r.message for r in report.warnings] == \
        ["Reference period not stated in the source."]


def test_limit_per_check_truncates() -> None:
    shapes, variants = _load("class")
    checks = compile_shapes(shapes, prefixes={"ecosh": "http://kg.test/def/eco/shapes#"})
    report = validate(_store(variants["bad"]), checks, limit_per_check=1)
    assert len(report.results) == 1
    everything = validate(_store(variants["bad"]), checks).results
    assert len(everything) == 3 and report.results == [min(everything, key=lambda r: (r.focus, r.value or ""))]
    assert report.truncated == ("ecosh:ObservationShape ClassConstraintComponent: 1 of 3 results kept",)
    assert "truncated" in report.text()


def test_results_are_sorted_and_deterministic() -> None:
    first, second = _report("ranges"), _report("ranges")
    assert first.results == second.results
    assert [r.focus for r in first.results] == sorted(r.focus for r in first.results)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_checks_on_threads_give_the_same_report(fixture: str) -> None:
    shapes, variants = _load(fixture)
    checks = compile_shapes(shapes, prefixes={"ecosh": "http://kg.test/def/eco/shapes#", **PREFIXES})
    store = _store(variants["bad"])
    alone = validate(store, checks, limit_per_check=2)
    assert alone.results  # each fixture's bad variant breaks something
    assert validate(store, checks, limit_per_check=2, threads=3) == alone


HEAD = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix eco: <http://kg.test/def/eco#> .
@prefix ecosh: <http://kg.test/def/eco/shapes#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


@pytest.mark.parametrize(("shape", "component"), [
    ("ecosh:S sh:targetClass eco:C ; sh:property [ sh:path eco:p ; sh:minLength 2 ] .",
     "sh:MinLengthConstraintComponent"),
    ("ecosh:S sh:targetClass eco:C ; sh:node ecosh:T . ecosh:T sh:nodeKind sh:IRI .",
     "sh:NodeConstraintComponent"),
    ("ecosh:S sh:targetClass eco:C ; sh:closed true .", "sh:ClosedConstraintComponent"),
    ("ecosh:S sh:targetSubjectsOf eco:p ; sh:nodeKind sh:IRI .", "sh:targetSubjectsOf"),
    ("ecosh:S sh:targetClass eco:C ; sh:property [ sh:path ( eco:p eco:q ) ; sh:minCount 1 ] .", "sh:path"),
    ("ecosh:S sh:targetClass eco:C ; sh:property [ sh:path eco:p ; sh:lessThan eco:q ] .",
     "sh:LessThanConstraintComponent"),
    ("ecosh:S sh:targetClass eco:C ; sh:minCount 1 .", "sh:MinCountConstraintComponent"),
    ("ecosh:S sh:targetClass eco:C ; sh:sparql [ sh:severity sh:Warning ; sh:select 'SELECT $this {}' ] .",
     "sh:SPARQLConstraintComponent"),
    ("ecosh:S sh:targetClass eco:C ; sh:property [ sh:path eco:p ; sh:qualifiedValueShape [ sh:class eco:D ] ; "
     + "sh:qualifiedMinCount 1 ] .",
     "sh:QualifiedMinCountConstraintComponent"),
    ("ecosh:Unused a sh:NodeShape ; sh:equals eco:p .", "sh:EqualsConstraintComponent"),
])
def test_unsupported_component_raises(shape: str, component: str) -> None:
    with pytest.raises(UnsupportedShape) as info:
        compile_shapes(Graph().parse(data=HEAD + shape, format="turtle"))
    assert info.value.component == component
    assert "ecosh:" in info.value.shape


def test_non_shape_triples_are_ignored() -> None:
    graph = Graph().parse(data=HEAD + """eco:C a <http://www.w3.org/2002/07/owl#Class> .
        <http://kg.test/def/eco> sh:declare [ sh:prefix "eco" ; sh:namespace "http://kg.test/def/eco#" ] .""",
                          format="turtle")
    assert compile_shapes(graph) == []


def test_project_shapes_compile_entirely() -> None:
    # As in the build: shapes and ontology share one graph, so ontology triples must pass too.
    graph = Graph()
    for path in sorted(SHAPES_TTL.parent.glob("*.ttl")):
        graph.parse(path, format="turtle")
    checks = compile_shapes(graph)
    assert len(checks) > 50
    assert {c.severity for c in checks} == {VIOLATION, WARNING}
