"""``territory-kg build``: ontology and data into the on-disk store, checked, with dumps.

Steps, each reported through the ``progress`` callback:

1. compile every input to sorted N-Quads, one named graph per source (ontology,
   reference, each source document, the official geography backbone, metadata);
2. bulk-load them into a fresh store next to the live one (on every core: :func:`_load`);
3. materialise inferences (:mod:`service.build.inference`) into the inferred graph;
4. validate with the SHACL shapes compiled to SPARQL (:mod:`service.build.shacl`): a
   violation stops the build with a report naming the resource and the rule;
5. write dumps with ``.sha256`` files (deterministic: same input, same bytes), on two more
   threads while step 4 runs, into a staging folder published only when validation passed;
6. swap the new store in place of the old one.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox
from rdflib import Graph

from service import __version__
from service.build import backbone, curated, fixpoint, inference, shacl, spill
from service.build.ntriples import iri, literal, quad
from service.config import backbone_regions, namespaces
from service.iris import Namespaces

__all__ = ["BuildError", "BuildSummary", "build", "compile_inputs"]

log = logging.getLogger(__name__)

ONTOLOGY_FILES = ("eco.ttl", "eco-cube.ttl", "alignments.ttl", "shapes.ttl")
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
#: gzip level of the dumps. 6 (gzip's default): the 448 MB N-Quads of the 100k benchmark store
#: compress to 11.75 MB in 1.6 s, against 10.27 MB in 5.8 s at 9 (bench/RESULTS.md).
DUMP_GZIP_LEVEL = 6
#: Bulk loads side by side. pyoxigraph's loader parses on the calling thread and encodes batches
#: of a million quads on two others: a file of under two million lines keeps one core busy most
#: of the time, so it is cut into pieces loaded side by side. The 100k benchmark store's 1.21M
#: asserted and 0.97M inferred quads load in 9.6 + 8.4 s in one call each, 6.8 + 4.7 s in two
#: pieces each. Larger files are loaded whole: at 10M triples, cutting them saved nothing and
#: took the build's peak memory from 3.0 to 4.1 GB (bench/RESULTS.md).
LOAD_THREADS = max(1, min(4, len(os.sched_getaffinity(0))))
#: Quads per batch of pyoxigraph's bulk loader (oxigraph's ``DEFAULT_BULK_LOAD_BATCH_SIZE``).
LOADER_BATCH = 1_000_000
#: The files a build publishes in ``DUMPS_DIR`` (each with a ``.sha256``).
DUMPS = ("territory-kg.nq.gz", "territory-kg.ttl.gz", "territory-kg.jsonld.gz", "ontology.ttl")


class BuildError(RuntimeError):
    """The build cannot go on; the message says why (and the store is left untouched)."""


@dataclass
class BuildSummary:
    """What a build produced."""

    triples_per_graph: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    observations: int = 0
    inferred: dict[str, int] = field(default_factory=dict)
    warnings: int = 0
    warnings_per_shape: dict[str, int] = field(default_factory=dict)
    dumps: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        """A human summary."""
        lines = ["Triples per graph:"]
        lines += [f"  {n:>9,}  {g}" for g, n in sorted(self.triples_per_graph.items())]
        lines.append(f"  {sum(self.triples_per_graph.values()):>9,}  total")
        lines.append("Instances per class (eco:, including inferred types):")
        lines += [f"  {n:>9,}  {c}" for c, n in sorted(self.classes.items(), key=lambda kv: (-kv[1], kv[0]))]
        lines.append(f"Observations: {self.observations:,}")
        lines.append("Inferred: " + ", ".join(f"{k} {v:,}" for k, v in self.inferred.items()))
        lines.append(f"SHACL: conforms, {self.warnings:,} warnings (what the sources leave out, flagged):")
        lines += [f"  {n:>9,}  {shape}" for shape, n in sorted(self.warnings_per_shape.items())]
        lines.append("Dumps: " + ", ".join(f"{name} ({digest[:12]}…)" for name, digest in self.dumps.items()))
        lines.append("Timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()))
        return "\n".join(lines)


Progress = Callable[[str], None]
#: The sorted lines of a graph: in memory, or on disk (:mod:`service.build.spill`) in a build.
Lines = list[str] | spill.LineFile


def _quiet(_: str) -> None:
    return None


def compile_inputs(cfg: Mapping[str, Any], progress: Progress = _quiet,
                   workdir: Path | None = None) -> dict[str, Lines]:
    """Every input as N-Quads lines, per named graph (sorted, deduplicated): lists, or with
    ``workdir`` files there (what a build does: at 17M triples, lists cost gigabytes).

    :raises curated.CurationError: on a problem in a curated file.
    :raises BuildError: if an input folder or the backbone package is missing.
    """
    ns = namespaces(cfg)
    ontology_dir, data_dir = Path(cfg["ONTOLOGY_DIR"]), Path(cfg["DATA_DIR"])
    graphs: dict[str, list[str]] = {}

    onto = ns.graph("ontology")
    graphs[onto] = []
    for name in ONTOLOGY_FILES:
        path = ontology_dir / name
        if not path.exists():
            raise BuildError(f"missing ontology file {path}")
        graphs[onto] += curated.turtle_lines(path, ns, onto)[0]
    progress(f"ontology: {len(graphs[onto]):,} triples")

    ref = ns.graph("reference")
    graphs[ref] = []
    for path in sorted((data_dir / "reference").glob("*.ttl")):
        graphs[ref] += curated.turtle_lines(path, ns, ref)[0]
    if (data_dir / "reference" / "mappings.csv").exists():
        graphs[ref] += curated.mapping_lines(data_dir / "reference" / "mappings.csv", ns, ref)
    progress(f"reference: {len(graphs[ref]):,} triples")

    sums = curated.read_checksums(data_dir / "sources" / "SHA256SUMS")
    for path in sorted((data_dir / "sources").glob("*.txt")):
        source = curated.SourceText.read(path, sums.get(path.name))
        folder = data_dir / "documents" / source.stem
        if not folder.is_dir():
            raise BuildError(f"no curated facts for source document {path.name} (expected {folder})")
        lines = curated.DocumentCompiler(ns, source, folder).compile()
        graphs[ns.graph("document", source.stem)] = lines
        progress(f"document {source.stem}: {len(lines):,} triples")

    package = Path(cfg["BACKBONE_PACKAGE_DIR"])
    if not (package / "data" / "communes.json").exists():
        raise BuildError(f"official geography package not found at {package}: run 'npm ci' (the Makefile does)")
    started = time.perf_counter()
    graphs[ns.graph("backbone")] = list(backbone.backbone_lines(package, ns, regions=backbone_regions(cfg)))
    progress(f"backbone ({backbone.package_version(package)}): {len(graphs[ns.graph('backbone')]):,} triples "
             f"in {time.perf_counter() - started:.1f}s")

    compiled: dict[str, Lines] = {}
    for graph, lines in graphs.items():
        compiled[graph] = _sorted(lines, graph, workdir)
    del graphs
    extras = cfg.get("EXTRA_NQUADS") or ()  # benchmark data (bench/generate.py): N-Quads, maybe gzipped
    if extras:
        compiled[ns.graph("bench")] = _sorted(_read_extra(extras), ns.graph("bench"), workdir)
        progress(f"extra N-Quads: {len(compiled[ns.graph('bench')]):,} lines")
    compiled[ns.graph("metadata")] = _sorted(_metadata_lines(ns, compiled), ns.graph("metadata"), workdir)
    return compiled


def _read_extra(paths: Iterable[str | Path]) -> Iterator[str]:
    for extra in paths:
        opener = gzip.open if str(extra).endswith(".gz") else open
        with opener(extra, "rt", encoding="utf-8") as fh:
            yield from (line.rstrip("\n") for line in fh if line.strip())


def _sorted(lines: Iterable[str], graph: str, workdir: Path | None) -> Lines:
    if workdir is None:
        return sorted(set(lines))
    name = hashlib.sha256(graph.encode()).hexdigest()[:16] + ".nq"
    return spill.sort_lines(lines, workdir / name, keep=spill.KEEP_LINES)


def _metadata_lines(ns: Namespaces, graphs: Mapping[str, Lines]) -> list[str]:
    """The dataset's own description: title, licence, version and its graphs."""
    g = iri(ns.graph("metadata"))
    ds = iri(f"{ns.base}dataset")
    dct, void = "http://purl.org/dc/terms/", "http://rdfs.org/ns/void#"
    lines = [
        quad(ds, iri(RDF_TYPE), iri(void + "Dataset"), g),
        quad(ds, iri(dct + "title"), literal("territory-kg: the Hauts-de-France economy", lang="en"), g),
        quad(ds, iri(dct + "title"), literal("territory-kg : l'économie des Hauts-de-France", lang="fr"), g),
        quad(ds, iri(dct + "license"), iri("https://creativecommons.org/licenses/by/4.0/"), g),
        quad(ds, iri("http://www.w3.org/2002/07/owl#versionInfo"), literal(__version__), g),
        quad(ds, iri(void + "sparqlEndpoint"), iri(f"{ns.base}sparql"), g),
        quad(ds, iri(void + "uriSpace"), literal(ns.id_ns), g),
    ]
    for graph_iri, graph_lines in sorted(graphs.items()):
        lines.append(quad(ds, iri(void + "subset"), iri(graph_iri), g))
        lines.append(quad(iri(graph_iri), iri(void + "triples"), literal(len(graph_lines)), g))
    return lines


