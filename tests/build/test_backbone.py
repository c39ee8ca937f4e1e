"""The official geography backbone: classes, containment, scope, populations, provenance.

Most tests read the tiny package in ``tests/data/decoupage/`` (see its README); the last
one reads the real ``@etalab/decoupage-administratif`` 6.0.0 when it is installed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from service.build.backbone import backbone_lines, package_version
from service.iris import Namespaces

FIXTURE = Path(__file__).parent.parent / "data" / "decoupage"
PROJECT = Path(__file__).parent.parent.parent
REAL_CANDIDATES = (PROJECT / "node_modules" / "@etalab" / "decoupage-administratif",
                   Path("/tmp/npmprobe/node_modules/@etalab/decoupage-administratif"))
BASE = "http://kg.test/"
NS = Namespaces(BASE)
PREFIXES = f"""PREFIX eco: <{BASE}def/eco#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX qb: <http://purl.org/linked-data/cube#>
PREFIX unit: <http://qudt.org/vocab/unit/> PREFIX owl: <http://www.w3.org/2002/07/owl#>
"""


def load(lines: list[str]) -> ox.Store:
    store = ox.Store()
    store.load("\n".join(lines).encode(), format=ox.RdfFormat.N_QUADS)
    return store


def _sparql(query: str) -> str:
    """``id:kind/key`` is not a SPARQL prefixed name (``/`` is not allowed): write it out."""
    return PREFIXES + re.sub(r"\bid:([\w/.'-]+)", rf"<{BASE}id/\1>", query)


def ask(store: ox.Store, query: str) -> bool:
    return bool(store.query(_sparql(f"ASK {{ {query} }}"), use_default_graph_as_union=True))


def values(store: ox.Store, query: str) -> list[str]:
    """The first column of a SELECT, as plain strings, sorted."""
    rows = store.query(_sparql(query), use_default_graph_as_union=True)
    return sorted(row[0].value for row in rows)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return list(backbone_lines(FIXTURE, NS))


@pytest.fixture(scope="module")
def store(lines: list[str]) -> ox.Store:
    return load(lines)


def test_package_version() -> None:
    assert package_version(FIXTURE) == "6.0.0"


@pytest.mark.parametrize(("cls", "expected"), [
    ("Country", ["FR"]), ("Region", ["32"]), ("Departement", ["59", "62"]),
    ("Intercommunality", ["200093201", "245900758"]),
    ("Commune", ["59006", "59009", "59350", "59400", "62041", "62498", "62502"]),
])
def test_classes_in_default_scope(store: ox.Store, cls: str, expected: list[str]) -> None:
    assert values(store, f"SELECT ?n WHERE {{ ?x a eco:{cls} ; skos:notation ?n }}") == expected


def test_everything_is_in_the_backbone_graph(lines: list[str]) -> None:
    assert all(line.endswith(f"<{BASE}graph/backbone> .") for line in lines)
    assert not any("_:" in line for line in lines)
    assert len(lines) == len(set(lines))


def test_territory_descriptions(store: ox.Store) -> None:
    assert ask(store, """id:commune/59350 rdfs:label "Lille"@fr ; eco:inseeCode "59350" ;
                         eco:sirenNumber "215903501" ; eco:postalCode "59000", "59800" ;
                         prov:wasDerivedFrom id:record/decoupage-administratif/communes/59350 .""")
    assert values(store, "SELECT ?c WHERE { id:commune/59350 eco:postalCode ?c }") == [
        "59000", "59160", "59260", "59777", "59800"]
    assert ask(store, """id:epci/200093201 rdfs:label "Métropole Européenne de Lille"@fr ;
                         eco:sirenNumber "200093201" ; dcterms:type "METRO" .""")
    assert ask(store, 'id:country/FR rdfs:label "France"@fr, "France"@en')
    assert not ask(store, "id:region/32 eco:sirenNumber ?s")


def test_delegated_commune_is_skipped(store: ox.Store) -> None:
    assert values(store, "SELECT ?l WHERE { id:commune/59006 rdfs:label ?l }") == ["L'Orée de Mormal"]
    assert not ask(store, '?x rdfs:label "Amfroipret"@fr')


@pytest.mark.parametrize(("child", "parents"), [
    ("commune/59350", ["departement/59", "epci/200093201"]),
    ("commune/62502", ["departement/62", "epci/245900758"]),
    ("commune/62498", ["departement/62"]),
    ("epci/200093201", ["departement/59"]),
    ("epci/245900758", ["region/32"]),
    ("departement/62", ["region/32"]),
    ("region/32", ["country/FR"]),
])
def test_containment(store: ox.Store, child: str, parents: list[str]) -> None:
    found = values(store, f"SELECT ?p WHERE {{ id:{child} eco:directlyWithin ?p }}")
    assert found == [f"{BASE}id/{p}" for p in parents]


def test_region_filter() -> None:
    everything = load(list(backbone_lines(FIXTURE, NS, regions=None)))
    normandie = load(list(backbone_lines(FIXTURE, NS, regions=frozenset({"28"}))))
    default = load(list(backbone_lines(FIXTURE, NS)))
    for store, present in ((everything, True), (normandie, True), (default, False)):
        assert ask(store, "id:commune/76540 a eco:Commune ; eco:directlyWithin id:departement/76, id:epci/200023414")\
            is present
        assert ask(store, "id:departement/76 eco:directlyWithin id:region/28") is present
    assert not ask(normandie, "id:commune/59350 ?p ?o")
    assert not ask(default, "?s ?p id:region/28")
    with pytest.raises(ValueError, match="unknown region"):
        list(backbone_lines(FIXTURE, NS, regions=frozenset({"99"})))


def test_populations_are_observations(store: ox.Store) -> None:
    obs = "id:observation/decoupage-administratif/commune-59350-population"
    assert ask(store, f"""{obs} a eco:Observation ; eco:refArea id:commune/59350 ;
        eco:indicator id:indicator/legal-population ; eco:obsValue 238246 ; eco:unit unit:NUM ;
        eco:statedValueText "238246" ; eco:valueQualifier eco:valueAsStated ;
        eco:areaResolution eco:areaExplicit ; eco:refPeriod id:period/unspecified ;
        eco:qualityFlag eco:vintageNotStated, eco:periodUnspecified ;
        eco:industry id:industry/all-activities ;
        qb:dataSet id:dataset/decoupage-administratif-6.0.0 ;
        dcterms:source id:source/decoupage-administratif-6.0.0 ;
        prov:hadPrimarySource id:source/decoupage-administratif-6.0.0 ;
        prov:wasGeneratedBy id:activity/import-decoupage-administratif-6.0.0 ;
        rdfs:label "Population (légale) of Lille: 238246"@en .""")
    mel = "id:observation/decoupage-administratif/epci-200093201-population"
    assert ask(store, f"""{mel}-municipale eco:indicator id:indicator/population-municipale ;
                              eco:obsValue 1194040 ; eco:refArea id:epci/200093201 .
                          {mel}-totale eco:indicator id:indicator/population-totale ; eco:obsValue 1204796 .""")
    # one per commune, two per EPCI, and all of them carry the two flags
    assert len(values(store, "SELECT ?o WHERE { ?o a eco:Observation }")) == 7 + 2 * 2
    assert not ask(store, "?o a eco:Observation FILTER NOT EXISTS { ?o eco:qualityFlag eco:vintageNotStated }")
    assert ask(store, """id:indicator/legal-population a eco:Indicator, skos:Concept ;
        skos:inScheme id:scheme/indicators ; skos:prefLabel "Population légale"@fr, "Legal population"@en ;
        skos:definition ?d FILTER(CONTAINS(STR(?d), "vintage"))""")
    assert ask(store, "id:dataset/decoupage-administratif-6.0.0 a qb:DataSet ; qb:structure eco:dsd-indicators")


@pytest.mark.parametrize("stem", ["communes", "epci", "departements", "regions"])
def test_provenance_chain(store: ox.Store, stem: str) -> None:
    sha = hashlib.sha256((FIXTURE / "data" / f"{stem}.json").read_bytes()).hexdigest()
    assert ask(store, f"""?record a eco:DataRecord ; prov:wasQuotedFrom ?doc .
        ?doc a eco:SourceDocument ; eco:sha256 "{sha}" ; dcterms:identifier "data/{stem}.json" ;
             dcterms:source id:source/decoupage-administratif-6.0.0 .
        FILTER(?doc = id:document/decoupage-administratif-6.0.0/{stem}.json)""")
    if stem == "communes":
        assert ask(store, f"""id:observation/decoupage-administratif/commune-59350-population
            prov:wasDerivedFrom id:record/decoupage-administratif/communes/59350 .
            id:record/decoupage-administratif/communes/59350 eco:recordKey "59350" ;
            prov:wasQuotedFrom/eco:sha256 "{sha}" .""")


def test_source_and_links(store: ox.Store) -> None:
    assert ask(store, """id:source/decoupage-administratif-6.0.0 a eco:StatisticalSource ;
        owl:versionInfo "6.0.0" ; dcterms:license <https://spdx.org/licenses/MIT> ;
        dcterms:publisher id:organization/etalab ; dcterms:title ?t ; dcterms:description ?d .
        id:organization/etalab a eco:PublicBody ; rdfs:label "Etalab"@fr .
        FILTER(CONTAINS(STR(?d), "millésime 2026") && CONTAINS(STR(?d), "do not state the vintage"))""")
    assert ask(store, "id:region/32 skos:exactMatch <http://www.wikidata.org/entity/Q18677767>")
    assert ask(store, "id:departement/59 skos:closeMatch "
                      "<http://id.insee.fr/geo/departement/1cabcdea-d4dc-4df1-96c2-ed1db0fa594c>")
    assert len(values(store, "SELECT ?x WHERE { ?x skos:exactMatch|skos:closeMatch ?y }")) == 2


def test_deterministic_and_rebased(lines: list[str]) -> None:
    assert list(backbone_lines(FIXTURE, NS)) == lines
    assert not any("data.example.org" in line for line in lines)
    default_base = list(backbone_lines(FIXTURE, Namespaces("https://data.example.org/")))
    assert [line.replace("https://data.example.org/", BASE) for line in default_base] == lines


def _real_package() -> Path | None:
    return next((p for p in REAL_CANDIDATES if (p / "data" / "communes.json").exists()), None)


def test_real_package_hauts_de_france() -> None:
    assert _real_package() is not None, "@etalab/decoupage-administratif is missing: run 'make setup' (npm ci)"
    package = _real_package()
    assert package is not None
    assert package_version(package) == "6.0.0"
    store = load(list(backbone_lines(package, NS)))
    assert len(values(store, "SELECT ?d WHERE { ?d a eco:Departement }")) == 5
    assert 3700 <= len(values(store, "SELECT ?c WHERE { ?c a eco:Commune }")) <= 3900
    assert ask(store, """id:commune/59350 rdfs:label "Lille"@fr ;
                         eco:directlyWithin id:departement/59, id:epci/200093201 .
                         id:departement/59 rdfs:label "Nord"@fr ; eco:directlyWithin id:region/32 .""")
    for code in ("59009", "62498", "62528"):
        assert ask(store, f"id:commune/{code} a eco:Commune ; eco:directlyWithin id:departement/{code[:2]}")
    # CC Interrégionale Aumale - Blangy-sur-Bresle has members in regions 32 and 28
    assert ask(store, "id:epci/200069722 a eco:Intercommunality ; eco:directlyWithin id:country/FR")


def test_real_package_overseas_collectivities() -> None:
    """The COG's collectivités d'outre-mer are one eco:OverseasCollectivity each, not a région
    plus a département, and their communes are directly within them."""
    package = _real_package()
    assert package is not None, "@etalab/decoupage-administratif is missing: run 'make setup' (npm ci)"
    store = load([line for line in backbone_lines(package, NS, regions=None)
                  if "/id/c" in line or "/id/region/" in line or "/id/departement/" in line])
    assert values(store, "SELECT ?n WHERE { ?x a eco:OverseasCollectivity ; eco:inseeCode ?n }") == [
        "975", "977", "978", "984", "986", "987", "988", "989"]
    assert ask(store, """id:collectivite-outre-mer/975 rdfs:label "Saint-Pierre-et-Miquelon"@fr ;
                         eco:directlyWithin id:country/FR .
                         id:commune/97502 a eco:Commune ; eco:directlyWithin id:collectivite-outre-mer/975 .""")
    assert not ask(store, "{ id:region/975 ?p ?o } UNION { id:departement/975 ?p ?o } "
                          "UNION { ?s ?p id:departement/988 }")
    # the five overseas départements (DROM) stay départements of their regions
    assert ask(store, "id:departement/976 a eco:Departement ; eco:directlyWithin id:region/06")
    assert len(values(store, "SELECT ?r WHERE { ?r a eco:Region }")) == 18
    assert len(values(store, "SELECT ?d WHERE { ?d a eco:Departement }")) == 101


def test_all_france_backbone_validates(tmp_path: Path) -> None:
    """What ``KG_BACKBONE_REGIONS=all`` compiles (every input, all of France) passes the
    project's SHACL shapes: no violation (the 3-digit COM codes used to fail)."""
    from rdflib import Graph

    from service.build import shacl
    from service.build.pipeline import _as_triple, compile_inputs
    from service.config import make_config

    assert _real_package() is not None, "@etalab/decoupage-administratif is missing: run 'make setup' (npm ci)"
    cfg = make_config({"BASE_URI": BASE, "STORE_PATH": str(tmp_path / "store"), "DUMPS_DIR": str(tmp_path / "d"),
                       "BACKBONE_REGIONS": "all"})
    graphs = compile_inputs(cfg)
    assert len(graphs[NS.graph("backbone")]) > 1_000_000
    store = ox.Store()
    for graph_lines in graphs.values():
        store.bulk_load(("\n".join(graph_lines) + "\n").encode(), format=ox.RdfFormat.N_QUADS)
    shapes = Graph().parse(data="\n".join(_as_triple(line) for line in graphs[NS.graph("ontology")]), format="nt")
    report = shacl.validate(store, shacl.compile_shapes(shapes, prefixes=NS.prefixes()), limit_per_check=100)
    assert report.conforms, report.text()
    assert ask(store, "id:collectivite-outre-mer/987 a eco:OverseasCollectivity")
