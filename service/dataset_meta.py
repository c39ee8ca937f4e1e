"""What the service says about its dataset: build info, statistics, dumps, VoID and DCAT.

Everything here is derived from one build and cached until the next one:
:func:`per_build` keeps values in the app and drops them when ``build-info.json`` (written by
``territory-kg build`` next to the store) changes. :func:`read_build_info` gives the build's
version, date and dumps (and so the ``ETag``/``Last-Modified`` of every page derived from
it); :func:`compute_statistics` counts classes, properties and graphs in the store;
:func:`list_dumps` and :func:`dump_path` describe and safely locate the dump files;
:func:`void_graph` and :func:`dcat_graph` turn them into RDF (``rdflib.Graph``).

>>> dump_format("territory-kg.nq.gz").media_type
'application/n-quads'
>>> dump_format("ontology.ttl").compressed
False
>>> nt_int('"42"^^<http://www.w3.org/2001/XMLSchema#integer>')
42
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from service import __version__

if TYPE_CHECKING:
    from service.iris import Namespaces
    from service.store import GraphStore

__all__ = ["BuildInfo", "DumpFormat", "DumpFile", "Statistics", "read_build_info", "per_build", "build_info",
           "dump_format", "list_dumps", "dump_path", "allowed_dump_names", "compute_statistics", "nt_int",
           "nt_iri", "DUMP_FORMATS"]

log = logging.getLogger(__name__)

T = TypeVar("T")
DCT = "http://purl.org/dc/terms/"
_DUMP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9]+){1,2}")


@dataclass(frozen=True)
class BuildInfo:
    """One build of the store, from ``build-info.json`` (``built`` is ``None`` when unknown).

    :param tag: a short hash of the build-info file (and version): the ETag stem.
    """

    version: str
    built: datetime | None
    base: str
    triples: Mapping[str, int]
    dumps: Mapping[str, str]
    tag: str

    @property
    def built_text(self) -> str:
        """The build time as ``YYYY-MM-DD HH:MM UTC`` or ``""``."""
        return self.built.strftime("%Y-%m-%d %H:%M UTC") if self.built else ""


def read_build_info(store_path: str | Path) -> BuildInfo:
    """Read ``build-info.json`` next to the store; a missing or unreadable file gives an empty build.

    >>> read_build_info("/nonexistent/store").dumps
    {}
    """
    path = Path(store_path).parent / "build-info.json"
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        log.debug("no build info at %s: %s", path, exc)
        return BuildInfo(__version__, None, "", {}, {}, hashlib.sha256(__version__.encode()).hexdigest()[:16])
    built: datetime | None = None
    try:
        built = datetime.strptime(str(data.get("built", "")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        log.warning("build-info.json: unreadable build date %r", data.get("built"))
    tag = hashlib.sha256(raw + __version__.encode()).hexdigest()[:16]
    return BuildInfo(str(data.get("version", __version__)), built, str(data.get("base", "")),
                     {str(k): int(v) for k, v in dict(data.get("triples", {})).items()},
                     {str(k): str(v) for k, v in dict(data.get("dumps", {})).items()}, tag)


def _stamp(store_path: str | Path) -> tuple[int, int] | None:
    try:
        st = (Path(store_path).parent / "build-info.json").stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def per_build(name: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per build of the current app's store, then cached under ``name``.

    The cache is dropped as soon as ``build-info.json`` changes (one ``stat`` per call) or a
    write is acknowledged (``app.extensions["kg_data_generation"]``, updates on). Each name
    has its own re-entrant lock: concurrent first requests for one value compute it once,
    while a long first computation (the search index, the statistics) holds up only the
    requests that need that value. A computation may itself use other per-build values
    (they must not depend on each other in a cycle). A value computed for a build that has
    been replaced meanwhile is returned to its caller but not kept.
    """
    from flask import current_app

    ext = current_app.extensions
    guard: threading.Lock = ext.setdefault("kg_meta_lock", threading.Lock())  # held only for dict updates
    stamp = (_stamp(current_app.config["STORE_PATH"]), ext.get("kg_data_generation", 0))
    with guard:
        cache: dict[str, Any] = ext.setdefault("kg_meta_cache", _new_cache(stamp))
        if cache["stamp"] != stamp:
            log.info("new build detected: dropping %d cached values", len(cache["values"]))
            cache = ext["kg_meta_cache"] = _new_cache(stamp)
        values: dict[str, Any] = cache["values"]
        if name in values:
            found: T = values[name]
            return found
        lock: threading.RLock = cache["locks"].setdefault(name, threading.RLock())
    with lock:
        with guard:
            if name in values:  # computed by another thread while this one waited
                done: T = values[name]
                return done
        value = compute()
        with guard:
            values[name] = value  # into this build's table, even if a newer one has replaced it
        return value


