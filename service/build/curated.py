"""Curated data to N-Quads: Turtle files, and the CSV tables of each source document.

The layout and the column meanings are specified in ``docs/model.md``. Everything a
person writes is checked here, loudly: a quote that is not in its document, a CSV cell
that is not a known CURIE, a stated triple missing from the entities, a checksum that
does not match. A :class:`CurationError` names the file, the row and the problem.

Quotes are located in the document text (Unicode code points, end exclusive), so the
offsets of every excerpt are computed, never typed by hand.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.util import from_n3

from service.build.ntriples import iri, literal, quad
from service.iris import Namespaces, rebase

__all__ = ["CurationError", "turtle_lines", "SourceText", "DocumentCompiler", "mapping_lines",
           "read_checksums"]

log = logging.getLogger(__name__)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
OA = "http://www.w3.org/ns/oa#"
QB = "http://purl.org/linked-data/cube#"

KIND_CLASSES = {"count": "Observation", "amount": "Observation", "share": "ShareObservation",
                "ranking": "RankingObservation"}
CONTEXT_CHARS = 32


class CurationError(ValueError):
    """A curated file is wrong; the message names the file, the row and the problem."""


def _term(node: object, base: str, bnode_prefix: str) -> str:
    if isinstance(node, URIRef):
        return iri(rebase(str(node), base))
    if isinstance(node, BNode):
        return f"_:{bnode_prefix}{node}"
    if isinstance(node, Literal):
        # A literal spelling an IRI of ours (vann:preferredNamespaceUri, void:uriSpace) moves too.
        datatype = str(node.datatype) if node.datatype else None
        return literal(rebase(str(node), base), datatype=datatype, lang=node.language)
    raise CurationError(f"unexpected RDF term {node!r}")


def turtle_lines(path: Path, ns: Namespaces, graph_iri: str) -> tuple[list[str], Graph]:
    """A Turtle file as N-Quads lines in ``graph_iri``, IRIs re-based.

    Blank nodes get canonical labels (RDF canonicalisation) prefixed by the file's
    stem, so the output is the same on every run and labels never collide across files.

    :returns: the lines and the parsed graph (with the original IRIs).
    :raises CurationError: if the file does not parse.
    """
    g = Graph()
    try:
        g.parse(path, format="turtle")
    except Exception as exc:  # rdflib raises many unrelated types for bad syntax
        raise CurationError(f"{path}: Turtle does not parse: {exc}") from None
    canonical = to_canonical_graph(g) if any(isinstance(t, BNode) for tr in g for t in tr) else g
    prefix = "".join(ch for ch in path.stem if ch.isalnum()) + "x"
    gr = iri(graph_iri)
    lines = [quad(_term(s, ns.base, prefix), _term(p, ns.base, prefix), _term(o, ns.base, prefix), gr)
             for s, p, o in canonical]
    return lines, g


def read_checksums(path: Path) -> dict[str, str]:
    """Read a ``sha256sum``-format file: file name → hex digest."""
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.strip().partition(" ")
            sums[name.strip().lstrip("*")] = digest
    return sums


@dataclass
class SourceText:
    """A source document: its text, checksum and the excerpts quoted from it."""

    stem: str
    path: Path
    text: str
    sha256: str

    @classmethod
    def read(cls, path: Path, expected_sha256: str | None) -> SourceText:
        """Read a document and check it against its published checksum.

        :raises CurationError: if the checksum is missing or differs (documents are never edited).
        """
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if expected_sha256 is None:
            raise CurationError(f"{path.name}: no checksum in SHA256SUMS")
        if digest != expected_sha256:
            raise CurationError(f"{path.name}: SHA-256 {digest} differs from SHA256SUMS {expected_sha256}")
        return cls(path.stem, path, raw.decode("utf-8"), digest)

    def locate(self, quote: str, occurrence: int = 1) -> tuple[int, int]:
        """Code-point offsets ``(start, end)`` of the n-th occurrence of ``quote``.

        :raises CurationError: if the quote occurs fewer than ``occurrence`` times.
        """
        if not quote:
            raise CurationError(f"{self.stem}: empty quote")
        start = -1
        for _ in range(occurrence):
            start = self.text.find(quote, start + 1)
            if start < 0:
                raise CurationError(f"{self.stem}: quote not found (occurrence {occurrence}): {quote!r}")
        return start, start + len(quote)


@dataclass
class DocumentCompiler:
    """Compiles one document's folder (entities, statements, observations, gaps)."""

    ns: Namespaces
    source: SourceText
    folder: Path
    lines: list[str] = field(default_factory=list)
    _excerpts: set[tuple[int, int]] = field(default_factory=set)

    @property
    def graph(self) -> str:
        return iri(self.ns.graph("document", self.source.stem))

    def _add(self, s: str, p: str, o: str) -> None:
        self.lines.append(quad(s, p, o, self.graph))

    def _curie(self, value: str, where: str) -> str:
        try:
            return iri(self.ns.expand(value))
        except ValueError as exc:
            raise CurationError(f"{where}: {exc}") from None

    def excerpt(self, quote: str, occurrence: int = 1) -> str:
        """The excerpt resource for a quote (emitted once), as an N-Triples IRI."""
        start, end = self.source.locate(quote, occurrence)
        node = iri(self.ns.mint("excerpt", self.source.stem, f"{start}-{end}"))
        if (start, end) not in self._excerpts:
            self._excerpts.add((start, end))
            text = self.source.text
            for cls in (self.ns.eco("Excerpt"), OA + "TextQuoteSelector", OA + "TextPositionSelector"):
                self._add(node, iri(RDF + "type"), iri(cls))
            self._add(node, iri(RDFS + "label"),
                      literal(f"Excerpt {start}–{end} of {self.source.path.name}", lang="en"))
            self._add(node, iri(OA + "exact"), literal(quote))
            self._add(node, iri(OA + "prefix"), literal(text[max(0, start - CONTEXT_CHARS):start]))
            self._add(node, iri(OA + "suffix"), literal(text[end:end + CONTEXT_CHARS]))
            self._add(node, iri(OA + "start"), literal(start))
            self._add(node, iri(OA + "end"), literal(end))
            self._add(node, iri(PROV + "wasQuotedFrom"), iri(self.ns.mint("document", self.source.stem)))
        return node

    def _rows(self, name: str) -> Iterator[tuple[str, dict[str, str]]]:
        path = self.folder / name
        if not path.exists():
            return
        with path.open(encoding="utf-8", newline="") as fh:
            for number, row in enumerate(csv.DictReader(fh), start=2):
                where = f"{path.relative_to(self.folder.parent.parent)}:{number}"
                yield where, {k.strip(): (v or "").strip() for k, v in row.items() if k}

    def compile(self) -> list[str]:
        """Every line of the document's named graph."""
        self._document()
        entities = self.folder / "entities.ttl"
        entity_graph = Graph()
        if entities.exists():
            entity_lines, entity_graph = turtle_lines(entities, self.ns, self.ns.graph("document", self.source.stem))
            self.lines.extend(entity_lines)
        self._statements(entity_graph)
        self._observations()
        self._gaps()
        return self.lines

    def _document(self) -> None:
        ns, stem = self.ns, self.source.stem
        doc = iri(ns.mint("document", stem))
        self._add(doc, iri(RDF + "type"), iri(ns.eco("SourceDocument")))
        self._add(doc, iri(ns.eco("sha256")), literal(self.source.sha256))
        self._add(doc, iri(DCT + "identifier"), literal(self.source.path.name))
        self._add(doc, iri(DCT + "format"), literal("text/plain; charset=utf-8"))
        # Area-level and organisation-level figures have different structures (Data Cube IC-11).
        for key, about, dsd in ((stem, "places", "dsd-indicators"),
                                (f"{stem}-organisations", "organisations", "dsd-organisation-indicators")):
            dataset = iri(ns.mint("dataset", key))
            self._add(dataset, iri(RDF + "type"), iri(QB + "DataSet"))
            self._add(dataset, iri(RDFS + "label"),
                      literal(f"Figures about {about} stated in {self.source.path.name}", lang="en"))
            self._add(dataset, iri(QB + "structure"), iri(ns.eco(dsd)))
            self._add(dataset, iri(PROV + "wasDerivedFrom"), doc)
        activity = iri(ns.mint("activity", f"extract-{stem}"))
        self._add(activity, iri(RDF + "type"), iri(ns.eco("ExtractionActivity")))
        self._add(activity, iri(RDFS + "label"), literal(f"Curation of {self.source.path.name}", lang="en"))
        self._add(activity, iri(PROV + "used"), doc)
        self._add(activity, iri(PROV + "wasAssociatedWith"), iri(ns.mint("software", "territory-kg")))

    def _statements(self, entity_graph: Graph) -> None:
        base = self.ns.base
        stated = {(rebase(str(s), base), rebase(str(p), base), _term(o, base, "")) for s, p, o in entity_graph}
        for where, row in self._rows("statements.csv"):
            s = self._curie(row["subject"], where)
            p = self._curie(row["predicate"], where)
            obj = row["object"]
            if obj.startswith('"'):
                try:
                    parsed = from_n3(obj, nsm=entity_graph.namespace_manager)
                except Exception as exc:
                    raise CurationError(f"{where}: bad literal {obj!r}: {exc}") from None
                o = _term(parsed, base, "")
            else:
                o = self._curie(obj, where)
            if (s[1:-1], p[1:-1], o) not in stated:
                raise CurationError(f"{where}: stated triple is not in entities.ttl: {s} {p} {o}")
            excerpt = self.excerpt(row["quote"], int(row.get("occurrence") or 1))
            digest = hashlib.sha256(f"{s} {p} {o}".encode()).hexdigest()[:16]
            node = iri(self.ns.mint("statement", digest))
            self._add(node, iri(RDF + "type"), iri(RDF + "Statement"))
            self._add(node, iri(RDF + "subject"), s)
            self._add(node, iri(RDF + "predicate"), p)
            self._add(node, iri(RDF + "object"), o)
            self._add(node, iri(PROV + "wasDerivedFrom"), excerpt)
            for thing in (s, o):
                if thing.startswith("<" + self.ns.id_ns):
                    self._add(thing, iri(self.ns.eco("mentionedIn")), excerpt)

    def _observations(self) -> None:
        ns, stem = self.ns, self.source.stem
        eco = ns.eco
        seen: set[str] = set()
        for where, row in self._rows("observations.csv"):
            key = row["key"]
            if not key or key in seen:
                raise CurationError(f"{where}: missing or duplicate key {key!r}")
            seen.add(key)
            kind = row["kind"]
            if kind not in KIND_CLASSES:
                raise CurationError(f"{where}: kind must be one of {sorted(KIND_CLASSES)}: {kind!r}")
            obs = iri(ns.mint("observation", stem, key))
            add = self._add
            add(obs, iri(RDF + "type"), iri(eco(KIND_CLASSES[kind])))
            dataset_key = f"{stem}-organisations" if row.get("organisation") else stem
            add(obs, iri(QB + "dataSet"), iri(ns.mint("dataset", dataset_key)))
            value = row["value"]
            try:
                number = int(value) if kind == "ranking" or value.lstrip("-").isdigit() else None
                add(obs, iri(eco("obsValue")), literal(number if number is not None else _decimal(value)))
            except ValueError:
                raise CurationError(f"{where}: value is not a number: {value!r}") from None
            add(obs, iri(eco("statedValueText")), literal(row["stated"] or value))
            add(obs, iri(eco("unit")), self._curie(row["unit"], where))
            add(obs, iri(eco("valueQualifier")), self._curie(row.get("qualifier") or "eco:valueAsStated", where))
            add(obs, iri(eco("indicator")), self._curie(row["indicator"], where))
            add(obs, iri(eco("industry")), self._curie(row.get("industry") or "id:industry/all-activities", where))
            flags = [f for f in (row.get("flags") or "").split(";") if f.strip()]
            if row.get("area"):
                add(obs, iri(eco("refArea")), self._curie(row["area"], where))
                resolution = row.get("area_resolution") or "explicit"
                if resolution not in ("explicit", "inferred"):
                    raise CurationError(f"{where}: area_resolution must be explicit or inferred")
                add(obs, iri(eco("areaResolution")),
                    iri(eco("areaExplicit" if resolution == "explicit" else "areaInferredFromContext")))
                if resolution == "inferred":
                    flags.append("eco:areaInferred")
            if row.get("organisation"):
                add(obs, iri(eco("refOrganization")), self._curie(row["organisation"], where))
            period = row.get("period") or "id:period/unspecified"
            add(obs, iri(eco("refPeriod")), self._curie(period, where))
            if period.endswith("/unspecified"):
                flags.append("eco:periodUnspecified")
            document = iri(ns.mint("document", stem))
            if row.get("cited"):
                cited = self._curie(row["cited"], where)
                add(obs, iri(PROV + "hadPrimarySource"), cited)
                add(obs, iri(DCT + "source"), cited)
            else:
                add(obs, iri(DCT + "source"), document)
                flags.append("eco:sourceNotCited")
            if row.get("citation"):
                add(obs, iri(eco("citationAsStated")), literal(row["citation"]))
            if row.get("share_of"):
                add(obs, iri(eco("shareOf")), self._curie(row["share_of"], where))
            if row.get("ranked_among"):
                add(obs, iri(eco("rankedAmong")), self._curie(row["ranked_among"], where))
            for flag in sorted(set(flags)):
                add(obs, iri(eco("qualityFlag")), self._curie(flag, where))
            if row.get("note"):
                add(obs, iri(SKOS + "editorialNote"), literal(row["note"], lang="en"))
            add(obs, iri(PROV + "wasDerivedFrom"), self.excerpt(row["quote"], int(row.get("occurrence") or 1)))
            add(obs, iri(PROV + "wasGeneratedBy"), iri(ns.mint("activity", f"extract-{stem}")))

    def _gaps(self) -> None:
        ns, stem = self.ns, self.source.stem
        for where, row in self._rows("gaps.csv"):
            gap = iri(ns.mint("gap", stem, row["key"]))
            self._add(gap, iri(RDF + "type"), iri(ns.eco("DataGap")))
            self._add(gap, iri(ns.eco("statedText")), literal(row["quote"]))
            for flag in row["flag"].split(";"):
                self._add(gap, iri(ns.eco("qualityFlag")), self._curie(flag, where))
            for target in (row.get("concerns") or "").split(";"):
                if target.strip():
                    self._add(gap, iri(ns.eco("concerns")), self._curie(target, where))
            if row.get("note"):
                self._add(gap, iri(ns.eco("gapNote")), literal(row["note"], lang="en"))
            self._add(gap, iri(RDFS + "label"), literal(f"Incomplete statement: {row['quote'][:80]}", lang="en"))
            self._add(gap, iri(PROV + "wasDerivedFrom"), self.excerpt(row["quote"], int(row.get("occurrence") or 1)))


def _decimal(value: str) -> object:
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(value) from None


def mapping_lines(path: Path, ns: Namespaces, graph_iri: str) -> list[str]:
    """External identifiers from ``mappings.csv``: only rows whose status is ``confirmed``.

    :raises CurationError: on an unknown CURIE or status.
    """
    lines: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for number, row in enumerate(csv.DictReader(fh), start=2):
            status = (row.get("status") or "").strip()
            if status not in ("confirmed", "reported", "unconfirmed"):
                raise CurationError(f"{path.name}:{number}: unknown status {status!r}")
            if status != "confirmed":
                continue
            try:
                s, p = ns.expand(row["iri"]), ns.expand(row["relation"])
                external = row["external"].strip()
                o = ns.expand(external) if not external.startswith("http") else external
            except ValueError as exc:
                raise CurationError(f"{path.name}:{number}: {exc}") from None
            lines.append(quad(iri(s), iri(p), iri(o), iri(graph_iri)))
    return lines
