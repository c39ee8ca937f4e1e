"""The ontology (ontology/*.ttl): terms of docs/model.md, lint, HermiT, SHACL shapes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pyshacl
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from service.iris import DEFAULT_BASE, rebase
from service.reasoning import OntologyCheckError, OntologyReport, check_ontology, lint_ontology

ROOT = Path(__file__).resolve().parents[2]
ONTOLOGY_DIR = ROOT / "ontology"
DATA = ROOT / "tests" / "data" / "ontology"
SEEDS = ROOT.parent / "shared" / "seeds"

ECO = Namespace(f"{DEFAULT_BASE}def/eco#")
ECOSH = Namespace(f"{DEFAULT_BASE}def/eco/shapes#")
ID = Namespace(f"{DEFAULT_BASE}id/")
SH = Namespace("http://www.w3.org/ns/shacl#")
PROV = Namespace("http://www.w3.org/ns/prov#")
QB = Namespace("http://purl.org/linked-data/cube#")
OA = Namespace("http://www.w3.org/ns/oa#")
DCT = Namespace("http://purl.org/dc/terms/")
UNIT = Namespace("http://qudt.org/vocab/unit/")
ONTOLOGY_IRI = URIRef(f"{DEFAULT_BASE}def/eco")


def _parse(*names: str) -> Graph:
    graph = Graph()
    for name in names:
        graph.parse(ONTOLOGY_DIR / name, format="turtle")
    return graph


@pytest.fixture(scope="module")
def eco() -> Graph:
    return _parse("eco.ttl")


@pytest.fixture(scope="module")
def ontology() -> Graph:
    """What `territory-kg check` reads: the OWL file and the alignments."""
    return _parse("eco.ttl", "alignments.ttl")


# --------------------------------------------------------------------------------------
# The fixed list of terms in docs/model.md
# --------------------------------------------------------------------------------------


def _model_terms() -> dict[str, set[str]]:
    """Backticked eco: names of docs/model.md's "Ontology terms" section, by kind."""
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    section = text.split("## Ontology terms", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^(Classes \(hierarchy|Object properties:|Datatype properties|Controlled individuals|"
                     r"Reused as is:)", section, flags=re.MULTILINE)
    chunks = dict(zip(parts[1::2], parts[2::2]))
    names = {kind: re.findall(r"`(?:eco:)?([A-Za-z][A-Za-z0-9]*)`", chunks[marker])
             for kind, marker in (("class", "Classes (hierarchy"), ("object", "Object properties:"),
                                  ("datatype", "Datatype properties"))}
    # model.md: "`publisher` is `dcterms:publisher`", a reused property, not an eco: term.
    names["object"] = [n for n in names["object"] if n != "publisher"]
    names["concept"] = re.findall(r"`eco:([A-Za-z][A-Za-z0-9]*)`", chunks["Controlled individuals"])
    return {kind: set(found) for kind, found in names.items()}


MODEL_TERMS = _model_terms()
KIND_TYPES = {"class": OWL.Class, "object": OWL.ObjectProperty, "datatype": OWL.DatatypeProperty,
              "concept": SKOS.Concept}
SCHEMES = {
    "AreaResolutionScheme": ("AreaResolution", {"areaExplicit", "areaInferredFromContext"}),
    "ValueQualifierScheme": ("ValueQualifier", {"valueAsStated", "valueMoreThan", "valueAtLeast", "valueAtMost", "valueNearly",
                                                "valueApproximate"}),
    "QualityFlagScheme": ("QualityFlag", {"areaInferred", "periodUnspecified", "sourceNotCited", "scaleNotStated",
                                          "valueMissing", "nameNotStated", "unitBasisUnclear", "vintageNotStated"}),
    "RankingScopeScheme": ("RankingScope", {"regionsOfFrance", "agglomerationsOfFrance",
                                            "sectorsOfRegionalEconomy", "technicalCentresOfTheWorld"}),
}


def test_model_md_section_was_parsed() -> None:
    # Guards the parser: if model.md is reworded the lists must not silently empty.
    assert len(MODEL_TERMS["class"]) >= 45
    assert {"withinTerritory", "concerns", "mentionedIn"} <= MODEL_TERMS["object"]
    assert {"inseeCode", "gapNote", "obsValue"} <= MODEL_TERMS["datatype"]
    assert {c for _, members in SCHEMES.values() for c in members} == MODEL_TERMS["concept"]


@pytest.mark.parametrize(("kind", "name"), sorted((k, n) for k, names in MODEL_TERMS.items() for n in names))
def test_model_term_is_defined(eco: Graph, kind: str, name: str) -> None:
    assert (ECO[name], RDF.type, KIND_TYPES[kind]) in eco


def test_no_term_beyond_model_md(eco: Graph) -> None:
    allowed = set().union(*MODEL_TERMS.values()) | set(SCHEMES)
    own = {str(s)[len(str(ECO)):] for s in eco.subjects(RDF.type, None) if str(s).startswith(str(ECO))}
    assert own - allowed == set()


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_concept_scheme(eco: Graph, scheme: str) -> None:
    cls, members = SCHEMES[scheme]
    assert (ECO[scheme], RDF.type, SKOS.ConceptScheme) in eco
    in_scheme = {str(c)[len(str(ECO)):] for c in eco.subjects(SKOS.inScheme, ECO[scheme])}
    assert in_scheme == members
    for member in members:
        assert (ECO[member], RDF.type, ECO[cls]) in eco
        assert (ECO[member], RDF.type, SKOS.Concept) in eco
        assert {lbl.language for lbl in eco.objects(ECO[member], SKOS.prefLabel)} == {"en", "fr"}


EXPECTED_SUPERCLASSES = [
    ("Place", "http://www.opengis.net/ont/geosparql#Feature"), ("Place", "http://schema.org/Place"),
    ("Territory", "Place"), ("AdministrativeArea", "Territory"),
    ("AdministrativeArea", "http://schema.org/AdministrativeArea"),
    *[(c, "AdministrativeArea") for c in ("Country", "Region", "Departement", "Intercommunality", "Commune")],
    ("MetropolitanArea", "Territory"), ("SupranationalArea", "Territory"),
    ("Site", "Place"), ("Site", "http://www.w3.org/ns/org#Site"),
    *[(c, "Site") for c in ("BusinessPark", "Establishment", "Building", "Landmark")],
    ("Organization", "http://www.w3.org/ns/org#Organization"), ("Organization", "http://schema.org/Organization"),
    ("Organization", "http://www.w3.org/ns/prov#Agent"),
    ("Company", "http://www.w3.org/ns/org#FormalOrganization"),
    ("PublicBody", "http://www.w3.org/ns/org#FormalOrganization"),
    ("Laboratory", "http://www.w3.org/ns/org#OrganizationalUnit"),
    *[(c, "Organization") for c in ("Company", "PublicBody", "ResearchOrganization", "University", "Laboratory",
                                    "InnovationSupportStructure")],
    *[(c, "InnovationSupportStructure") for c in ("CompetitivenessCluster", "Incubator", "TechnicalCentre",
                                                  "ExcellenceCentre")],
    *[(c, "http://www.w3.org/2004/02/skos/core#Concept") for c in ("Industry", "Indicator", "QualityFlag",
                                                                   "ValueQualifier", "AreaResolution",
                                                                   "RankingScope")],
    ("Observation", "http://purl.org/linked-data/cube#Observation"),
    ("Observation", "http://www.w3.org/ns/prov#Entity"),
    ("ShareObservation", "Observation"), ("RankingObservation", "Observation"),
    ("ReferencePeriod", "http://www.w3.org/2006/time#ProperInterval"),
    ("SourceFragment", "http://www.w3.org/ns/prov#Entity"), ("Excerpt", "SourceFragment"),
    ("DataRecord", "SourceFragment"),
    ("SourceDocument", "http://www.w3.org/ns/prov#Entity"), ("SourceDocument", "http://schema.org/CreativeWork"),
    ("StatisticalSource", "http://www.w3.org/ns/prov#Entity"),
    ("ExtractionActivity", "http://www.w3.org/ns/prov#Activity"), ("DataGap", "http://www.w3.org/ns/prov#Entity"),
]


@pytest.mark.parametrize(("sub", "sup"), EXPECTED_SUPERCLASSES)
def test_class_hierarchy(eco: Graph, sub: str, sup: str) -> None:
    sup_iri = URIRef(sup) if ":" in sup else ECO[sup]
    assert (ECO[sub], RDFS.subClassOf, sup_iri) in eco
    assert (sup_iri, RDF.type, OWL.Class) in eco  # declared, so the file is OWL 2 DL alone


def _all_disjoint_sets(graph: Graph) -> list[set[URIRef]]:
    sets = []
    for node in graph.subjects(RDF.type, OWL.AllDisjointClasses):
        members = graph.value(node, OWL.members)
        assert members is not None
        sets.append({m for m in Collection(graph, members) if isinstance(m, URIRef)})
    return sets


def test_administrative_levels_are_pairwise_disjoint(eco: Graph) -> None:
    levels = {ECO[c] for c in ("Country", "Region", "Departement", "Intercommunality", "Commune")}
    assert any(levels <= members for members in _all_disjoint_sets(eco))


def test_property_characteristics(eco: Graph) -> None:
    assert (ECO.withinTerritory, RDF.type, OWL.TransitiveProperty) in eco
    assert (ECO.containsPlace, RDF.type, OWL.TransitiveProperty) in eco
    assert (ECO.withinTerritory, OWL.inverseOf, ECO.containsPlace) in eco
    assert (ECO.directlyWithin, RDFS.subPropertyOf, ECO.withinTerritory) in eco
    assert (ECO.directlyContains, OWL.inverseOf, ECO.directlyWithin) in eco
    assert (ECO.directlyContains, RDFS.subPropertyOf, ECO.containsPlace) in eco
    assert (ECO.hosts, OWL.inverseOf, ECO.locatedIn) in eco
    assert (ECO.obsValue, RDF.type, OWL.FunctionalProperty) in eco
    sdmx = "http://purl.org/linked-data/sdmx/2009/"
    for prop, sup in (("refArea", "dimension#refArea"), ("refPeriod", "dimension#refPeriod"),
                      ("obsValue", "measure#obsValue"), ("unit", "attribute#unitMeasure")):
        assert (ECO[prop], RDFS.subPropertyOf, URIRef(sdmx + sup)) in eco


def test_ontology_header(eco: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in eco
    assert (ONTOLOGY_IRI, OWL.versionIRI, URIRef(f"{DEFAULT_BASE}def/eco/0.1.0")) in eco
    assert (ONTOLOGY_IRI, OWL.versionInfo, Literal("0.1.0")) in eco
    assert (ONTOLOGY_IRI, DCT.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in eco
    assert (ONTOLOGY_IRI, URIRef("http://purl.org/vocab/vann/preferredNamespacePrefix"), Literal("eco")) in eco
    assert {t.language for t in eco.objects(ONTOLOGY_IRI, DCT.title)} == {"en", "fr"}


def test_data_cube_typing_stays_out_of_the_owl_file(eco: Graph) -> None:
    for kind in (QB.DimensionProperty, QB.MeasureProperty, QB.AttributeProperty, QB.DataStructureDefinition):
        assert list(eco.subjects(RDF.type, kind)) == []


@pytest.mark.parametrize(("dsd", "subject_dimension"), [("dsd-indicators", "refArea"),
                                                        ("dsd-organisation-indicators", "refOrganization")])
def test_data_structure_definitions(dsd: str, subject_dimension: str) -> None:
    cube = _parse("eco-cube.ttl")
    assert (ECO[dsd], RDF.type, QB.DataStructureDefinition) in cube
    dimensions = set()
    for component in cube.objects(ECO[dsd], QB.component):
        declared = [cube.value(component, p) for p in (QB.dimension, QB.measure, QB.attribute)]
        prop = next(d for d in declared if d is not None)
        assert cube.value(component, QB.componentProperty) == prop  # normalised, as IC-1..21 expect
        if cube.value(component, QB.dimension) is not None:
            dimensions.add(str(prop)[len(str(ECO)):])
            assert (prop, RDF.type, QB.DimensionProperty) in cube
    assert dimensions == {subject_dimension, "refPeriod", "indicator", "industry"}
    assert (ECO.obsValue, RDF.type, QB.MeasureProperty) in cube
    assert (ECO.unit, RDF.type, QB.AttributeProperty) in cube


def test_alignments_are_annotations_on_declared_terms(eco: Graph) -> None:
    alignments = _parse("alignments.ttl")
    assert (SKOS.closeMatch, RDF.type, OWL.AnnotationProperty) in alignments
    matches = [(s, o) for s, p, o in alignments if p == SKOS.closeMatch]
    assert len(matches) == len(alignments) - 1  # nothing but closeMatch and its declaration
    for subject, _ in matches:
        assert str(subject).startswith(str(ECO)) and (subject, RDF.type, None) in eco
    targets = {str(o) for _, o in matches}
    for confirmed in ("http://rdf.insee.fr/def/geo#Region", "http://rdf.insee.fr/def/geo#Commune",
                      "http://www.wikidata.org/prop/direct/P131", "http://www.wikidata.org/prop/direct/P374"):
        assert confirmed in targets


# --------------------------------------------------------------------------------------
# Lint
# --------------------------------------------------------------------------------------


def test_lint_finds_nothing_in_the_real_ontology(ontology: Graph) -> None:
    assert lint_ontology(ontology) == []


def test_only_owl2_datatypes(ontology: Graph) -> None:
    used = {o.datatype for o in ontology.objects() if isinstance(o, Literal) and o.datatype is not None}
    used |= {r for r in ontology.objects(None, RDFS.range) if str(r).startswith(str(XSD))}
    assert used <= {XSD.string, XSD.integer, XSD.decimal, XSD.boolean, XSD.dateTime}


BAD_ONTOLOGY = """
@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://example.org/o#> .
<http://example.org/o> a owl:Ontology ; owl:versionInfo "0" .
ex:Good a owl:Class ; rdfs:label "Good"@en , "Bon"@fr ; skos:definition "d"@en , "d"@fr ;
    rdfs:isDefinedBy <http://example.org/o> .
ex:EnglishOnly a owl:Class ; rdfs:subClassOf ex:Good , <http://example.org/other#Undeclared> ;
    rdfs:label "English only"@en ; skos:definition "d"@en ; rdfs:isDefinedBy <http://example.org/o> .
ex:founded a owl:DatatypeProperty ; rdfs:range xsd:gYear ; rdfs:label "founded"@en , "fondé"@fr ;
    skos:definition "d"@en , "d"@fr ; rdfs:isDefinedBy <http://example.org/o> .
ex:lonely a ex:Good , skos:Concept ; rdfs:label "lonely"@en , "seul"@fr ; skos:definition "d"@en , "d"@fr ;
    rdfs:isDefinedBy <http://example.org/o> ; rdfs:seeAlso ex:Typo ; rdfs:comment "x"^^xsd:date .
"""


def test_lint_reports_problems() -> None:
    problems = lint_ontology(Graph().parse(data=BAD_ONTOLOGY, format="turtle"))
    expected = [
        "<http://example.org/o#EnglishOnly>: no rdfs:label in @fr",
        "<http://example.org/o#EnglishOnly>: no skos:definition in @fr",
        "<http://example.org/o#Typo>: used but not declared",
        "<http://example.org/o#founded>: range <http://www.w3.org/2001/XMLSchema#gYear> is outside the OWL 2 "
        "datatype map",
        "<http://example.org/o#lonely>: concept without skos:inScheme",
        "<http://example.org/o#lonely>: no skos:prefLabel in @en",
        "<http://example.org/other#Undeclared>: external term used in an axiom but not declared",
        "ontology header: no dcterms:license",
    ]
    for problem in expected:
        assert problem in problems
    assert any("xsd:date" in p or "XMLSchema#date" in p for p in problems)
    assert not any(p.startswith("<http://example.org/o#Good>") for p in problems)


def test_lint_requires_an_ontology_header() -> None:
    assert lint_ontology(Graph()) != []


# --------------------------------------------------------------------------------------
# HermiT (runs Java)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hermit_report() -> OntologyReport:
    return check_ontology([ONTOLOGY_DIR / "eco.ttl", ONTOLOGY_DIR / "alignments.ttl"])


@pytest.mark.slow
def test_hermit_finds_the_ontology_consistent_and_every_class_satisfiable(hermit_report: OntologyReport) -> None:
    assert hermit_report.consistent
    assert hermit_report.unsatisfiable == []
    assert hermit_report.messages == []  # owlready2 said nothing: no punning, no parse trouble
    assert hermit_report.ok
    assert hermit_report.classes == len(MODEL_TERMS["class"])
    assert hermit_report.properties == len(MODEL_TERMS["object"] | MODEL_TERMS["datatype"])


@pytest.mark.slow
def test_hermit_reports_an_inconsistent_ontology() -> None:
    report = check_ontology([DATA / "broken-disjoint-individual.ttl"])
    assert not report.consistent
    assert not report.ok
    assert any("inconsistent" in m for m in report.messages)


@pytest.mark.slow
def test_hermit_reports_an_unsatisfiable_class() -> None:
    report = check_ontology([DATA / "broken-unsatisfiable-class.ttl"])
    assert report.consistent
    assert report.unsatisfiable == ["http://example.org/broken#CommuneRegion"]
    assert not report.ok


@pytest.mark.slow
def test_satisfiability_by_individuals_isolates_the_culprit(tmp_path: Path) -> None:
    # The second opinion (one fresh individual per class, bisected) on its own.
    from service.reasoning import _classes_without_model

    tbox = tmp_path / "broken.nt"
    Graph().parse(DATA / "broken-unsatisfiable-class.ttl").serialize(tbox, format="nt", encoding="utf-8")
    ns = "http://example.org/broken#"
    found = _classes_without_model(tbox, [ns + "Commune", ns + "CommuneRegion", ns + "Region"], tmp_path,
                                   "java", [])
    assert found == [ns + "CommuneRegion"]


def test_check_ontology_fails_loudly_without_java() -> None:
    with pytest.raises(OntologyCheckError):
        check_ontology([DATA / "broken-unsatisfiable-class.ttl"], java="/nonexistent/java")


def test_check_ontology_fails_loudly_on_bad_turtle(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle", encoding="utf-8")
    with pytest.raises(OntologyCheckError):
        check_ontology([bad])


# --------------------------------------------------------------------------------------
# SHACL shapes
# --------------------------------------------------------------------------------------

#: What the SPARQL-compiling validator supports (anything else must fail this test).
ALLOWED_SHACL = {SH[n] for n in ("NodeShape", "PropertyShape", "targetClass", "path", "inversePath", "property",
                                 "minCount", "maxCount", "datatype", "class", "nodeKind", "pattern", "hasValue",
                                 "in", "minInclusive", "maxInclusive", "or", "xone", "severity", "message",
                                 "sparql", "select", "SPARQLConstraint", "IRI", "Literal", "BlankNode",
                                 "Violation", "Warning", "Info")}


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return _parse("shapes.ttl")


def test_shapes_use_only_the_supported_shacl_core_subset(shapes: Graph) -> None:
    used = {t for triple in shapes for t in triple if isinstance(t, URIRef) and str(t).startswith(str(SH))}
    assert used - ALLOWED_SHACL == set()
    for members in list(shapes.objects(None, SH["or"])) + list(shapes.objects(None, SH.xone)):
        for member in Collection(shapes, members):
            keys = set(shapes.predicates(member, None))
            assert SH.path in keys or keys <= {SH.datatype, SH["class"]}


def test_every_shape_is_documented_in_english(shapes: Graph) -> None:
    named = {s for s in shapes.subjects(RDF.type, None) if str(s).startswith(str(ECOSH))}
    assert named
    for shape in named:
        assert shapes.value(shape, RDFS.label) is not None, shape
        assert shapes.value(shape, RDFS.comment) is not None, shape
    for message in shapes.objects(None, SH.message):
        assert isinstance(message, Literal) and message.language == "en"
    for shape in shapes.subjects(SH.path, None):
        if isinstance(shape, URIRef):
            assert shapes.value(shape, SH.message) is not None, shape
            assert shapes.value(shape, SH.severity) is not None, shape


def _results(data: Graph, shapes: Graph, ontology: Graph) -> dict[URIRef, set[tuple[str, str]]]:
    """(focus node, source shape) pairs of the validation, by severity."""
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, ont_graph=ontology, inference="rdfs")
    found: dict[URIRef, set[tuple[str, str]]] = {SH.Violation: set(), SH.Warning: set(), SH.Info: set()}
    for result in report.subjects(RDF.type, SH.ValidationResult):
        severity = URIRef(str(report.value(result, SH.resultSeverity)))
        focus = str(report.value(result, SH.focusNode))
        source = str(report.value(result, SH.sourceShape))
        found[severity].add((focus.removeprefix(str(ID)), source.removeprefix(str(ECOSH))))
    return found


@pytest.fixture(scope="module")
def valid() -> Graph:
    return Graph().parse(DATA / "valid.ttl", format="turtle")


SHARE = "observation/000_536db8c375fb4130/population-under-30"
RANKING = "observation/000_536db8c375fb4130/technical-textiles-rank"
ORG_COUNT = "observation/000_536db8c375fb4130/euratechnologies-start-ups"
EXCERPT = "excerpt/000_536db8c375fb4130/1565-1642"
GAP = "gap/003_3909a56f0ba71a0f/population-under-20"
DOCUMENT = "document/000_536db8c375fb4130"
EXPECTED_WARNINGS = {(SHARE, "AreaInferredWarningShape"), (RANKING, "PeriodWarningShape"),
                     (ORG_COUNT, "PeriodWarningShape"), (ORG_COUNT, "PrimarySourceWarningShape")}


def test_valid_fixture_conforms_with_only_the_expected_warnings(valid: Graph, shapes: Graph, eco: Graph) -> None:
    results = _results(valid, shapes, eco)
    assert results[SH.Violation] == set()
    assert results[SH.Warning] == EXPECTED_WARNINGS
    conforms, _, _ = pyshacl.validate(valid, shacl_graph=shapes, ont_graph=eco, inference="rdfs",
                                      allow_warnings=True)
    assert conforms


def test_shapes_do_not_depend_on_the_base(valid: Graph, shapes: Graph, eco: Graph) -> None:
    # The build re-bases every IRI (tests use http://kg.test/); shapes must still work.
    def move(term: Node) -> Node:
        return URIRef(rebase(str(term), "http://kg.test/")) if isinstance(term, URIRef) else term

    def moved(graph: Graph) -> Graph:
        out = Graph()
        for s, p, o in graph:
            out.add((move(s), move(p), move(o)))
        return out

    _, report, _ = pyshacl.validate(moved(valid), shacl_graph=moved(shapes), ont_graph=moved(eco), inference="rdfs")
    severities = [report.value(r, SH.resultSeverity) for r in report.subjects(RDF.type, SH.ValidationResult)]
    assert sorted(severities) == [SH.Warning] * len(EXPECTED_WARNINGS)


def test_fixture_excerpts_quote_the_seed_documents(valid: Graph) -> None:
    for excerpt in valid.subjects(RDF.type, ECO.Excerpt):
        document = valid.value(excerpt, PROV.wasQuotedFrom)
        name = str(valid.value(document, DCT.identifier))
        raw = (SEEDS / name).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == str(valid.value(document, ECO.sha256))
        start, end = (int(str(valid.value(excerpt, p))) for p in (OA.start, OA.end))
        assert raw.decode("utf-8")[start:end] == str(valid.value(excerpt, OA.exact))


Mutation = Callable[[Graph], None]


def _replace(subject: str, prop: URIRef, value: Node | None) -> Mutation:
    """Remove every ``prop`` of ``subject``, then add ``value`` unless it is None."""
    def mutate(g: Graph) -> None:
        g.remove((ID[subject], prop, None))
        if value is not None:
            g.add((ID[subject], prop, value))
    return mutate


def _add(subject: str, prop: URIRef, value: Node) -> Mutation:
    def mutate(g: Graph) -> None:
        g.add((ID[subject], prop, value))
    return mutate


MUTATIONS: dict[str, tuple[Mutation, set[tuple[str, str]]]] = {
    "missing unit": (_replace(RANKING, ECO.unit, None), {(RANKING, "ObservationUnitShape")}),
    "refArea and refOrganization": (_add(SHARE, ECO.refOrganization, ID["organization/euratechnologies"]),
                                    {(SHARE, "ObservationSubjectShape")}),
    "neither refArea nor refOrganization": (_replace(ORG_COUNT, ECO.refOrganization, None),
                                            {(ORG_COUNT, "ObservationSubjectShape")}),
    "share value 140": (_replace(SHARE, ECO.obsValue, Literal("140.0", datatype=XSD.decimal)),
                        {(SHARE, "ShareValueShape")}),
    "share not in percent": (_replace(SHARE, ECO.unit, UNIT.NUM), {(SHARE, "ShareUnitShape")}),
    "share without shareOf": (_replace(SHARE, ECO.shareOf, None), {(SHARE, "ShareOfShape")}),
    "ranking 0": (_replace(RANKING, ECO.obsValue, Literal(0)), {(RANKING, "RankingValueShape")}),
    "ranking not an integer": (_replace(RANKING, ECO.obsValue, Literal("2.0", datatype=XSD.decimal)),
                               {(RANKING, "RankingValueShape")}),
    "ranking without scope": (_replace(RANKING, ECO.rankedAmong, None), {(RANKING, "RankedAmongShape")}),
    "value as a string": (_replace(ORG_COUNT, ECO.obsValue, Literal("300")), {(ORG_COUNT, "ObservationValueShape")}),
    "two values": (_add(ORG_COUNT, ECO.obsValue, Literal(301)), {(ORG_COUNT, "ObservationValueShape")}),
    "area without resolution": (_replace(RANKING, ECO.areaResolution, None),
                                {(RANKING, "ObservationAreaResolutionRequiredShape")}),
    "no excerpt": (_replace(RANKING, PROV.wasDerivedFrom, None), {(RANKING, "ObservationDerivationShape")}),
    "no source": (_replace(ORG_COUNT, DCT.source, None), {(ORG_COUNT, "ObservationSourceShape")}),
    "no data set": (_replace(ORG_COUNT, QB.dataSet, None), {(ORG_COUNT, "ObservationDataSetShape")}),
    "no stated value": (_replace(ORG_COUNT, ECO.statedValueText, None), {(ORG_COUNT, "ObservationStatedValueShape")}),
    "bad commune code": (_replace("commune/59350", ECO.inseeCode, Literal("5935")),
                         {("commune/59350", "CommuneCodeShape")}),
    "commune code as integer": (_replace("commune/59350", ECO.inseeCode, Literal(59350)),
                                {("commune/59350", "CommuneCodeShape")}),
    "bad département code": (_replace("departement/59", ECO.inseeCode, Literal("590")),
                             {("departement/59", "DepartementCodeShape")}),
    "bad region code": (_replace("region/32", ECO.inseeCode, Literal("H32")), {("region/32", "RegionCodeShape")}),
    "bad EPCI SIREN": (_replace("epci/200093201", ECO.sirenNumber, Literal("20009320")),
                       {("epci/200093201", "IntercommunalitySirenShape")}),
    "excerpt without wasQuotedFrom": (_replace(EXCERPT, PROV.wasQuotedFrom, None), {(EXCERPT, "ExcerptDocumentShape")}),
    "excerpt with negative start": (_replace(EXCERPT, OA.start, Literal(-1)), {(EXCERPT, "ExcerptStartShape")}),
    "bad checksum": (_replace(DOCUMENT, ECO.sha256, Literal("3432A925")), {(DOCUMENT, "SourceDocumentChecksumShape")}),
    "gap without flag": (_replace(GAP, ECO.qualityFlag, None), {(GAP, "DataGapFlagShape")}),
    "record without key": (_replace("record/decoupage-administratif/communes/59350", ECO.recordKey, None),
                           {("record/decoupage-administratif/communes/59350", "DataRecordKeyShape")}),
    "organisation without label": (_replace("organization/euratechnologies", RDFS.label, None),
                                   {("organization/euratechnologies", "LabelShape")}),
    "source without citation or title": (
        _replace("source/cci-hauts-de-france", ECO.citationAsStated, None),
        {("source/cci-hauts-de-france", "StatisticalSourceShape")}),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_mutated_fixture_gives_the_expected_violation(valid: Graph, shapes: Graph, eco: Graph, case: str) -> None:
    mutate, expected = MUTATIONS[case]
    data = Graph()
    for triple in valid:
        data.add(triple)
    mutate(data)
    assert _results(data, shapes, eco)[SH.Violation] == expected


def test_warnings_fire_for_weak_figures(valid: Graph, shapes: Graph, eco: Graph) -> None:
    data = Graph()
    for triple in valid:
        data.add(triple)
    _replace(SHARE, ECO.refPeriod, ID["period/unspecified"])(data)
    _replace(SHARE, PROV.hadPrimarySource, None)(data)
    warnings = _results(data, shapes, eco)[SH.Warning]
    assert {(SHARE, "PeriodWarningShape"), (SHARE, "PrimarySourceWarningShape")} <= warnings