def _new_cache(stamp: object) -> dict[str, Any]:
    return {"stamp": stamp, "values": {}, "locks": {}}


def build_info() -> BuildInfo:
    """The current app's :class:`BuildInfo` (cached per build).

    After writes (updates on) its ``tag`` also depends on this server's run and write count, and
    ``built`` is the last write's time, so ETags and Last-Modified change with the data.
    """
    from dataclasses import replace

    from flask import current_app

    def compute() -> BuildInfo:
        info = read_build_info(current_app.config["STORE_PATH"])
        writes = current_app.extensions.get("kg_data_writes")  # (run id, generation, last write time)
        if not writes:
            return info
        tag = hashlib.sha256(f"{info.tag}|{writes[0]}|{writes[1]}".encode()).hexdigest()[:16]
        return replace(info, tag=tag, built=writes[2] or info.built)

    return per_build("build-info", compute)


@dataclass(frozen=True)
class DumpFormat:
    """How a dump file is described: its RDF media type, whether gzipped, the EU file-type code."""

    media_type: str
    compressed: bool
    eu_file_type: str
    title: str


DUMP_FORMATS: dict[str, tuple[str, str, str]] = {
    ".nq": ("application/n-quads", "RDF_N_QUADS", "N-Quads"),
    ".nt": ("application/n-triples", "RDF_N_TRIPLES", "N-Triples"),
    ".ttl": ("text/turtle", "RDF_TURTLE", "Turtle"),
    ".jsonld": ("application/ld+json", "JSON_LD", "JSON-LD"),
    ".trig": ("application/trig", "RDF_TRIG", "TriG"),
}


def dump_format(name: str) -> DumpFormat:
    """The :class:`DumpFormat` of a dump file name (unknown extensions: octet-stream)."""
    compressed = name.endswith(".gz")
    stem = name[:-3] if compressed else name
    ext = "." + stem.rsplit(".", 1)[-1] if "." in stem else ""
    media, eu, title = DUMP_FORMATS.get(ext, ("application/octet-stream", "BIN", "file"))
    return DumpFormat(media, compressed, eu, title + (" (gzip)" if compressed else ""))


@dataclass(frozen=True)
class DumpFile:
    """A dump on disk: name, byte size, SHA-256 (from its ``.sha256`` file) and format."""

    name: str
    size: int
    sha256: str
    format: DumpFormat
    checksum_name: str


def allowed_dump_names(dumps_dir: Path, info: BuildInfo) -> frozenset[str]:
    """The names ``/dumps/`` may serve: the build's dumps and their ``.sha256`` files.

    Without build info (a remote backend), files in ``dumps_dir`` that have a ``.sha256``
    companion and a plain name qualify. Nothing else is ever served.
    """
    names = set(info.dumps)
    if not names and dumps_dir.is_dir():
        names = {p.name for p in dumps_dir.iterdir()
                 if _DUMP_NAME.fullmatch(p.name) and (dumps_dir / f"{p.name}.sha256").is_file()}
    return frozenset(n for n in names if _DUMP_NAME.fullmatch(n)) | frozenset(f"{n}.sha256" for n in names
                                                                              if _DUMP_NAME.fullmatch(n))


def dump_path(dumps_dir: Path, allowed: frozenset[str], name: str) -> Path | None:
    """The file for ``name`` if it is allow-listed, a regular file, no symlink, and inside ``dumps_dir``.

    >>> dump_path(Path("/tmp"), frozenset({"a.nq.gz"}), "../etc/passwd") is None
    True
    """
    if name not in allowed or "/" in name or "\\" in name:
        return None
    path = dumps_dir / name
    try:
        if path.is_symlink() or not path.is_file() or path.resolve().parent != dumps_dir.resolve():
            return None
    except OSError:
        return None
    return path


