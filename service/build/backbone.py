"""The official administrative geography, from Etalab's npm package, as N-Quads.

Input: an unpacked ``@etalab/decoupage-administratif`` (``package.json`` and
``data/{regions,departements,epci,communes}.json``; 6.0.0 is "millésime 2026" per its
README, built from INSEE's Code officiel géographique, the DGCL list of EPCI à fiscalité
propre, INSEE's populations légales and La Poste's postal codes). Output, all in graph ``{BASE}graph/backbone``:

- ``id:country/FR`` and, within the selected regions, every region, département, EPCI
  (à fiscalité propre) and *current* commune (``type == "commune-actuelle"``), with
  ``rdfs:label`` (official name, ``@fr``), ``eco:inseeCode``, ``skos:notation``,
  ``eco:sirenNumber`` where the record has one, ``eco:postalCode`` (communes) and the EPCI
  nature (``METRO``, ``CA``, ``CC``, ``CU``, ``MET69``) as a ``dcterms:type`` literal.
  Delegated and associated communes and municipal arrondissements are skipped: they are
  not communes in their own right, and their codes can repeat a current commune's code.
- ``eco:directlyWithin``: commune → département and → its EPCI (from the EPCI's
  ``membres``); département → region → country; EPCI → the one département of all its
  members, else their one region, else the country (computed over the whole file, so a
  cross-region EPCI is within the country even when only one region is imported).
- Two external links, :data:`EXTERNAL_LINKS`, the only ones the design marks confirmed.
- Provenance: a ``eco:StatisticalSource`` for the package, its publisher, one
  ``eco:SourceDocument`` per data file (with the SHA-256 of its bytes) and one
  ``eco:DataRecord`` per imported record; each territory ``prov:wasDerivedFrom`` its record.
- Populations as ``eco:Observation`` (communes: ``population``; EPCIs:
  ``populationMunicipale`` and ``populationTotale``), their three indicators, the
  ``qb:DataSet`` and the import activity. The data files do not say which vintage the
  populations are, so every observation has ``id:period/unspecified`` and the flags
  ``eco:vintageNotStated`` and ``eco:periodUnspecified`` (ontology individuals; the period,
  ``id:industry/all-activities`` and the indicator scheme are in the reference graph).

Not emitted: chefs-lieux (no ontology term), arrondissements, EPT, ``zone`` and
``typeLiaison``. Communes in no EPCI (a few islands) get no EPCI link.

The overseas collectivities (``zone: "com"``: codes 975, 977, 978, 984, 986–989, the COG's
collectivités d'outre-mer table) are filed by the package twice, as a "region" and as a
"département" with the same code and name. They are neither: each becomes one
``eco:OverseasCollectivity`` (``id:collectivite-outre-mer/{code}``, from its regions.json
record) within the country, and its communes are directly within it. A region filter
selects one by its code.

Lines come out in a fixed order (records sorted by code), without duplicates in a run;
the caller sorts them for byte-identical dumps. Nothing builds an rdflib graph: all of
France (about 35,000 communes) takes a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from service.build.ntriples import iri, literal, quad
from service.iris import Namespaces

__all__ = ["EXTERNAL_LINKS", "backbone_lines", "package_version"]

log = logging.getLogger(__name__)

DATASET = "decoupage-administratif"
#: IRI kind of an overseas collectivity (``id:collectivite-outre-mer/975``).
COM = "collectivite-outre-mer"
FILES = ("regions", "departements", "epci", "communes")

#: (kind, code) → [(SKOS mapping property, external IRI)]. Evidence in shared/design/ontology.md:
#: Q18677767 is the only QID marked "confirmed" (§3.5: same value in ≥ 4 independent files);
#: the INSEE version URI of département 59 is from INSEE's Metadata-API integration tests
#: (§3.2, query date 2025-09-04). A version URI is one state of the territory: closeMatch.
EXTERNAL_LINKS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("region", "32"): [("skos:exactMatch", "http://www.wikidata.org/entity/Q18677767")],
    ("departement", "59"): [
        ("skos:closeMatch", "http://id.insee.fr/geo/departement/1cabcdea-d4dc-4df1-96c2-ed1db0fa594c")],
}

#: Package version → millésime, as the package README's table states it.
MILLESIMES = {"6.0.0": "2026"}
#: The README's link for the data licence ("Données : Licence Ouverte"; "Code : MIT").
DATA_LICENCE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"

#: indicator slug → (English label, French label, English definition: what the package states).
_NOT_STATED = (" The package does not say which of the sources listed in its README (INSEE's populations "
               "légales, the DGCL list of EPCI) the figure comes from, nor its vintage.")
INDICATORS = {
    "legal-population": (
        "Legal population", "Population légale",
        ("The 'population' field of a current commune in data/communes.json of "
         "@etalab/decoupage-administratif, whose README lists INSEE's 'Population légale' among its "
         "sources. The package states neither the vintage of the figure nor whether it is the "
         "population municipale or the population totale.")),
    "population-municipale": (
        "Municipal population", "Population municipale",
        "The 'populationMunicipale' field of an EPCI in data/epci.json of "
        "@etalab/decoupage-administratif." + _NOT_STATED),
    "population-totale": (
        "Total population", "Population totale",
        "The 'populationTotale' field of an EPCI in data/epci.json of "
        "@etalab/decoupage-administratif." + _NOT_STATED),
}
#: kind → [(JSON field, indicator slug, observation IRI suffix, label wording)]
POPULATION_FIELDS = {
    "commune": [("population", "legal-population", "population", "Population (légale)")],
    "epci": [("populationMunicipale", "population-municipale", "population-municipale",
              "Population municipale"),
             ("populationTotale", "population-totale", "population-totale", "Population totale")],
}


def package_version(package_dir: Path) -> str:
    """The ``version`` of the package's ``package.json``.

    :raises OSError: if the file cannot be read.
    :raises ValueError: if it has no non-empty string ``version``.
    """
    version = json.loads((package_dir / "package.json").read_text("utf-8")).get("version")
    if not isinstance(version, str) or not version:
        raise ValueError(f"{package_dir / 'package.json'}: no version")
    return version


def _read(package_dir: Path, stem: str) -> tuple[list[dict[str, Any]], str]:
    """A data file's records (numbers kept as their JSON text) and the SHA-256 of its bytes."""
    raw = (package_dir / "data" / f"{stem}.json").read_bytes()
    return json.loads(raw, parse_int=str), hashlib.sha256(raw).hexdigest()


