"""Ontology checks: a lint pass over the Turtle, and HermiT through owlready2.

This is the only module that imports owlready2, and only inside functions: the web
service never needs it, and the ``territory-kg check`` command calls it offline.

:func:`lint_ontology` looks at the RDF as written (labels, definitions, declarations,
datatypes). :func:`check_ontology` asks HermiT two questions about the ontology (the
TBox, without instance data):

1. Is it consistent, and which named classes are equivalent to ``owl:Nothing``?
2. As a second opinion on satisfiability, does it stay consistent when one fresh
   individual is asserted in every named class? A class whose individual makes the
   ontology inconsistent is unsatisfiable; culprits are isolated by bisection.

owlready2 reads N-Triples, not Turtle, so the files are parsed with rdflib and written
to a temporary N-Triples file first. Every run uses a freshly created
``owlready2.World`` (never the library's global default world), and anything owlready2
prints is captured and returned as messages instead of reaching the terminal.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

__all__ = ["OntologyReport", "OntologyCheckError", "OWL2_DATATYPES", "check_ontology", "lint_ontology"]

log = logging.getLogger(__name__)

_RDF_NS = str(RDF)
_RDFS_NS = str(RDFS)

#: The OWL 2 datatype map (OWL 2 Structural Specification, section 4), plus
#: ``rdf:langString``, the RDF 1.1 type of language-tagged strings. HermiT rejects
#: literals of any other datatype (``xsd:gYear``, ``xsd:date``…).
OWL2_DATATYPES: frozenset[str] = frozenset(
    [str(XSD[name]) for name in (
        "decimal", "integer", "nonNegativeInteger", "nonPositiveInteger", "positiveInteger",
        "negativeInteger", "long", "int", "short", "byte", "unsignedLong", "unsignedInt",
        "unsignedShort", "unsignedByte", "double", "float", "string", "normalizedString",
        "token", "language", "Name", "NCName", "NMTOKEN", "boolean", "hexBinary",
        "base64Binary", "anyURI", "dateTime", "dateTimeStamp")]
    + [str(OWL.real), str(OWL.rational), _RDF_NS + "XMLLiteral", _RDF_NS + "PlainLiteral",
       _RDF_NS + "langString", _RDFS_NS + "Literal"]
)

_ENTITY_TYPES = {
    OWL.Class: "class",
    OWL.ObjectProperty: "object property",
    OWL.DatatypeProperty: "datatype property",
    OWL.AnnotationProperty: "annotation property",
}
_AXIOM_PREDICATES = (RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.inverseOf,
                     OWL.equivalentClass, OWL.equivalentProperty, OWL.disjointWith)
_BUILT_IN = ("http://www.w3.org/2002/07/owl#", _RDF_NS, _RDFS_NS, str(XSD))
_DCTERMS = "http://purl.org/dc/terms/"
_VANN = "http://purl.org/vocab/vann/"
_CHECK_NS = "urn:x-territory-kg:satisfiability#"


class OntologyCheckError(RuntimeError):
    """The check could not be carried out: a file does not parse, Java is missing or
    HermiT failed for a reason other than an inconsistent ontology."""


@dataclass(frozen=True)
class OntologyReport:
    """What HermiT said about the ontology.

    :ivar consistent: HermiT found a model of the ontology.
    :ivar unsatisfiable: IRIs of named classes that can have no instance, sorted
        (empty when the ontology is inconsistent: then every class is).
    :ivar classes: named classes declared in the ontology's own namespace.
    :ivar properties: object and datatype properties declared in that namespace.
    :ivar seconds: wall-clock time of the whole check.
    :ivar messages: human-readable findings, including anything owlready2 printed
        (an empty list means nothing to report).
    """

    consistent: bool
    unsatisfiable: list[str]
    classes: int
    properties: int
    seconds: float
    messages: list[str]

    @property
    def ok(self) -> bool:
        """True when the ontology is consistent and every class is satisfiable."""
        return self.consistent and not self.unsatisfiable


# --------------------------------------------------------------------------------------
# HermiT
# --------------------------------------------------------------------------------------


def check_ontology(paths: Sequence[Path], *, java: str = "java") -> OntologyReport:
    """Check consistency and class satisfiability of an ontology with HermiT.

    Pass ``eco.ttl`` and ``alignments.ttl``, never ``eco-cube.ttl`` (its Data Cube
    typings pun the eco: properties). The files are merged into one graph.

    :param paths: Turtle files that together form the ontology.
    :param java: the Java executable HermiT runs on (Java 8 or later).
    :returns: the report; ``report.ok`` is the pass/fail verdict.
    :raises OntologyCheckError: if a file does not parse, Java cannot be started or
        HermiT fails for another reason than inconsistency.
    """
    started = time.perf_counter()
    graph = Graph()
    for path in paths:
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:  # rdflib raises many unrelated types for bad syntax
            raise OntologyCheckError(f"{path}: does not parse: {exc}") from exc
    namespace = _own_namespace(graph)
    classes = sorted(str(c) for c in graph.subjects(RDF.type, OWL.Class) if isinstance(c, URIRef))
    own_classes = [c for c in classes if namespace is None or c.startswith(namespace)]
    own_properties = {str(p) for kind in (OWL.ObjectProperty, OWL.DatatypeProperty)
                      for p in graph.subjects(RDF.type, kind)
                      if isinstance(p, URIRef) and (namespace is None or str(p).startswith(namespace))}
    messages: list[str] = []
    with tempfile.TemporaryDirectory(prefix="territory-kg-hermit-") as tmp:
        tbox = Path(tmp) / "ontology.nt"
        graph.serialize(destination=tbox, format="nt", encoding="utf-8")
        consistent, nothing = _hermit([tbox], java, messages)
        unsatisfiable = set(nothing)
        if not consistent:
            messages.append("HermiT: the ontology is inconsistent; class satisfiability was not checked")
        else:
            for iri in sorted(nothing):
                messages.append(f"unsatisfiable class (equivalent to owl:Nothing): {iri}")
            remaining = [c for c in classes if c not in unsatisfiable]
            for iri in _classes_without_model(tbox, remaining, Path(tmp), java, messages):
                unsatisfiable.add(iri)
                messages.append(f"unsatisfiable class (an instance makes the ontology inconsistent): {iri}")
    seconds = time.perf_counter() - started
    log.info("HermiT check: consistent=%s, %d unsatisfiable, %.1fs", consistent, len(unsatisfiable), seconds)
    return OntologyReport(consistent=consistent, unsatisfiable=sorted(unsatisfiable),
                          classes=len(own_classes), properties=len(own_properties),
                          seconds=seconds, messages=messages)


def _classes_without_model(tbox: Path, classes: list[str], tmp: Path, java: str,
                           messages: list[str]) -> list[str]:
    """The classes whose fresh individual makes ``tbox`` inconsistent (bisection)."""
    if not classes:
        return []
    with tempfile.NamedTemporaryFile("w", dir=tmp, suffix=".nt", delete=False, encoding="utf-8") as fh:
        individuals = Path(fh.name)
    lines = []
    for number, iri in enumerate(classes):
        node = f"<{_CHECK_NS}i{number}>"
        lines.append(f"{node} <{_RDF_NS}type> <{OWL.NamedIndividual}> .")
        lines.append(f"{node} <{_RDF_NS}type> <{iri}> .")
    individuals.write_text("\n".join(lines) + "\n", encoding="utf-8")
    consistent, _ = _hermit([tbox, individuals], java, messages)
    if consistent:
        return []
    if len(classes) == 1:
        return classes
    middle = len(classes) // 2
    return (_classes_without_model(tbox, classes[:middle], tmp, java, messages)
            + _classes_without_model(tbox, classes[middle:], tmp, java, messages))


def _hermit(files: Iterable[Path], java: str, messages: list[str]) -> tuple[bool, list[str]]:
    """Load N-Triples files into a fresh world and classify it with HermiT.

    :returns: (consistent, IRIs of named classes equivalent to owl:Nothing).
    """
    import owlready2

    world = owlready2.World()
    captured = io.StringIO()
    previous_java = owlready2.JAVA_EXE
    owlready2.JAVA_EXE = java
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            for path in files:
                world.get_ontology(path.resolve().as_uri()).load(format="ntriples")
            try:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
            except owlready2.OwlReadyInconsistentOntologyError:
                return False, []
        nothing = sorted({entity.iri for entity in world.inconsistent_classes()
                          if entity is not None and not entity.iri.startswith(str(OWL))})
        return True, nothing
    except owlready2.OwlReadyJavaError as exc:
        raise OntologyCheckError(f"HermiT failed: {exc}") from exc
    except OSError as exc:
        raise OntologyCheckError(f"cannot run Java ({java!r}): {exc}") from exc
    finally:
        owlready2.JAVA_EXE = previous_java
        world.close()
        for line in captured.getvalue().splitlines():
            note = f"owlready2: {line.strip()}"
            if line.strip() and note not in messages:
                messages.append(note)


# --------------------------------------------------------------------------------------
# Lint
# --------------------------------------------------------------------------------------


def _own_namespace(graph: Graph) -> str | None:
    """The namespace of the ontology's terms: ``vann:preferredNamespaceUri`` of the
    ``owl:Ontology``, else its IRI followed by ``#``; None without an ontology header."""
    for onto in sorted(graph.subjects(RDF.type, OWL.Ontology), key=str):
        preferred = graph.value(onto, URIRef(_VANN + "preferredNamespaceUri"))
        if preferred is not None:
            return str(preferred)
        return f"{onto}#"
    return None