def list_dumps(dumps_dir: Path, info: BuildInfo) -> list[DumpFile]:
    """The dumps present on disk, sorted by name, with size and checksum (from the ``.sha256`` file)."""
    allowed = allowed_dump_names(dumps_dir, info)
    out: list[DumpFile] = []
    for name in sorted(n for n in allowed if not n.endswith(".sha256")):
        path = dump_path(dumps_dir, allowed, name)
        sums = dump_path(dumps_dir, allowed, f"{name}.sha256")
        if path is None:
            continue
        words = sums.read_text(encoding="utf-8").split() if sums is not None else []
        digest = words[0] if words else info.dumps.get(name, "")
        out.append(DumpFile(name, path.stat().st_size, digest, dump_format(name), f"{name}.sha256"))
    return out


def nt_int(term: str) -> int:
    """The integer value of an N-Triples numeric literal."""
    return int(term[1:term.index('"', 1)])


def _nt_text(term: str) -> str:
    """The lexical form of an N-Triples literal (the IRI of an IRI term)."""
    from rdflib.util import from_n3

    return str(from_n3(term)) if term else ""


def nt_iri(term: str) -> str:
    """The IRI of an N-Triples IRI term (``<…>``), else ``""``."""
    return term[1:-1] if term.startswith("<") and term.endswith(">") else ""


@dataclass
class Statistics:
    """Counts over the whole store (union of the named graphs)."""

    triples: int = 0
    distinct_subjects: int = 0
    distinct_objects: int = 0
    entities: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    properties: dict[str, int] = field(default_factory=dict)
    graphs: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)


#: Classes whose most-linked instance is offered as a ``void:exampleResource``.
EXAMPLE_CLASSES = ("Region", "Commune", "Intercommunality", "CompetitivenessCluster", "Company", "Industry",
                   "Observation")


def compute_statistics(store: GraphStore, ns: Namespaces) -> Statistics:
    """Count triples, classes, properties, graphs, entities; pick example resources.

    :raises service.errors.StoreUnavailable: if the store cannot answer.
    """
    stats = Statistics()
    row = store.select("SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }")[0]
    stats.triples = nt_int(row["n"])
    row = store.select("SELECT (COUNT(DISTINCT ?s) AS ?s) (COUNT(DISTINCT ?o) AS ?o) { ?s ?p ?o }")[0]
    stats.distinct_subjects, stats.distinct_objects = nt_int(row["s"]), nt_int(row["o"])
    # Filtering on STR(?s) in SPARQL is five times slower than this on oxigraph 0.5.
    subjects = store.select("SELECT DISTINCT ?s { ?s ?p ?o }")
    stats.entities = sum(1 for r in subjects if r["s"].startswith(f"<{ns.id_ns}"))
    for r in store.select("SELECT ?c (COUNT(DISTINCT ?s) AS ?n) { ?s a ?c FILTER(isIRI(?c)) } GROUP BY ?c"):
        stats.classes[nt_iri(r["c"])] = nt_int(r["n"])
    for r in store.select("SELECT ?p (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } } GROUP BY ?p"):
        stats.properties[nt_iri(r["p"])] = nt_int(r["n"])
    for r in store.select("SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"):
        stats.graphs[nt_iri(r["g"])] = nt_int(r["n"])
    for name in EXAMPLE_CLASSES:
        rows = store.select(f"SELECT ?s (COUNT(?x) AS ?n) {{ ?s a <{ns.eco(name)}> . OPTIONAL {{ ?x ?p ?s }} "
                            f'FILTER(STRSTARTS(STR(?s), "{ns.id_ns}")) }} GROUP BY ?s ORDER BY DESC(?n) STR(?s) '
                            f"LIMIT 1")
        if rows:
            stats.examples.append(nt_iri(rows[0]["s"]))
    rows = store.select(f"""SELECT ?d (SAMPLE(?t) AS ?title) (SAMPLE(?i) AS ?id) (SAMPLE(?h) AS ?sha)
        (SAMPLE(?l) AS ?license) {{ ?d a <{ns.eco("SourceDocument")}> OPTIONAL {{ ?d <{DCT}title> ?t }}
        OPTIONAL {{ ?d <{DCT}identifier> ?i }} OPTIONAL {{ ?d <{ns.eco("sha256")}> ?h }}
        OPTIONAL {{ ?d <{DCT}license> ?l }} }} GROUP BY ?d ORDER BY ?d""")
    stats.sources = [{"iri": nt_iri(r["d"]), "title": _nt_text(r.get("title") or r.get("id") or r["d"]),
                      "identifier": _nt_text(r.get("id", "")), "sha256": _nt_text(r.get("sha", "")),
                      "license": nt_iri(r.get("license", ""))} for r in rows]
    log.info("statistics: %d triples, %d classes, %d properties", stats.triples, len(stats.classes),
             len(stats.properties))
    return stats