class _Writer:
    """Term and line helpers bound to one namespace set and package version."""

    def __init__(self, ns: Namespaces, version: str) -> None:
        self.ns, self.version = ns, version
        self.g = iri(ns.graph("backbone"))
        self._terms: dict[str, str] = {}
        self.source = self.id("source", f"{DATASET}-{version}")
        self.dataset = self.id("dataset", f"{DATASET}-{version}")
        self.activity = self.id("activity", f"import-{DATASET}-{version}")

    def t(self, curie: str) -> str:
        """A CURIE as an IRI term (memoised: the same few are used a million times)."""
        term = self._terms.get(curie)
        if term is None:
            term = self._terms[curie] = iri(self.ns.expand(curie))
        return term

    def id(self, kind: str, *keys: str) -> str:
        return iri(self.ns.mint(kind, *keys))

    def q(self, s: str, p: str, o: str) -> str:
        return quad(s, self.t(p), o, self.g)

    def document(self, stem: str) -> str:
        return self.id("document", f"{DATASET}-{self.version}", f"{stem}.json")


def backbone_lines(package_dir: Path, ns: Namespaces, *,
                   regions: frozenset[str] | None = frozenset({"32"})) -> Iterator[str]:
    """N-Quads lines of the official geography of ``regions`` (INSEE codes; None: all France).

    :param package_dir: the unpacked package (holding ``package.json`` and ``data/``).
    :param ns: the namespaces; every IRI is minted under ``ns.base``.
    :raises OSError: if a file of the package is missing.
    :raises ValueError: on an unknown region code, an EPCI member that is not a current
        commune or is in two EPCIs, or a population that is not a whole number.
    """
    version = package_version(package_dir)
    data = {stem: _read(package_dir, stem) for stem in FILES}
    w = _Writer(ns, version)
    region_recs = {r["code"]: r for r in data["regions"][0]}
    if regions is not None and (unknown := sorted(regions - region_recs.keys())):
        raise ValueError(f"unknown region code(s) {unknown} in {package_dir / 'data/regions.json'}")
    communes = {r["code"]: r for r in data["communes"][0] if r["type"] == "commune-actuelle"}
    epcis = sorted(data["epci"][0], key=lambda r: r["code"])
    epci_of: dict[str, str] = {}
    for epci in epcis:
        for member in epci["membres"]:
            if member["code"] not in communes or member["code"] in epci_of:
                raise ValueError(f"EPCI {epci['code']}: member {member['code']} is not a current commune "
                                 "or is in another EPCI too")
            epci_of[member["code"]] = epci["code"]

    def kept(region: str) -> bool:
        return regions is None or region in regions

    yield from _provenance(w, {stem: sha for stem, (_, sha) in data.items()})
    country = w.id("country", "FR")
    yield w.q(country, "rdf:type", w.t("eco:Country"))
    yield w.q(country, "rdfs:label", literal("France", lang="fr"))
    yield w.q(country, "rdfs:label", literal("France", lang="en"))
    yield w.q(country, "skos:notation", literal("FR"))
    counts = dict.fromkeys(("region", "departement", COM, "epci", "commune"), 0)
    coms = {code for code, rec in region_recs.items() if rec.get("zone") == "com"}

    def department(code: str) -> str:
        """The IRI of a commune's "département": the collectivity itself for a COM."""
        return w.id(COM, code) if code in coms else w.id("departement", code)

    for code, rec in sorted(region_recs.items()):
        if kept(code):
            kind, cls = (COM, "OverseasCollectivity") if code in coms else ("region", "Region")
            counts[kind] += 1
            yield from _territory(w, kind, cls, "regions", rec, [country])
    for rec in sorted(data["departements"][0], key=lambda r: r["code"]):
        if rec["code"] in coms:
            continue  # the same collectivity as its regions.json record
        if kept(rec["region"]):
            counts["departement"] += 1
            yield from _territory(w, "departement", "Departement", "departements", rec,
                                  [w.id("region", rec["region"])])
    for rec in epcis:
        members = [communes[m["code"]] for m in rec["membres"]]
        if not any(kept(m["region"]) for m in members):
            continue
        counts["epci"] += 1
        deps, regs = {m["departement"] for m in members}, {m["region"] for m in members}
        parent = (department(*deps) if len(deps) == 1
                  else w.id("region", *regs) if len(regs) == 1 and not regs & coms else country)
        yield from _territory(w, "epci", "Intercommunality", "epci", rec, [parent], siren=rec["code"])
        yield w.q(w.id("epci", rec["code"]), "dcterms:type", literal(rec["type"]))
    for code, rec in sorted(communes.items()):
        if not kept(rec["region"]):
            continue
        counts["commune"] += 1
        parents = [department(rec["departement"])]
        if code in epci_of:
            parents.append(w.id("epci", epci_of[code]))
        yield from _territory(w, "commune", "Commune", "communes", rec, parents, siren=rec.get("siren"))
    log.info("backbone %s: %s", version, ", ".join(f"{n:,} {k}" for k, n in counts.items()))


