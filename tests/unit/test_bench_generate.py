"""bench/generate.py: deterministic, SHACL-clean, near its target size (no timings here)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from bench import generate
from service.build import curated, shacl
from service.build.pipeline import ONTOLOGY_FILES, _as_triple
from service.iris import DEFAULT_BASE, Namespaces

ROOT = Path(__file__).resolve().parents[2]
CODES = ["59350", "59009", "62041", "75056"]


def _digest(**kw: object) -> str:
    h = hashlib.sha256()
    for line in generate.generate(**kw):  # type: ignore[arg-type]
        h.update(line.encode())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert _digest(triples=2000, seed=7, commune_codes=CODES) == _digest(triples=2000, seed=7, commune_codes=CODES)
    assert _digest(triples=2000, seed=7, commune_codes=CODES) != _digest(triples=2000, seed=8, commune_codes=CODES)


def test_gzip_file_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.nq.gz", tmp_path / "b.nq.gz"
    generate.write(a, 3000, 1)
    generate.write(b, 3000, 1)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("target", [20_000, 100_000])
def test_triple_count_near_target(target: int) -> None:
    n = sum(1 for _ in generate.generate(target, 1, commune_codes=CODES))
    assert 0.85 * target <= n <= 1.15 * target


def test_tiny_sample_passes_the_project_shacl_checks() -> None:
    ns = Namespaces(DEFAULT_BASE)
    onto = ns.graph("ontology")
    lines: list[str] = []
    for name in ONTOLOGY_FILES:
        lines += curated.turtle_lines(ROOT / "ontology" / name, ns, onto)[0]
    store = ox.Store()
    store.bulk_load(("\n".join(lines) + "\n").encode(), format=ox.RdfFormat.N_QUADS)
    g = f"<{ns.graph('backbone')}>"
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    for code in CODES:  # the communes the sample points at (the build takes them from the backbone)
        for cls in ("Commune", "Place"):
            store.add(ox.Quad(ox.NamedNode(ns.mint("commune", code)), rdf_type, ox.NamedNode(ns.eco(cls)),
                              ox.NamedNode(ns.graph("backbone"))))
        for prop, value in (("http://www.w3.org/2000/01/rdf-schema#label", ox.Literal(code)),
                            (ns.eco("inseeCode"), ox.Literal(code))):
            store.add(ox.Quad(ox.NamedNode(ns.mint("commune", code)), ox.NamedNode(prop), value,
                              ox.NamedNode(ns.graph("backbone"))))
    sample = "".join(generate.generate(2000, 1, commune_codes=CODES))
    store.bulk_load(sample.encode(), format=ox.RdfFormat.N_QUADS)
    shapes = Graph().parse(data="\n".join(_as_triple(line) for line in lines), format="nt")
    checks = shacl.compile_shapes(shapes, prefixes=ns.prefixes())
    report = shacl.validate(store, checks)
    assert report.violations == [], report.text()
    companies = list(store.query(f"SELECT ?c {{ ?c a <{ns.eco('Company')}> }}", use_default_graph_as_union=True))
    assert companies