TITLES = {"en": "territory-kg: the Hauts-de-France economy", "fr": "territory-kg : l'économie des Hauts-de-France"}
DESCRIPTIONS = {
    "en": "A knowledge graph of the economy of the Hauts-de-France region (Lille metropolis, Artois): "
          "territories from the official geography, organisations, clusters, industries and every figure "
          "stated in the source documents, each traced to its quoted sentence and cited publisher.",
    "fr": "Un graphe de connaissances de l'économie des Hauts-de-France (métropole lilloise, Artois) : "
          "territoires de la géographie officielle, organisations, pôles, filières et chaque chiffre énoncé "
          "dans les documents sources, relié à la phrase citée et à l'éditeur qu'elle mentionne.",
}
KEYWORDS = {"en": ("economy", "Hauts-de-France", "territories", "industries", "clusters", "companies",
                   "statistics", "provenance"),
            "fr": ("économie", "Hauts-de-France", "territoires", "filières", "pôles de compétitivité",
                   "entreprises", "statistiques", "provenance")}
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
_EU = "http://publications.europa.eu/resource/authority/"
_IANA = "https://www.iana.org/assignments/media-types/"
_SPDX = "http://spdx.org/rdf/terms#"


def _graph_title(graph_iri: str, ns: Namespaces) -> str:
    name = graph_iri[len(ns.graph("")):] if graph_iri.startswith(ns.graph("")) else graph_iri
    return "Source document " + name.split("/", 1)[1] if name.startswith("document/") else f"Graph: {name}"