def lint_ontology(graph: Graph) -> list[str]:
    """Problems a reasoner does not report, as sorted one-line messages.

    Checked, for every term in the ontology's own namespace (see :func:`_own_namespace`):

    - it is declared (``owl:Class``, a property type, or as an individual) and not as
      two kinds of entity at once;
    - it has exactly one ``rdfs:label`` in English and one in French, a
      ``skos:definition`` in both languages and ``rdfs:isDefinedBy`` the ontology;
    - a SKOS concept also has ``skos:prefLabel`` in both languages and a
      ``skos:inScheme`` that is a declared ``skos:ConceptScheme``.

    And for the whole graph: the ontology header (version IRI and info, title, licence,
    preferred prefix); every literal and every datatype-property range uses the OWL 2
    datatype map (:data:`OWL2_DATATYPES`); object properties do not range over
    datatypes; and external terms used in axioms are declared, so the ontology is OWL 2
    DL without importing anything.

    :param graph: the ontology (``eco.ttl`` plus ``alignments.ttl``).
    :returns: an empty list when there is nothing to report.
    """
    problems: list[str] = []
    ontologies = sorted(graph.subjects(RDF.type, OWL.Ontology), key=str)
    if not ontologies:
        return ["no owl:Ontology header: cannot tell which terms are the ontology's own"]
    onto = ontologies[0]
    assert isinstance(onto, (URIRef, BNode))
    namespace = _own_namespace(graph) or f"{onto}#"
    prefix = str(graph.value(onto, URIRef(_VANN + "preferredNamespacePrefix")) or "") or None

    def short(node: object) -> str:
        text = str(node)
        if prefix and text.startswith(namespace):
            return f"{prefix}:{text[len(namespace):]}"
        return f"<{text}>"

    problems.extend(_lint_header(graph, onto))
    problems.extend(_lint_datatypes(graph, short))

    own: set[URIRef] = set()
    for s, p, o in graph:
        for node in (s, p, o):
            if isinstance(node, URIRef) and str(node).startswith(namespace) and str(node) != namespace:
                own.add(node)
    schemes = set(graph.subjects(RDF.type, SKOS.ConceptScheme))
    for term in sorted(own, key=str):
        types = set(graph.objects(term, RDF.type))
        kinds = sorted(label for kind, label in _ENTITY_TYPES.items() if kind in types)
        if not types:
            problems.append(f"{short(term)}: used but not declared")
            continue
        if len(kinds) > 1:
            problems.append(f"{short(term)}: declared as more than one kind of entity ({', '.join(kinds)})")
        problems.extend(_lint_annotations(graph, term, onto, short))
        if SKOS.Concept in types or term in schemes:
            problems.extend(_lint_concept(graph, term, schemes, short))

    declared = set(graph.subjects(RDF.type, None))
    for predicate in _AXIOM_PREDICATES:
        for s, o in graph.subject_objects(predicate):
            for node in (s, o):
                if (isinstance(node, URIRef) and not str(node).startswith(namespace)
                        and not str(node).startswith(_BUILT_IN) and node not in declared):
                    problems.append(f"{short(node)}: external term used in an axiom but not declared")
    return sorted(set(problems))