def build(cfg: Mapping[str, Any], progress: Progress = _quiet) -> BuildSummary:
    """Build the store at ``STORE_PATH`` and the dumps in ``DUMPS_DIR``.

    The new store is built next to the live one and swapped in only when everything
    passed, so a failed build leaves the served data untouched.

    :raises BuildError: with a readable report when validation fails or an input is wrong.
    """
    ns = namespaces(cfg)
    summary = BuildSummary()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[name] = now - clock
        clock = now

    store_path = Path(cfg["STORE_PATH"])
    # The sorted lines of every graph, on disk while the build runs.
    workdir = store_path.with_name(store_path.name + ".work")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        return _build(cfg, ns, summary, store_path, workdir, lap, progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _build(cfg: Mapping[str, Any], ns: Namespaces, summary: BuildSummary, store_path: Path, workdir: Path,
           lap: Callable[[str], None], progress: Progress) -> BuildSummary:
    try:
        graphs = compile_inputs(cfg, progress, workdir)
    except curated.CurationError as exc:
        raise BuildError(f"curated data: {exc}") from None
    lap("compile")

    staging = store_path.with_name(store_path.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    store = ox.Store(str(staging))
    try:
        _load(store, graphs.values())
        progress(f"loaded {sum(len(v) for v in graphs.values()):,} quads")
        lap("load")

        inferred = _infer(store, ns, summary, progress, workdir)
        lap("inference")

        # The dumps need only the lines, so they are written (to a staging folder, published
        # below) on other threads while SHACL runs, and the counts are taken alongside: gzip
        # and the engine release the GIL.
        dumps_dir = Path(cfg["DUMPS_DIR"])
        dumps_staging = dumps_dir.with_name(dumps_dir.name + ".new")
        cancel = threading.Event()
        with ThreadPoolExecutor(2, thread_name_prefix="dumps") as pool:
            dumps_job = pool.submit(_write_dumps, dumps_staging, graphs, inferred, ns, workdir, progress, cancel)
            count_job = pool.submit(_count, store, ns, summary)
            try:
                _validate(store, ns, list(graphs[ns.graph("ontology")]), summary, progress)
                lap("validation")
                count_job.result()
                store.flush()
                store.optimize()
                lap("optimize")
            except BaseException:
                cancel.set()
                raise
            finally:
                pool.shutdown(wait=True)
                if cancel.is_set() or dumps_job.exception() is not None:
                    shutil.rmtree(dumps_staging, ignore_errors=True)
            summary.dumps = dumps_job.result()
        lap("dumps (after validation)")
    finally:
        del store
    _publish_dumps(dumps_staging, dumps_dir, summary.dumps)

    old = store_path.with_name(store_path.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if store_path.exists():
        store_path.rename(old)
    staging.rename(store_path)
    shutil.rmtree(old, ignore_errors=True)
    info = {"version": __version__, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "base": ns.base, "triples": summary.triples_per_graph, "dumps": summary.dumps}
    (store_path.parent / "build-info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return summary


def _load(store: ox.Store, parts: Iterable[Lines], *, blank_free: bool = False) -> None:
    """Bulk-load N-Quads ``parts`` on :data:`LOAD_THREADS` threads side by side.

    A file of under two loader batches without blank nodes is cut at line ends into one piece
    per thread; a part naming a blank node is loaded in one call, since each call of the loader
    gives a label its own node (``blank_free``: the caller has checked there are none). The
    largest pieces go first. An error (a line that does not parse) is raised once every load
    has stopped; the store is the build's staging copy, thrown away on failure.
    """
    jobs: list[list[str] | tuple[Path, int, int]] = []
    for lines in parts:
        if isinstance(lines, spill.LineFile):
            whole = len(lines) >= 2 * LOADER_BATCH or (not blank_free and spill.contains(lines.path, b"_:"))
            jobs += spill.pieces(lines.path, 1 if whole else LOAD_THREADS)
        elif lines:
            jobs.append(lines)

    def size(job: list[str] | tuple[Path, int, int]) -> int:
        return job[2] - job[1] if isinstance(job, tuple) else sum(map(len, job))

    def load(job: list[str] | tuple[Path, int, int]) -> None:
        if isinstance(job, list):
            store.bulk_load(("\n".join(job) + "\n").encode(), format=ox.RdfFormat.N_QUADS)
        else:
            with spill.open_range(*job) as fh:
                store.bulk_load(fh, format=ox.RdfFormat.N_QUADS)

    with ThreadPoolExecutor(LOAD_THREADS, thread_name_prefix="load") as pool:
        for done in [pool.submit(load, job) for job in sorted(jobs, key=size, reverse=True)]:
            done.result()


def _bulk(store: ox.Store, lines: Lines) -> None:
    """Add N-Quads lines; those naming blank nodes of the store (whose loaders rename blank
    nodes) are parsed, which keeps the labels, and inserted as they are."""
    if isinstance(lines, spill.LineFile) and not spill.contains(lines.path, b"_:"):
        # The usual case, checked on the bytes: the 0.97M inferred lines of the 100k benchmark
        # store in 0.23 s, against 0.68 s read line by line.
        _load(store, [lines], blank_free=True)
        return
    blank = [line for line in lines if "_:" in line]
    if not blank:
        _load(store, [lines], blank_free=True)
    elif isinstance(lines, spill.LineFile):
        plain = lines.path.with_name(lines.path.name + ".plain")
        spill.write_lines((line for line in lines if "_:" not in line), plain)
        _load(store, [spill.LineFile(plain, len(lines) - len(blank))], blank_free=True)
        plain.unlink()
    elif len(blank) < len(lines):
        _load(store, [[line for line in lines if "_:" not in line]], blank_free=True)
    if blank:
        store.extend(list(ox.parse("\n".join(blank).encode(), format=ox.RdfFormat.N_QUADS)))


def _infer(store: ox.Store, ns: Namespaces, summary: BuildSummary, progress: Progress,
           workdir: Path) -> list[Lines]:
    """Materialise :data:`inference.RULES` (evaluated in Python, :mod:`fixpoint`) and the
    derived labels into the inferred graph; returns its N-Quads lines as sorted parts (in
    memory, or files in ``workdir`` when large)."""
    g = iri(ns.graph("inferred"))
    triples, summary.inferred, passes = fixpoint.infer(store, [name for name, _ in inference.RULES])
    parts = [spill.sort_lines((f"{s} {p} {o} {g} ." for s, p, o in triples), workdir / "inferred-rules.nq",
                              keep=spill.KEEP_LINES)]
    del triples
    _bulk(store, parts[0])

    def labels(rule: str) -> Path:
        answer = store.query(inference.PREFIXES + rule.replace("{eco}", ns.eco_ns), use_default_graph_as_union=True)
        assert isinstance(answer, ox.QueryTriples), "a label rule is a CONSTRUCT"
        path = workdir / f"labels-{hashlib.sha256(rule.encode()).hexdigest()[:16]}.nt"
        answer.serialize(path, format=ox.RdfFormat.N_TRIPLES)
        return path

    # One rule per language, independent of each other (each reads labels of areas and
    # organisations, writes labels of observations): evaluated side by side, the engine
    # releases the GIL.
    with ThreadPoolExecutor(len(inference.LABEL_RULES), thread_name_prefix="labels") as pool:
        answers = list(pool.map(labels, [rule for _, rule in inference.LABEL_RULES]))
    for (name, _), path in zip(inference.LABEL_RULES, answers):
        new = spill.sort_lines((f"{line[:-2]} {g} ." for line in spill.read_lines(path) if line),
                               path.with_suffix(".nq"), keep=spill.KEEP_LINES)
        path.unlink()
        _bulk(store, new)
        parts.append(new)
        summary.inferred[name] = len(new)
    progress(f"inferred {sum(len(part) for part in parts):,} triples ({passes} pass{'es' * (passes > 1)})")
    return parts


def _validate(store: ox.Store, ns: Namespaces, ontology_lines: list[str], summary: BuildSummary,
              progress: Progress) -> None:
    shapes = Graph()
    shapes.parse(data="\n".join(_as_triple(line) for line in ontology_lines), format="nt")
    try:
        checks = shacl.compile_shapes(shapes, prefixes=ns.prefixes())
    except shacl.UnsupportedShape as exc:
        raise BuildError(f"SHACL shapes: {exc}") from None
    # Every warning is counted (the backbone alone flags thousands of unspecified periods).
    report = shacl.validate(store, checks, limit_per_check=1_000_000, threads=2)
    summary.warnings = len(report.warnings)
    for result in report.warnings:
        shape = shacl.compact(result.shape, ns.prefixes())
        summary.warnings_per_shape[shape] = summary.warnings_per_shape.get(shape, 0) + 1
    progress(f"SHACL: {len(checks)} checks, {len(report.violations)} violations, {len(report.warnings)} warnings")
    if not report.conforms:
        raise BuildError("SHACL validation failed:\n" + report.text())


def _count(store: ox.Store, ns: Namespaces, summary: BuildSummary) -> None:
    for row in store.query("SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"):  # type: ignore[union-attr]
        summary.triples_per_graph[row["g"].value] = int(row["n"].value)
    query = f"""SELECT ?c (COUNT(DISTINCT ?s) AS ?n) {{ ?s a ?c . FILTER(STRSTARTS(STR(?c), "{ns.eco_ns}")) }}
                GROUP BY ?c"""
    for row in store.query(query, use_default_graph_as_union=True):  # type: ignore[union-attr]
        summary.classes["eco:" + row["c"].value[len(ns.eco_ns):]] = int(row["n"].value)
    summary.observations = summary.classes.get("eco:Observation", 0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Cancelled(Exception):
    """The build failed while its dumps were being written."""


def _write_dumps(dumps_dir: Path, graphs: Mapping[str, Lines], inferred: list[Lines], ns: Namespaces, workdir: Path,
                 progress: Progress, cancel: threading.Event | None = None) -> dict[str, str]:
    """Deterministic dumps: sorted N-Quads (all graphs, the ``inferred`` parts included), Turtle
    and JSON-LD of the asserted triples, and the ontology in Turtle; each with a ``.sha256``.

    Every input is sorted, so the dumps are written by merging them, never holding them;
    the asserted triples go through a file in ``workdir``. Written into ``dumps_dir`` (a fresh
    folder), the N-Quads dump and the others on two threads; stops early, raising
    :class:`_Cancelled`, once ``cancel`` is set (a failed thread sets it for the other, and its
    error is the one raised).
    """
    shutil.rmtree(dumps_dir, ignore_errors=True)
    dumps_dir.mkdir(parents=True)
    cancel = cancel or threading.Event()
    written: dict[str, str] = {}

    def gz_write(name: str, data: Iterable[bytes]) -> None:
        path = dumps_dir / name
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                   compresslevel=DUMP_GZIP_LEVEL) as fh:
            for chunk in data:
                if cancel.is_set():
                    raise _Cancelled
                fh.write(chunk)
        written[name] = _sha256(path)

    def nquads() -> None:
        # Large writes: GzipFile.write per line costs more than the compression (same bytes either way).
        gz_write("territory-kg.nq.gz", _blocks(heapq.merge(*graphs.values(), *inferred)))

    def asserted_only() -> None:
        asserted = _asserted_triples(graphs, workdir / "asserted.nt", cancel)
        prefixes = ns.prefixes()
        # Serialised straight into the gzip stream: neither the parsed triples nor the document are held.
        for name, fmt, names in (("territory-kg.ttl.gz", ox.RdfFormat.TURTLE, prefixes),
                                 ("territory-kg.jsonld.gz", ox.RdfFormat.JSON_LD, None)):
            if cancel.is_set():
                raise _Cancelled
            with (dumps_dir / name).open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                                      compresslevel=DUMP_GZIP_LEVEL) as fh:
                ox.serialize(ox.parse(path=asserted, format=ox.RdfFormat.N_TRIPLES), cast(IO[bytes], fh), fmt,
                             prefixes=names)
            written[name] = _sha256(dumps_dir / name)
        asserted.unlink()
        onto = sorted({_as_triple(line) for line in graphs[ns.graph("ontology")]})
        onto_triples = list(ox.parse("\n".join(onto).encode(), format=ox.RdfFormat.N_TRIPLES))
        path = dumps_dir / "ontology.ttl"
        path.write_bytes(ox.serialize(onto_triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes) or b"")
        written["ontology.ttl"] = _sha256(path)

    def stopping_the_other(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException:
            cancel.set()
            raise

    # The N-Quads dump and the asserted-triples dumps side by side: once SHACL is done, both cores.
    with ThreadPoolExecutor(2, thread_name_prefix="dump") as pool:
        jobs = [pool.submit(stopping_the_other, job) for job in (nquads, asserted_only)]
    if failed := [exc for exc in (job.exception() for job in jobs) if exc is not None]:
        raise next((exc for exc in failed if not isinstance(exc, _Cancelled)), failed[0])  # the cause first
    written = {name: written[name] for name in DUMPS}
    for name, digest in written.items():
        (dumps_dir / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    progress("dumps: " + ", ".join(f"{n} {(dumps_dir / n).stat().st_size:,} B" for n in written))
    return written


def _blocks(lines: Iterable[str], size: int = 65536) -> Iterator[bytes]:
    """``lines`` with their newlines, encoded ``size`` at a time."""
    return (("\n".join(batch) + "\n").encode() for batch in spill.batches(lines, size))


def _asserted_triples(graphs: Mapping[str, Lines], path: Path, cancel: threading.Event | None = None) -> Path:
    """The asserted triples (graph terms dropped, repeats across graphs too), sorted, in ``path``.

    The graph term comes last, after a space, so dropping it keeps sorted lines in order and
    merging the graphs is enough; the order is checked, and lines that break it (a line without
    a graph term among extra N-Quads) are sorted on disk instead. Raises :class:`_Cancelled`
    soon after ``cancel`` is set.
    """
    def lines(merged: Iterable[str]) -> Iterator[str]:
        for n, line in enumerate(merged):
            if not n % 65536 and cancel is not None and cancel.is_set():
                raise _Cancelled
            yield line

    try:
        spill.write_lines(lines(spill.unique(spill.checked(heapq.merge(*(map(_as_triple, g)
                                                                          for g in graphs.values()))))), path)
    except spill.OutOfOrder:
        spill.sort_lines(lines(_as_triple(line) for part in graphs.values() for line in part), path)
    return path


def _publish_dumps(staging: Path, dumps_dir: Path, written: Mapping[str, str]) -> None:
    """Move the dumps of ``staging`` into ``dumps_dir``, each file replaced atomically (a
    download in progress keeps reading the old file), its ``.sha256`` right after it."""
    dumps_dir.mkdir(parents=True, exist_ok=True)
    for name in written:
        os.replace(staging / name, dumps_dir / name)
        os.replace(staging / f"{name}.sha256", dumps_dir / f"{name}.sha256")
    shutil.rmtree(staging, ignore_errors=True)


def _as_triple(nquad_line: str) -> str:
    """Drop the graph term of an N-Quads line written by :func:`service.build.ntriples.quad`."""
    body = nquad_line[: -len(" .")]
    head, _, _graph = body.rpartition(" <")
    return head + " ."