def void_graph(ns: Namespaces, info: BuildInfo, stats: Statistics, dumps: list[DumpFile]) -> Any:
    """The VoID description of the dataset (an ``rdflib.Graph`` with the usual prefixes bound).

    ``{BASE}dataset`` is the ``void:Dataset`` (the IRI the build's metadata graph uses); each
    named graph is a ``void:subset``; partitions are blank nodes.
    """
    from rdflib import BNode, Graph, Literal, URIRef
    from rdflib.namespace import DCTERMS, FOAF, OWL, RDF, VOID, XSD

    g = Graph()
    for prefix, iri in ns.prefixes().items():
        g.bind(prefix, iri)
    ds, doc = URIRef(f"{ns.base}dataset"), URIRef(f"{ns.base}.well-known/void")
    g.add((doc, RDF.type, VOID.DatasetDescription))
    g.add((doc, FOAF.primaryTopic, ds))
    g.add((ds, RDF.type, VOID.Dataset))
    for lang, text in TITLES.items():
        g.add((ds, DCTERMS.title, Literal(text, lang=lang)))
        g.add((ds, DCTERMS.description, Literal(DESCRIPTIONS[lang], lang=lang)))
    g.add((ds, DCTERMS.license, URIRef(LICENSE)))
    g.add((ds, FOAF.homepage, URIRef(ns.base)))
    g.add((ds, OWL.versionInfo, Literal(info.version)))
    if info.built:
        g.add((ds, DCTERMS.modified, Literal(info.built.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)))
    g.add((ds, VOID.uriSpace, Literal(ns.id_ns)))
    g.add((ds, VOID.sparqlEndpoint, URIRef(f"{ns.base}sparql")))
    g.add((ds, VOID.uriLookupEndpoint, URIRef(f"{ns.base}search.json?q=")))
    for dump in dumps:
        g.add((ds, VOID.dataDump, URIRef(f"{ns.base}dumps/{dump.name}")))
    for fmt in ("N-Quads", "Turtle", "JSON-LD", "RDF_XML", "N-Triples"):
        g.add((ds, VOID.feature, URIRef(f"http://www.w3.org/ns/formats/{fmt}")))
    for key, value in (("triples", stats.triples), ("entities", stats.entities),
                       ("distinctSubjects", stats.distinct_subjects), ("distinctObjects", stats.distinct_objects),
                       ("classes", len(stats.classes)), ("properties", len(stats.properties))):
        g.add((ds, VOID[key], Literal(value, datatype=XSD.integer)))
    vocabularies = {ns.ontology} | {iri.rstrip("#") for prefix, iri in ns.prefixes().items()
                                    if prefix not in ("eco", "ecosh", "id", "wd")
                                    and any(t.startswith(iri) for t in (*stats.classes, *stats.properties))}
    for vocab in sorted(vocabularies):
        g.add((ds, VOID.vocabulary, URIRef(vocab)))
    for example in stats.examples:
        g.add((ds, VOID.exampleResource, URIRef(example)))
    for cls, count in sorted(stats.classes.items()):
        part = BNode()
        g.add((ds, VOID.classPartition, part))
        g.add((part, VOID["class"], URIRef(cls)))
        g.add((part, VOID.entities, Literal(count, datatype=XSD.integer)))
    for prop, count in sorted(stats.properties.items()):
        part = BNode()
        g.add((ds, VOID.propertyPartition, part))
        g.add((part, VOID.property, URIRef(prop)))
        g.add((part, VOID.triples, Literal(count, datatype=XSD.integer)))
    for graph_iri, count in sorted(stats.graphs.items()):
        sub = URIRef(graph_iri)
        g.add((ds, VOID.subset, sub))
        g.add((sub, RDF.type, VOID.Dataset))
        g.add((sub, DCTERMS.title, Literal(_graph_title(graph_iri, ns), lang="en")))
        g.add((sub, VOID.triples, Literal(count, datatype=XSD.integer)))
        g.add((sub, VOID.sparqlEndpoint, URIRef(f"{ns.base}sparql")))
    return g