def _lint_header(graph: Graph, onto: URIRef | BNode) -> list[str]:
    problems = []
    required = {
        "owl:versionIRI": OWL.versionIRI,
        "owl:versionInfo": OWL.versionInfo,
        "dcterms:title": URIRef(_DCTERMS + "title"),
        "dcterms:description": URIRef(_DCTERMS + "description"),
        "dcterms:license": URIRef(_DCTERMS + "license"),
        "vann:preferredNamespacePrefix": URIRef(_VANN + "preferredNamespacePrefix"),
    }
    for name, predicate in required.items():
        if graph.value(onto, predicate) is None:
            problems.append(f"ontology header: no {name}")
    return problems


def _lint_datatypes(graph: Graph, short: Callable[[object], str]) -> list[str]:
    problems = []
    for s, p, o in graph:
        if isinstance(o, Literal) and o.datatype is not None and str(o.datatype) not in OWL2_DATATYPES:
            problems.append(f"literal {o.n3()} on {short(s)}: datatype outside the OWL 2 datatype map")
    for prop, rng in graph.subject_objects(RDFS.range):
        if isinstance(rng, BNode):
            continue
        is_datatype = str(rng).startswith(str(XSD)) or str(rng) in OWL2_DATATYPES
        if (prop, RDF.type, OWL.DatatypeProperty) in graph and str(rng) not in OWL2_DATATYPES:
            problems.append(f"{short(prop)}: range {short(rng)} is outside the OWL 2 datatype map")
        if (prop, RDF.type, OWL.ObjectProperty) in graph and is_datatype:
            problems.append(f"{short(prop)}: object property with a datatype range {short(rng)}")
    return problems


