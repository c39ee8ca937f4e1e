"""The ontology as documentation: the ``eco:`` graph normalised into plain, sorted structures.

:func:`load_ontology` reads the published ontology files (``eco.ttl``, ``eco-cube.ttl``,
``alignments.ttl`` in ``ONTOLOGY_DIR``; the SHACL shapes are a separate document), re-bases
them to the configured base and returns an :class:`OntologyDoc`: the header (title,
description, version, licence), every class with its super- and subclasses and the
hierarchy as a tree, every property with its domain and range (``owl:unionOf`` lists
flattened to "any of"), the controlled concepts, and for each term its labels,
definitions (``skos:definition``, else ``rdfs:comment``) and examples (``skos:example``)
per language. Templates render it; nothing here builds HTML.

>>> short_name("http://kg.test/def/eco#Region", "http://kg.test/def/eco#")
'Region'
>>> short_name("http://www.w3.org/ns/org#Site", "http://kg.test/def/eco#")
'org:Site'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from service.iris import DEFAULT_BASE, EXTERNAL_PREFIXES, Namespaces, rebase

__all__ = ["ONTOLOGY_DOC_FILES", "TermRef", "TermDoc", "TreeNode", "OntologyDoc", "load_ontology_graph",
           "load_ontology", "short_name"]

log = logging.getLogger(__name__)

#: The files published as the ontology document (shapes are their own document).
ONTOLOGY_DOC_FILES = ("eco.ttl", "eco-cube.ttl", "alignments.ttl")

DCTERMS = "http://purl.org/dc/terms/"
_LABELS = (RDFS.label, SKOS.prefLabel)
_DEFINITIONS = (SKOS.definition, RDFS.comment)
_MATCHES = (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, OWL.equivalentClass,
            OWL.equivalentProperty)
_PROPERTY_TYPES = {OWL.ObjectProperty: "object", OWL.DatatypeProperty: "datatype",
                   OWL.AnnotationProperty: "annotation"}
_CHARACTERISTICS = {OWL.TransitiveProperty: "transitive", OWL.FunctionalProperty: "functional",
                    OWL.SymmetricProperty: "symmetric", OWL.InverseFunctionalProperty: "inverse-functional"}


_MORE_PREFIXES = {"igeo": "http://rdf.insee.fr/def/geo#", "wdt": "http://www.wikidata.org/prop/direct/",
                  "sdmx-dimension": "http://purl.org/linked-data/sdmx/2009/dimension#",
                  "sdmx-attribute": "http://purl.org/linked-data/sdmx/2009/attribute#",
                  "sdmx-measure": "http://purl.org/linked-data/sdmx/2009/measure#"}


def short_name(iri: str, eco_ns: str) -> str:
    """``eco:`` terms by local name, well-known vocabularies as CURIEs, anything else as is."""
    if iri.startswith(eco_ns):
        return iri[len(eco_ns):]
    for prefix, ns in {**EXTERNAL_PREFIXES, **_MORE_PREFIXES}.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


@dataclass(frozen=True)
class TermRef:
    """A reference to a term: ``local`` is true for ``eco:`` terms (linked by ``#anchor``)."""

    iri: str
    name: str
    local: bool
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        """The label in ``lang``, else English, else the short name."""
        return self.labels.get(lang) or self.labels.get("en") or self.name


@dataclass
class TermDoc:
    """One documented term (class, property or concept) of the ``eco:`` namespace.

    ``labels``/``definitions`` map a language tag to text, ``examples`` a tag to a list.
    """

    iri: str
    name: str
    kind: str
    labels: dict[str, str] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    parents: list[TermRef] = field(default_factory=list)
    children: list[TermRef] = field(default_factory=list)
    domain: list[TermRef] = field(default_factory=list)
    range: list[TermRef] = field(default_factory=list)
    inverse: list[TermRef] = field(default_factory=list)
    disjoint: list[TermRef] = field(default_factory=list)
    characteristics: list[str] = field(default_factory=list)
    matches: list[TermRef] = field(default_factory=list)
    types: list[TermRef] = field(default_factory=list)

    def label(self, lang: str) -> str:
        """The label in ``lang``, else English, else the local name."""
        return self.labels.get(lang) or self.labels.get("en") or self.name

    def definition(self, lang: str) -> str:
        """The definition in ``lang``, else English, else ``""``."""
        return self.definitions.get(lang) or self.definitions.get("en") or ""


@dataclass
class TreeNode:
    """A class in the hierarchy tree with its subclasses (a class with two parents appears twice)."""

    term: TermDoc
    children: list[TreeNode] = field(default_factory=list)


@dataclass
class OntologyDoc:
    """The normalised ontology: header, terms by kind (sorted by name) and the class tree."""

    iri: str
    namespace: str
    version: str
    version_iri: str
    license: str
    titles: dict[str, str]
    descriptions: dict[str, str]
    classes: list[TermDoc]
    properties: list[TermDoc]
    concepts: list[TermDoc]
    tree: list[TreeNode]
    graph: Graph

    def term(self, name: str) -> TermDoc | None:
        """The class, property or concept with local name ``name``, if any."""
        for term in (*self.classes, *self.properties, *self.concepts):
            if term.name == name:
                return term
        return None


def load_ontology_graph(ontology_dir: Path, base: str) -> Graph:
    """The published ontology files parsed into one graph, re-based to ``base``.

    :raises FileNotFoundError: if a file of :data:`ONTOLOGY_DOC_FILES` is missing.
    :raises ValueError: if a file does not parse (rdflib's error, re-raised with the path).
    """
    graph = Graph()
    for name in ONTOLOGY_DOC_FILES:
        raw = Graph()
        path = ontology_dir / name
        try:
            raw.parse(path, format="turtle")
        except FileNotFoundError:
            raise
        except Exception as exc:  # rdflib raises many unrelated types for bad syntax
            raise ValueError(f"{path}: {exc}") from None
        for triple in raw:
            s, p, o = (_rebased(t, base) for t in triple)
            graph.add((s, p, o))
    ns = Namespaces(base)
    graph.bind("eco", ns.eco_ns)
    for prefix, iri in EXTERNAL_PREFIXES.items():
        graph.bind(prefix, iri)
    return graph


def _rebased(term: Any, base: str) -> Any:
    if isinstance(term, URIRef) and base != DEFAULT_BASE:
        return URIRef(rebase(str(term), base))
    return term


def _by_lang(graph: Graph, subject: Any, predicates: Iterable[URIRef]) -> dict[str, str]:
    """First value per language over ``predicates`` in order (untagged counts as English)."""
    out: dict[str, str] = {}
    for pred in predicates:
        for value in sorted(graph.objects(subject, pred), key=str):
            if isinstance(value, Literal):
                out.setdefault(value.language or "en", str(value))
    return out


def _members(graph: Graph, node: Any) -> list[Any]:
    """A class expression's named members: itself, or the items of its ``owl:unionOf``."""
    if isinstance(node, BNode):
        union = graph.value(node, OWL.unionOf)
        return [m for m in Collection(graph, union) if isinstance(m, URIRef)] if union is not None else []
    return [node]


def load_ontology(ontology_dir: Path, base: str) -> OntologyDoc:
    """Normalise the ontology in ``ontology_dir`` (see the module docstring).

    :raises FileNotFoundError: if an ontology file is missing.
    :raises ValueError: if a file does not parse.
    """
    ns = Namespaces(base)
    graph = load_ontology_graph(ontology_dir, base)
    eco = ns.eco_ns
    onto = URIRef(ns.ontology)

    def is_eco(node: Any) -> bool:
        return isinstance(node, URIRef) and str(node).startswith(eco)

    def ref(node: Any) -> TermRef:
        return TermRef(str(node), short_name(str(node), eco), is_eco(node), _by_lang(graph, node, _LABELS))

    def refs(nodes: Iterable[Any]) -> list[TermRef]:
        seen = {str(n): n for node in nodes for n in _members(graph, node)}
        return sorted((ref(n) for n in seen.values()), key=lambda r: (not r.local, r.name))

    def doc(node: Any, kind: str) -> TermDoc:
        examples: dict[str, list[str]] = {}
        for value in sorted(graph.objects(node, SKOS.example), key=str):
            examples.setdefault(getattr(value, "language", None) or "en", []).append(str(value))
        return TermDoc(str(node), str(node)[len(eco):], kind, _by_lang(graph, node, _LABELS),
                       _by_lang(graph, node, _DEFINITIONS), examples,
                       matches=refs(o for p in _MATCHES for o in graph.objects(node, p)))

    classes: dict[str, TermDoc] = {}
    for node in set(graph.subjects(RDF.type, OWL.Class)) | set(graph.subjects(RDF.type, RDFS.Class)):
        if is_eco(node):
            term = doc(node, "class")
            term.parents = refs(graph.objects(node, RDFS.subClassOf))
            term.children = refs(s for s in graph.subjects(RDFS.subClassOf, node) if is_eco(s))
            term.disjoint = refs(set(graph.objects(node, OWL.disjointWith))
                                 | set(graph.subjects(OWL.disjointWith, node)))
            classes[term.name] = term

    properties: dict[str, TermDoc] = {}
    for rdf_type, kind in _PROPERTY_TYPES.items():
        for node in graph.subjects(RDF.type, rdf_type):
            if is_eco(node) and str(node)[len(eco):] not in properties:
                term = doc(node, kind)
                term.parents = refs(graph.objects(node, RDFS.subPropertyOf))
                term.children = refs(s for s in graph.subjects(RDFS.subPropertyOf, node) if is_eco(s))
                term.domain = refs(graph.objects(node, RDFS.domain))
                term.range = refs(graph.objects(node, RDFS.range))
                term.inverse = refs(set(graph.objects(node, OWL.inverseOf))
                                    | set(graph.subjects(OWL.inverseOf, node)))
                types = set(graph.objects(node, RDF.type))
                term.characteristics = sorted(v for k, v in _CHARACTERISTICS.items() if k in types)
                term.types = refs(t for t in types if t not in _PROPERTY_TYPES and t not in _CHARACTERISTICS)
                properties[term.name] = term

    concepts: dict[str, TermDoc] = {}
    for node in set(graph.subjects(RDF.type, SKOS.Concept)) | set(graph.subjects(RDF.type, SKOS.ConceptScheme)):
        name = str(node)[len(eco):]
        if is_eco(node) and name not in classes and name not in properties:
            term = doc(node, "scheme" if (node, RDF.type, SKOS.ConceptScheme) in graph else "concept")
            term.types = refs(t for t in graph.objects(node, RDF.type) if is_eco(t))
            term.parents = refs(graph.objects(node, SKOS.inScheme))
            concepts[name] = term

    def grow(term: TermDoc, path: frozenset[str]) -> TreeNode:
        kids = [classes[c.name] for c in term.children if c.name in classes and c.name not in path]
        return TreeNode(term, [grow(k, path | {k.name}) for k in kids])

    roots = sorted((t for t in classes.values() if not any(p.local for p in t.parents)), key=lambda t: t.name)
    version_iri = graph.value(onto, OWL.versionIRI)
    doc_out = OntologyDoc(
        iri=str(onto), namespace=eco, version=str(graph.value(onto, OWL.versionInfo) or ""),
        version_iri=str(version_iri or ""), license=str(graph.value(onto, URIRef(DCTERMS + "license")) or ""),
        titles=_by_lang(graph, onto, (URIRef(DCTERMS + "title"), RDFS.label)),
        descriptions=_by_lang(graph, onto, (URIRef(DCTERMS + "description"), RDFS.comment)),
        classes=sorted(classes.values(), key=lambda t: t.name),
        properties=sorted(properties.values(), key=lambda t: t.name),
        concepts=sorted(concepts.values(), key=lambda t: (t.kind != "scheme", t.name)),
        tree=[grow(r, frozenset({r.name})) for r in roots], graph=graph)
    log.info("ontology docs: %d classes, %d properties, %d concepts", len(doc_out.classes),
             len(doc_out.properties), len(doc_out.concepts))
    return doc_out