def dcat_graph(ns: Namespaces, info: BuildInfo, stats: Statistics, dumps: list[DumpFile]) -> Any:
    """The DCAT-AP catalogue: ``{BASE}catalog`` → ``{BASE}dataset`` with one distribution per dump,
    the SPARQL endpoint as a ``dcat:DataService``, and the source documents as datasets."""
    from rdflib import BNode, Graph, Literal, Namespace, URIRef
    from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, XSD

    spdx = Namespace(_SPDX)
    g = Graph()
    for prefix, iri in ns.prefixes().items():
        g.bind(prefix, iri)
    g.bind("spdx", _SPDX)
    g.bind("foaf", str(FOAF))
    cat, ds, sparql = URIRef(f"{ns.base}catalog"), URIRef(f"{ns.base}dataset"), URIRef(f"{ns.base}sparql")
    publisher, lic = URIRef(f"{ns.base}catalog#publisher"), URIRef(LICENSE)
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal("territory-kg project")))
    g.add((publisher, FOAF.homepage, URIRef(ns.base)))
    issued = Literal(info.built.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime) if info.built else None

    def describe(node: Any, titles: Mapping[str, str], descriptions: Mapping[str, str]) -> None:
        for lang, text in titles.items():
            g.add((node, DCTERMS.title, Literal(text, lang=lang)))
        for lang, text in descriptions.items():
            g.add((node, DCTERMS.description, Literal(text, lang=lang)))
        g.add((node, DCTERMS.publisher, publisher))
        g.add((node, DCTERMS.license, lic))
        if issued is not None:
            g.add((node, DCTERMS.modified, issued))

    g.add((cat, RDF.type, DCAT.Catalog))
    describe(cat, {"en": "territory-kg catalogue", "fr": "Catalogue territory-kg"}, DESCRIPTIONS)
    g.add((cat, FOAF.homepage, URIRef(ns.base)))
    g.add((cat, DCAT.dataset, ds))
    g.add((cat, DCAT.service, sparql))
    g.add((cat, DCAT.themeTaxonomy, URIRef(_EU + "data-theme")))
    for code in ("ENG", "FRA"):
        g.add((cat, DCTERMS.language, URIRef(f"{_EU}language/{code}")))
        g.add((ds, DCTERMS.language, URIRef(f"{_EU}language/{code}")))

    g.add((ds, RDF.type, DCAT.Dataset))
    describe(ds, TITLES, DESCRIPTIONS)
    g.add((ds, DCTERMS.identifier, Literal(str(ds))))
    g.add((ds, DCAT.landingPage, URIRef(ns.base)))
    g.add((ds, DCTERMS.spatial, URIRef(ns.mint("region", "32"))))
    g.add((ds, DCTERMS.conformsTo, URIRef(ns.ontology)))
    g.add((ds, DCTERMS.accessRights, URIRef(_EU + "access-right/PUBLIC")))
    g.add((ds, OWL.versionInfo, Literal(info.version)))
    g.add((ds, URIRef(str(DCAT) + "version"), Literal(info.version)))  # DCAT 3; rdflib 7.6 lacks it
    for theme in ("ECON", "REGI"):
        g.add((ds, DCAT.theme, URIRef(f"{_EU}data-theme/{theme}")))
    for lang, words in KEYWORDS.items():
        for word in words:
            g.add((ds, DCAT.keyword, Literal(word, lang=lang)))

    def checksum(node: Any, digest: str) -> None:
        if digest:
            ck = BNode()
            g.add((node, spdx.checksum, ck))
            g.add((ck, RDF.type, spdx.Checksum))
            g.add((ck, spdx.algorithm, spdx.checksumAlgorithm_sha256))
            g.add((ck, spdx.checksumValue, Literal(digest, datatype=XSD.hexBinary)))

    for dump in dumps:
        dist, url = URIRef(f"{ns.base}catalog#dump-{dump.name}"), URIRef(f"{ns.base}dumps/{dump.name}")
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        describe(dist, {"en": f"Dump {dump.name}: {dump.format.title}"}, {})
        g.add((dist, DCAT.downloadURL, url))
        g.add((dist, DCAT.accessURL, URIRef(f"{ns.base}dumps/")))
        g.add((dist, DCAT.mediaType, URIRef(_IANA + dump.format.media_type)))
        if dump.format.compressed:
            g.add((dist, DCAT.compressFormat, URIRef(_IANA + "application/gzip")))
        g.add((dist, DCTERMS["format"], URIRef(f"{_EU}file-type/{dump.format.eu_file_type}")))
        g.add((dist, DCAT.byteSize, Literal(dump.size, datatype=XSD.nonNegativeInteger)))
        checksum(dist, dump.sha256)

    endpoint = URIRef(f"{ns.base}catalog#sparql")
    g.add((ds, DCAT.distribution, endpoint))
    g.add((endpoint, RDF.type, DCAT.Distribution))
    describe(endpoint, {"en": "SPARQL 1.1 endpoint", "fr": "Point d'accès SPARQL 1.1"}, {})
    g.add((endpoint, DCAT.accessURL, sparql))
    g.add((endpoint, DCAT.accessService, sparql))
    g.add((sparql, RDF.type, DCAT.DataService))
    describe(sparql, {"en": "SPARQL 1.1 endpoint", "fr": "Point d'accès SPARQL 1.1"}, {})
    g.add((sparql, DCAT.endpointURL, sparql))
    g.add((sparql, DCAT.endpointDescription, sparql))
    g.add((sparql, DCAT.servesDataset, ds))
    g.add((sparql, DCTERMS.conformsTo, URIRef("https://www.w3.org/TR/sparql11-protocol/")))

    for src in stats.sources:
        node = URIRef(src["iri"])
        g.add((ds, DCTERMS.source, node))
        g.add((node, RDF.type, DCAT.Dataset))
        g.add((node, DCTERMS.title, Literal(src["title"])))
        if src["identifier"]:
            g.add((node, DCTERMS.identifier, Literal(src["identifier"])))
        if src["license"]:
            g.add((node, DCTERMS.license, URIRef(src["license"])))
        checksum(node, src["sha256"])
    return g