def _lint_annotations(graph: Graph, term: URIRef, onto: Node, short: Callable[[object], str]) -> list[str]:
    problems = []
    name = short(term)
    labels = list(graph.objects(term, RDFS.label))
    for lang in ("en", "fr"):
        count = sum(1 for label in labels if isinstance(label, Literal) and label.language == lang)
        if count == 0:
            problems.append(f"{name}: no rdfs:label in @{lang}")
        elif count > 1:
            problems.append(f"{name}: more than one rdfs:label in @{lang}")
        if not any(isinstance(d, Literal) and d.language == lang for d in graph.objects(term, SKOS.definition)):
            problems.append(f"{name}: no skos:definition in @{lang}")
    if any(isinstance(label, Literal) and not label.language for label in labels):
        problems.append(f"{name}: rdfs:label without a language tag")
    if (term, RDFS.isDefinedBy, onto) not in graph:
        problems.append(f"{name}: no rdfs:isDefinedBy the ontology")
    return problems


def _lint_concept(graph: Graph, term: URIRef, schemes: set[Node],
                  short: Callable[[object], str]) -> list[str]:
    problems = []
    name = short(term)
    for lang in ("en", "fr"):
        if not any(isinstance(x, Literal) and x.language == lang for x in graph.objects(term, SKOS.prefLabel)):
            problems.append(f"{name}: no skos:prefLabel in @{lang}")
    if term not in schemes:
        in_schemes = list(graph.objects(term, SKOS.inScheme))
        if not in_schemes:
            problems.append(f"{name}: concept without skos:inScheme")
        for scheme in in_schemes:
            if scheme not in schemes:
                problems.append(f"{name}: skos:inScheme {short(scheme)} is not a skos:ConceptScheme")
    return problems
