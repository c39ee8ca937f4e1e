"""The build: named graphs, inference, IRI stability, determinism, dumps, CLI and serving."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from service import create_app
from tests.graph.helpers import ask, select

ROOT = Path(__file__).resolve().parents[2]
SMALL_BACKBONE = ROOT / "tests" / "data" / "decoupage"  # a few communes: fast builds


def test_named_graphs(built_kg: Any) -> None:
    graphs = set(built_kg.triples_per_graph)
    expected = {"http://kg.test/graph/" + g for g in (
        "ontology", "reference", "backbone", "inferred", "metadata",
        "document/000_536db8c375fb4130", "document/003_3909a56f0ba71a0f")}
    assert graphs == expected
    assert all(n > 0 for n in built_kg.triples_per_graph.values())


def test_backbone_is_attached(kg_store: Any) -> None:
    assert ask(kg_store, "ASK { id:commune/59350 eco:withinTerritory id:region/32 , id:epci/200093201 }")
    assert ask(kg_store, "ASK { id:region/32 eco:containsPlace id:commune/62528 }")
    rows = select(kg_store, "SELECT (COUNT(?c) AS ?n) { ?c a eco:Commune ; eco:withinTerritory id:region/32 }")
    assert 3700 < int(rows[0]["n"].split('"')[1]) < 3900


def test_inferred_types_and_closures_are_in_their_own_graph(kg_store: Any) -> None:
    assert ask(kg_store, "ASK { GRAPH <http://kg.test/graph/inferred> { id:commune/59350 a eco:Territory } }")
    assert not ask(kg_store, "ASK { GRAPH <http://kg.test/graph/backbone> { id:commune/59350 a eco:Territory } }")


def test_no_iri_outside_the_configured_base(dumps_dir: Path) -> None:
    with gzip.open(dumps_dir / "territory-kg.nq.gz", "rt", encoding="utf-8") as fh:
        text = fh.read()
    assert "data.example.org" not in text
    assert "<http://kg.test/id/commune/59350>" in text


def test_dumps_parse_and_match_their_checksums(dumps_dir: Path, built_kg: Any) -> None:
    for name, digest in built_kg.dumps.items():
        data = (dumps_dir / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        assert (dumps_dir / f"{name}.sha256").read_text().split()[0] == digest
    quads = list(ox.parse(gzip.decompress((dumps_dir / "territory-kg.nq.gz").read_bytes()),
                          format=ox.RdfFormat.N_QUADS))
    assert len(quads) == sum(built_kg.triples_per_graph.values())
    triples = list(ox.parse(gzip.decompress((dumps_dir / "territory-kg.ttl.gz").read_bytes()),
                            format=ox.RdfFormat.TURTLE))
    jsonld = list(ox.parse(gzip.decompress((dumps_dir / "territory-kg.jsonld.gz").read_bytes()),
                           format=ox.RdfFormat.JSON_LD))
    assert len(triples) == len(jsonld) > 10_000


def test_extra_nquads_are_sorted_on_disk_and_dumped_once(kg_config: dict[str, Any], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The build keeps large graphs in files (service.build.spill), sorted in runs, and writes
    # the dumps by merging them: unsorted input with repeats, in two graphs sharing a triple,
    # must come out as the in-memory sort of every line would have it. With runs of 7 lines,
    # every graph and inferred part of more than 7 lines is merged from runs on disk.
    from service.build import spill
    from service.build.pipeline import _as_triple, build, compile_inputs

    monkeypatch.setattr(spill, "RUN_LINES", 7)

    desc = "<http://purl.org/dc/terms/description>"
    lines = [f'<http://kg.test/id/thing/{i % 7}> {desc} "n{i % 5}" <http://kg.test/graph/bench> .'
             for i in range(40)]  # 35 distinct
    lines += ['<http://kg.test/id/thing/0> <http://purl.org/dc/terms/description> "n0" <http://kg.test/graph/extra> .',
              '<http://kg.test/id/thing/9> <http://purl.org/dc/terms/description> "é" <http://kg.test/graph/extra> .']
    extra = tmp_path / "extra.nq.gz"
    extra.write_bytes(gzip.compress("".join(line + "\n" for line in reversed(lines)).encode()))
    cfg = {**kg_config, "STORE_PATH": str(tmp_path / "store"), "DUMPS_DIR": str(tmp_path / "dumps"),
           "BACKBONE_PACKAGE_DIR": str(SMALL_BACKBONE), "EXTRA_NQUADS": [str(extra)]}
    summary = build(cfg)
    assert not (tmp_path / "store.work").exists()  # the build's files are gone
    assert summary.triples_per_graph["http://kg.test/graph/bench"] == 35
    assert summary.triples_per_graph["http://kg.test/graph/extra"] == 2

    dumped = gzip.decompress((tmp_path / "dumps" / "territory-kg.nq.gz").read_bytes()).decode().splitlines()
    inferred = [line for line in dumped if line.endswith(" <http://kg.test/graph/inferred> .")]
    in_memory = [line for graph_lines in compile_inputs(cfg).values() for line in graph_lines]
    assert dumped == sorted(in_memory + inferred)
    assert all(dumped.count(line) == 1 for line in set(lines))

    turtle = ox.parse(gzip.decompress((tmp_path / "dumps" / "territory-kg.ttl.gz").read_bytes()),
                      format=ox.RdfFormat.TURTLE)
    asserted = {_as_triple(line) for line in dumped if line not in set(inferred)}
    assert {f"{t} ." for t in turtle} == asserted
    shared = '<http://kg.test/id/thing/0> <http://purl.org/dc/terms/description> "n0"'
    assert sum(line.startswith(shared) for line in dumped) == 2 and f"{shared} ." in asserted


def test_cli_build_is_deterministic_and_iris_are_stable(kg_config: dict[str, Any], built_kg: Any,
                                                        tmp_path: Path) -> None:
    """A second build, through the command line, gives the same dumps byte for byte."""
    app = create_app({**kg_config, "STORE_PATH": str(tmp_path / "store"), "DUMPS_DIR": str(tmp_path / "dumps")})
    result = app.test_cli_runner().invoke(args=["build", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Observations:" in result.output and "SHACL: conforms" in result.output
    assert "ecosh:PeriodWarningShape" in result.output
    for name, digest in built_kg.dumps.items():
        assert hashlib.sha256((tmp_path / "dumps" / name).read_bytes()).hexdigest() == digest, name
    info = json.loads((tmp_path / "build-info.json").read_text())
    assert info["base"] == "http://kg.test/"


def test_cli_build_reports_a_broken_input(kg_config: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "graph_data"
    subprocess.run(["cp", "-r", str(ROOT / "graph_data"), str(data)], check=True)
    doc = next((data / "documents").iterdir()) / "observations.csv"
    doc.write_text(doc.read_text(encoding="utf-8").replace("unit:", "unnit:", 1), encoding="utf-8")
    app = create_app({**kg_config, "DATA_DIR": str(data), "STORE_PATH": str(tmp_path / "store"),
                      "DUMPS_DIR": str(tmp_path / "dumps"), "BACKBONE_PACKAGE_DIR": str(SMALL_BACKBONE)})
    result = app.test_cli_runner().invoke(args=["build"])
    assert result.exit_code == 1
    assert "observations.csv" in result.output and "unnit:" in result.output
    assert not (tmp_path / "store").exists()


def test_a_shacl_violation_fails_the_build_and_names_resource_and_rule(kg_config: dict[str, Any],
                                                                       tmp_path: Path) -> None:
    data = tmp_path / "graph_data"
    subprocess.run(["cp", "-r", str(ROOT / "graph_data"), str(data)], check=True)
    obs = data / "documents" / "000_536db8c375fb4130" / "observations.csv"
    text = obs.read_text(encoding="utf-8")
    assert ",40%,40,unit:PERCENT," in text
    obs.write_text(text.replace(",40%,40,unit:PERCENT,", ",40%,140,unit:PERCENT,", 1), encoding="utf-8")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "marker").write_text("the live store")
    (tmp_path / "dumps").mkdir()
    (tmp_path / "dumps" / "territory-kg.nq.gz").write_text("the published dump")
    app = create_app({**kg_config, "DATA_DIR": str(data), "STORE_PATH": str(tmp_path / "store"),
                      "DUMPS_DIR": str(tmp_path / "dumps"), "BACKBONE_PACKAGE_DIR": str(SMALL_BACKBONE)})
    result = app.test_cli_runner().invoke(args=["build"])
    assert result.exit_code == 1, result.output
    assert "SHACL validation failed" in result.output
    assert "VIOLATION" in result.output and "obsValue" in result.output, result.output[:3000]
    assert "/id/observation/000_536db8c375fb4130/" in result.output
    assert (tmp_path / "store" / "marker").read_text() == "the live store"  # untouched
    # the dumps were being written on another thread: the published ones stay, the staged ones go
    assert [p.name for p in (tmp_path / "dumps").iterdir()] == ["territory-kg.nq.gz"]
    assert (tmp_path / "dumps" / "territory-kg.nq.gz").read_text() == "the published dump"
    assert not (tmp_path / "dumps.new").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_sparql_over_http(kg_config: dict[str, Any], built_kg: Any) -> None:
    """``territory-kg serve`` (what ``make run`` ends with) answers SELECT and ASK on the built store."""
    port = _free_port()
    env = {**os.environ, "KG_STORE_PATH": kg_config["STORE_PATH"], "KG_BASE_URI": "http://kg.test/", "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/sparql"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        query = ("PREFIX eco: <http://kg.test/def/eco#> SELECT (COUNT(?o) AS ?n) "
                 "{ ?o a eco:Observation ; eco:obsValue ?v }")
        req = urllib.request.Request(url + "?" + urllib.parse.urlencode({"query": query}),
                                     headers={"Accept": "application/sparql-results+json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = json.load(resp)
        assert int(body["results"]["bindings"][0]["n"]["value"]) > 50
        post = urllib.request.Request(url, data=urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}).encode(),
                                      headers={"Accept": "application/sparql-results+json",
                                               "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(post, timeout=10) as resp:
            assert json.load(resp)["boolean"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()