def _territory(w: _Writer, kind: str, cls: str, stem: str, rec: Mapping[str, Any],
               parents: list[str], *, siren: str | None = None) -> Iterator[str]:
    """A territory, its data record and its population observations."""
    code, name = rec["code"], rec["nom"]
    s, record = w.id(kind, code), w.id("record", DATASET, stem, code)
    yield w.q(s, "rdf:type", w.t(f"eco:{cls}"))
    yield w.q(s, "rdfs:label", literal(name, lang="fr"))
    # The EPCI "code" is its SIREN, which is also the code INSEE's COG gives the EPCI.
    yield w.q(s, "eco:inseeCode", literal(code))
    yield w.q(s, "skos:notation", literal(code))
    if siren:
        yield w.q(s, "eco:sirenNumber", literal(siren))
    for postal in sorted(set(rec.get("codesPostaux", ()))):
        yield w.q(s, "eco:postalCode", literal(postal))
    for parent in parents:
        yield w.q(s, "eco:directlyWithin", parent)
    for prop, target in EXTERNAL_LINKS.get((kind, code), ()):
        yield w.q(s, prop, iri(target))
    yield w.q(s, "prov:wasDerivedFrom", record)
    yield w.q(record, "rdf:type", w.t("eco:DataRecord"))
    yield w.q(record, "eco:recordKey", literal(code))
    yield w.q(record, "prov:wasQuotedFrom", w.document(stem))
    for field, indicator, suffix, wording in POPULATION_FIELDS.get(kind, ()):
        raw = rec.get(field)
        if raw is None:
            continue  # a handful of communes (TAAF, Clipperton) have no population
        if not str(raw).isdigit():
            raise ValueError(f"{stem}.json {code}: {field} is not a whole number: {raw!r}")
        o = w.id("observation", DATASET, f"{kind}-{code}-{suffix}")
        yield w.q(o, "rdf:type", w.t("eco:Observation"))
        yield w.q(o, "rdfs:label", literal(f"{wording} of {name}: {raw}", lang="en"))
        yield w.q(o, "qb:dataSet", w.dataset)
        yield w.q(o, "eco:refArea", s)
        yield w.q(o, "eco:areaResolution", w.t("eco:areaExplicit"))
        yield w.q(o, "eco:refPeriod", w.t("id:period/unspecified"))
        yield w.q(o, "eco:indicator", w.t(f"id:indicator/{indicator}"))
        yield w.q(o, "eco:industry", w.t("id:industry/all-activities"))
        yield w.q(o, "eco:obsValue", literal(int(raw)))
        yield w.q(o, "eco:unit", w.t("unit:NUM"))
        yield w.q(o, "eco:statedValueText", literal(str(raw)))
        yield w.q(o, "eco:valueQualifier", w.t("eco:valueAsStated"))
        yield w.q(o, "eco:qualityFlag", w.t("eco:vintageNotStated"))
        yield w.q(o, "eco:qualityFlag", w.t("eco:periodUnspecified"))
        yield w.q(o, "dcterms:source", w.source)
        yield w.q(o, "prov:hadPrimarySource", w.source)
        yield w.q(o, "prov:wasDerivedFrom", record)
        yield w.q(o, "prov:wasGeneratedBy", w.activity)


