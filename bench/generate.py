"""Deterministic synthetic data in the project's own ontology, at France's real shape.

Reuses the real official geography (communes of ``@etalab/decoupage-administratif``,
all of France) and adds, in graph ``{BASE}graph/bench``: a NACE-like industry hierarchy
(sections → divisions → groups), competitiveness clusters, companies (sector, site,
headcount observation, cluster memberships) and yearly observations with sources and
provenance. The geography itself is *not* emitted here: the build adds it (backbone).

Streams N-Quads (gzipped, ``mtime=0``): constant memory; same seed → same bytes.

    python -m bench.generate --triples 100000 --seed 1 --out bench/data/bench-100k.nq.gz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from service.build.ntriples import iri, literal, quad
from service.iris import DEFAULT_BASE, Namespaces

PACKAGE = Path(__file__).resolve().parent.parent / "node_modules" / "@etalab" / "decoupage-administratif"
YEARS = tuple(range(2015, 2025))
SECTIONS = "ABCDEFGHIJKLMNOPQRSTU"
INDICATORS = ("employment", "establishments", "turnover-keur")
#: Rough triple cost of one company with its headcount observation, plus its yearly observations.
_COMPANY_TRIPLES = 10 + 12
_OBS_TRIPLES = 15


def communes(package: Path = PACKAGE) -> list[str]:
    """Codes of current communes, sorted (the same list the backbone imports)."""
    data = json.loads((package / "data" / "communes.json").read_text(encoding="utf-8"))
    return sorted(r["code"] for r in data if r.get("type") == "commune-actuelle")


class _W:
    def __init__(self, ns: Namespaces) -> None:
        self.ns, self.g = ns, iri(ns.graph("bench"))
        self._t: dict[str, str] = {}

    def t(self, curie: str) -> str:
        term = self._t.get(curie)
        if term is None:
            term = self._t[curie] = iri(self.ns.expand(curie))
        return term

    def id(self, kind: str, *keys: str) -> str:
        return "<" + self.ns.mint(kind, *keys) + ">"

    def q(self, s: str, p: str, o: str) -> str:
        return f"{s} {self.t(p)} {o} {self.g} .\n"


def plan(triples: int) -> dict[str, int]:
    """How many of each thing make about ``triples`` triples."""
    fixed = 3_000
    companies = max(20, (triples - fixed) // (_COMPANY_TRIPLES + 2 * _OBS_TRIPLES))
    clusters = max(5, min(200, companies // 200))
    return {"companies": companies, "clusters": clusters, "obs_per_company": 2}


def generate(triples: int, seed: int = 1, base: str = DEFAULT_BASE,
             commune_codes: list[str] | None = None) -> Iterator[str]:
    """N-Quads lines (with newline) for about ``triples`` triples."""
    rng = random.Random(seed)
    ns, codes = Namespaces(base), commune_codes if commune_codes is not None else communes()
    w, p = _W(ns), plan(triples)
    src, ds = w.id("source", "bench-synthetic"), w.id("dataset", "bench-synthetic")
    doc = w.id("document", "bench-synthetic", "registry.csv")
    yield w.q(src, "rdf:type", w.t("eco:StatisticalSource"))
    yield w.q(src, "dcterms:title", literal("Synthetic benchmark registry"))
    yield w.q(src, "eco:citationAsStated", literal("Synthetic benchmark registry"))
    yield w.q(doc, "rdf:type", w.t("eco:SourceDocument"))
    yield w.q(doc, "dcterms:title", literal("registry.csv (synthetic)"))
    yield w.q(doc, "dcterms:identifier", literal("registry.csv"))
    yield w.q(doc, "dcterms:source", src)
    yield w.q(doc, "eco:sha256", literal(hashlib.sha256(f"bench-{seed}-{triples}".encode()).hexdigest()))
    yield w.q(ds, "rdf:type", w.t("qb:DataSet"))
    yield w.q(ds, "dcterms:title", literal("Synthetic benchmark figures", lang="en"))
    yield w.q(ds, "qb:structure", w.t("eco:dsd-indicators"))
    for slug in INDICATORS:
        ind = w.id("indicator", f"bench-{slug}")
        yield w.q(ind, "rdf:type", w.t("eco:Indicator"))
        yield w.q(ind, "rdf:type", w.t("skos:Concept"))
        yield w.q(ind, "skos:inScheme", w.t("id:scheme/indicators"))
        yield w.q(ind, "skos:prefLabel", literal(slug.replace("-", " ").capitalize(), lang="en"))
    for year in YEARS:
        per = w.t(f"id:period/{year}")
        yield w.q(per, "rdf:type", w.t("eco:ReferencePeriod"))
        yield w.q(per, "eco:year", literal(year))
        yield w.q(per, "rdfs:label", literal(str(year)))
    # Industries: 21 sections, 4 divisions each, 4 groups per division.
    scheme = w.id("scheme", "bench-nace")
    yield w.q(scheme, "rdf:type", w.t("skos:ConceptScheme"))
    yield w.q(scheme, "rdfs:label", literal("NACE-like (synthetic)", lang="en"))
    groups: list[str] = []

    def industry(code: str, parent: str | None) -> Iterator[str]:
        s = w.id("industry", f"nace-{code}")
        yield w.q(s, "rdf:type", w.t("eco:Industry"))
        yield w.q(s, "rdf:type", w.t("skos:Concept"))
        yield w.q(s, "skos:inScheme", scheme)
        yield w.q(s, "skos:notation", literal(code))
        yield w.q(s, "skos:prefLabel", literal(f"Industry {code}", lang="en"))
        if parent:
            yield w.q(s, "skos:broader", parent)

    for si, sec in enumerate(SECTIONS):
        yield from industry(sec, None)
        for d in range(4):
            div = f"{si * 4 + d + 10:02d}"
            yield from industry(div, w.id("industry", f"nace-{sec}"))
            for g in range(4):
                grp = f"{div}.{g + 1}"
                yield from industry(grp, w.id("industry", f"nace-{div}"))
                groups.append(grp)
    clusters = []
    for c in range(p["clusters"]):
        s = w.id("organization", f"bench-cluster-{c:04d}")
        clusters.append(s)
        yield w.q(s, "rdf:type", w.t("eco:CompetitivenessCluster"))
        yield w.q(s, "rdfs:label", literal(f"Cluster {c:04d}", lang="fr"))
        yield w.q(s, "eco:locatedIn", w.id("commune", rng.choice(codes)))
        for grp in sorted(set(rng.sample(groups, 3))):
            yield w.q(s, "eco:servesIndustry", w.id("industry", f"nace-{grp}"))
    for n in range(p["companies"]):
        key = f"bench-company-{n:08d}"
        s, rec = w.id("organization", key), w.id("record", "bench-synthetic", key)
        grp, commune = rng.choice(groups), w.id("commune", rng.choice(codes))
        yield w.q(s, "rdf:type", w.t("eco:Company"))
        yield w.q(s, "rdfs:label", literal(f"Company {n:08d}", lang="fr"))
        yield w.q(s, "eco:sirenNumber", literal(f"{900000000 + n:09d}"[-9:]))
        yield w.q(s, "eco:activeInIndustry", w.id("industry", f"nace-{grp}"))
        yield w.q(s, "eco:locatedIn", commune)
        if rng.random() < 0.3:
            yield w.q(s, "org:memberOf", rng.choice(clusters))
        yield w.q(s, "prov:wasDerivedFrom", rec)
        yield w.q(rec, "rdf:type", w.t("eco:DataRecord"))
        yield w.q(rec, "eco:recordKey", literal(key))
        yield w.q(rec, "prov:wasQuotedFrom", doc)
        head = rng.randint(1, 5000)
        yield from _obs(w, f"{key}-headcount", "employment", grp, commune, rng.choice(YEARS), head, ds, src, rec,
                        org=s)
        for k in range(p["obs_per_company"]):
            year, ind = rng.choice(YEARS), INDICATORS[(n + k) % len(INDICATORS)]
            yield from _obs(w, f"{key}-{k}", ind, grp, commune, year, rng.randint(1, 100000), ds, src, rec)


def _obs(w: _W, key: str, indicator: str, grp: str, area: str, year: int, value: int,
         ds: str, src: str, rec: str, org: str | None = None) -> Iterator[str]:
    o = w.id("observation", "bench", key)
    yield w.q(o, "rdf:type", w.t("eco:Observation"))
    yield w.q(o, "qb:dataSet", ds)
    yield w.q(o, "eco:indicator", w.id("indicator", f"bench-{indicator}"))
    yield w.q(o, "eco:industry", w.id("industry", f"nace-{grp}"))
    if org:  # a figure is about a place or an organisation, never both (ecosh:ObservationSubjectShape)
        yield w.q(o, "eco:refOrganization", org)
    else:
        yield w.q(o, "eco:refArea", area)
        yield w.q(o, "eco:areaResolution", w.t("eco:areaExplicit"))
    yield w.q(o, "eco:refPeriod", w.t(f"id:period/{year}"))
    yield w.q(o, "eco:obsValue", literal(value))
    yield w.q(o, "eco:unit", w.t("unit:NUM"))
    yield w.q(o, "eco:statedValueText", literal(str(value)))
    yield w.q(o, "eco:valueQualifier", w.t("eco:valueAsStated"))
    yield w.q(o, "dcterms:source", src)
    yield w.q(o, "prov:hadPrimarySource", src)
    yield w.q(o, "prov:wasDerivedFrom", rec)


def write(path: Path, triples: int, seed: int = 1, base: str = DEFAULT_BASE) -> tuple[int, float]:
    """Write the gzipped N-Quads; returns (lines, seconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    started, n, buf = time.perf_counter(), 0, []
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=3,
                                                filename="") as fh:
        for line in generate(triples, seed, base):
            buf.append(line)
            n += 1
            if len(buf) >= 10_000:
                fh.write("".join(buf).encode())
                buf.clear()
        fh.write("".join(buf).encode())
    return n, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--triples", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base", default=DEFAULT_BASE)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    out = a.out or Path(__file__).parent / "data" / f"bench-{a.triples}-s{a.seed}.nq.gz"
    n, secs = write(out, a.triples, a.seed, a.base)
    print(f"{out}: {n:,} quads in {secs:.1f}s ({n / secs:,.0f} triples/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