def _provenance(w: _Writer, sha256: Mapping[str, str]) -> Iterator[str]:
    """The package as a source, its publisher, its data files, the data set and indicators."""
    v, src = w.version, w.source
    millesime = MILLESIMES.get(v)
    if millesime is None:
        log.warning("no millésime recorded for @etalab/decoupage-administratif %s", v)
    etalab = w.id("organization", "etalab")
    yield w.q(etalab, "rdf:type", w.t("eco:PublicBody"))
    yield w.q(etalab, "rdfs:label", literal("Etalab", lang="fr"))
    yield w.q(src, "rdf:type", w.t("eco:StatisticalSource"))
    yield w.q(src, "dcterms:title", literal(f"@etalab/decoupage-administratif {v}"))
    yield w.q(src, "owl:versionInfo", literal(v))
    yield w.q(src, "dcterms:license", iri("https://spdx.org/licenses/MIT"))
    yield w.q(src, "dcterms:publisher", etalab)
    yield w.q(src, "dcterms:description", literal(
        f"Etalab's npm package @etalab/decoupage-administratif {v}: the French administrative "
        f"geography, {f'millésime {millesime}' if millesime else 'millésime not recorded'} per its "
        "README, from INSEE's Code officiel géographique, the DGCL list of EPCI à fiscalité propre, "
        "INSEE's populations légales and La Poste's postal codes. The package licence is MIT; the README puts the data "
        "under the Licence Ouverte. The data files do not state the vintage of the populations.",
        lang="en"))
    for stem in FILES:
        doc = w.document(stem)
        yield w.q(doc, "rdf:type", w.t("eco:SourceDocument"))
        yield w.q(doc, "dcterms:identifier", literal(f"data/{stem}.json"))
        yield w.q(doc, "dcterms:title", literal(f"{stem}.json of @etalab/decoupage-administratif {v}"))
        yield w.q(doc, "dcterms:source", src)
        yield w.q(doc, "dcterms:license", iri(DATA_LICENCE))
        yield w.q(doc, "eco:sha256", literal(sha256[stem]))
        yield w.q(w.activity, "prov:used", doc)
    yield w.q(w.activity, "rdf:type", w.t("eco:ExtractionActivity"))
    yield w.q(w.activity, "rdfs:label", literal(f"Import of @etalab/decoupage-administratif {v}", lang="en"))
    yield w.q(w.activity, "prov:used", src)
    yield w.q(w.dataset, "rdf:type", w.t("qb:DataSet"))
    yield w.q(w.dataset, "dcterms:title", literal(
        f"Populations in @etalab/decoupage-administratif {v}", lang="en"))
    yield w.q(w.dataset, "qb:structure", w.t("eco:dsd-indicators"))
    yield w.q(w.dataset, "dcterms:source", src)
    for slug, (en, fr, definition) in INDICATORS.items():
        ind = w.t(f"id:indicator/{slug}")
        yield w.q(ind, "rdf:type", w.t("eco:Indicator"))
        yield w.q(ind, "rdf:type", w.t("skos:Concept"))
        yield w.q(ind, "skos:inScheme", w.t("id:scheme/indicators"))
        yield w.q(ind, "skos:prefLabel", literal(en, lang="en"))
        yield w.q(ind, "skos:prefLabel", literal(fr, lang="fr"))
        yield w.q(ind, "skos:definition", literal(definition, lang="en"))
