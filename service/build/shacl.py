"""SHACL Core (a subset) compiled to SPARQL and run by the embedded engine.

pySHACL walks the data node by node in Python, which does not scale to millions of
triples. :func:`compile_shapes` turns each constraint into one SPARQL SELECT (a
:class:`Check`) returning failing focus nodes ``?this`` and values ``?value``;
:func:`validate` runs them in the store. ``tests/build/test_shacl.py`` proves the results
equal pySHACL's. Supported (anything else on a shape raises :class:`UnsupportedShape`):
targets ``sh:targetClass`` (also implicit) and ``sh:targetNode``; paths IRI or
``[ sh:inversePath IRI ]``; ``sh:minCount maxCount datatype class nodeKind pattern
(flags) hasValue in min/maxInclusive min/maxExclusive``; ``sh:or xone not`` whose members
use those (a member with ``sh:path`` is a property shape of the node it applies to, one
without constrains that node, or each value on a property shape); ``sh:sparql``
(``sh:select`` with ``$this``/``$PATH``, ``sh:prefixes``); ``sh:severity message deactivated``.

Semantics to know:

* Class membership is SHACL's ``rdf:type/rdfs:subClassOf*`` in the *data* (the ontology
  is in the same store): an ``eco:Commune`` is a target of a shape on ``eco:Territory``
  without materialised types, and materialised types change nothing.
* A property shape's severity is its own, not inherited from its node shape (as in SHACL).
* ``sh:severity`` on an ``sh:sparql`` node is ignored by SHACL engines, so it raises here.
* A SPARQL constraint runs once for all focus nodes, the target pattern inserted at the top
  of its WHERE clause: like pre-binding ``$this``, unless ``$this`` is in a sub-SELECT.
* Comparisons follow SPARQL: a value that cannot be compared (a string or a boolean
  against ``sh:minInclusive 0``) fails the constraint.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from service.iris import EXTERNAL_PREFIXES

__all__ = ["INFO", "VIOLATION", "WARNING", "Check", "UnsupportedShape", "ValidationReport", "ValidationResult",
           "compact", "compile_shapes", "validate"]

log = logging.getLogger(__name__)

SH_NS = str(SH)
VIOLATION, WARNING, INFO = SH_NS + "Violation", SH_NS + "Warning", SH_NS + "Info"
_RANK = {VIOLATION: 0, WARNING: 1, INFO: 2}
_TYPE, _SUBCLASS = f"<{RDF.type}>", f"<{RDFS.subClassOf}>"
_OPS = {"minInclusive": ">=", "maxInclusive": "<=", "minExclusive": ">", "maxExclusive": "<"}
#: Constraints on each value node, in the order checks are generated.
_VALUE = ("datatype", "class", "nodeKind", "pattern", "in", *_OPS, "or", "xone", "not")
_EXPLAIN = {"datatype": "expected a literal of type", "class": "expected an instance of",
            "nodeKind": "expected a node of kind", "pattern": "expected a match of",
            "in": "expected one of", "or": "conforms to none of the sh:or alternatives",
            "xone": "does not conform to exactly one of the sh:xone alternatives",
            "not": "conforms to the sh:not shape", **{k: f"expected a value {op}" for k, op in _OPS.items()}}
_NODE_KINDS = {"IRI": "isIRI", "Literal": "isLiteral", "BlankNode": "isBlank", "BlankNodeOrIRI": "isBlank isIRI",
               "IRIOrLiteral": "isIRI isLiteral", "BlankNodeOrLiteral": "isBlank isLiteral"}
#: Datatypes whose lexical form the engine checks by casting, so ill-typed literals fail.
_CASTABLE = {XSD.integer, XSD.decimal, XSD.double, XSD.float, XSD.boolean, XSD.dateTime, XSD.date, XSD.time}
_ANNOTATIONS = {"severity", "message", "deactivated", "name", "description", "order", "group"}
_SUPPORTED = {*_VALUE, *_ANNOTATIONS, "minCount", "maxCount", "hasValue", "flags", "sparql", "path", "property",
              "targetClass", "targetNode", "defaultValue"}
#: sh: properties that do not by themselves make a node a shape.
_NOT_SHAPE = {*_ANNOTATIONS, "select", "ask", "prefixes", "declare", "prefix", "namespace", "inversePath",
              "alternativePath", "zeroOrMorePath", "oneOrMorePath", "zeroOrOnePath"}


def _component(name: str) -> str:
    return f"{SH_NS}{name[:1].upper()}{name[1:]}ConstraintComponent"


class UnsupportedShape(ValueError):
    """A shape uses something outside the compiled subset or is malformed: ``shape`` names
    it (CURIE, or a blank node's parent and path), ``component`` is e.g. ``sh:NodeConstraintComponent``."""

    def __init__(self, shape: str, component: str, detail: str = "not supported") -> None:
        self.shape, self.component = shape, component.replace(SH_NS, "sh:")
        super().__init__(f"SHACL shape {shape}: {self.component}: {detail}")


@dataclass(frozen=True)
class Check:
    """One constraint of one shape as one SELECT returning ``?this`` and optionally ``?value``,
    ``?path``, ``?count``, ``?message`` (``message`` may hold ``{?var}``/``{$this}``). ``shape``
    is the shape's IRI (its node shape's for a blank property shape) or a label; ``path`` is
    the result path in SPARQL syntax with full IRIs (``<p>``, ``^<p>``)."""

    shape: str
    focus: str
    severity: str
    message: str
    sparql: str
    component: str
    path: str | None = None
    prefixes: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class ValidationResult:
    """One failure; focus node and value in N-Triples syntax, ``path`` as in :class:`Check`."""

    focus: str
    path: str | None
    value: str | None
    severity: str
    message: str
    shape: str
    component: str


@dataclass(frozen=True)
class ValidationReport:
    """All results, sorted by shape, severity, focus node, path, component and value;
    ``truncated`` names the checks that hit ``limit_per_check`` (more results exist)."""

    results: list[ValidationResult]
    truncated: tuple[str, ...] = ()
    prefixes: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def conforms(self) -> bool:
        """True when no result is a violation (warnings and infos are allowed)."""
        return not self.violations

    @property
    def violations(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == VIOLATION]

    @property
    def warnings(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == WARNING]

    def text(self, limit: int = 50) -> str:
        """A summary line, then one line per result (at most ``limit``, violations first), grouped by shape."""
        table = dict(self.prefixes)
        counts = (len(self.violations), len(self.warnings))
        others = len(self.results) - sum(counts)
        lines = [f"SHACL: {counts[0]} violation(s), {counts[1]} warning(s), {others} other result(s)"]
        shape = None
        # Violations first, so a failing build shows them even among many warnings.
        for r in sorted(self.results, key=lambda r: _RANK.get(r.severity, 3))[:limit]:
            name = compact(r.shape, table)
            if r.shape != shape:
                shape = r.shape
                lines.append(f"{name}:")
            where = _show(r.path, table) if r.path else ""
            where = f"{where}: " if where and where not in r.message else ""
            level = compact(r.severity, table).rpartition(":")[2].upper()
            lines.append(f"  {level} {r.focus}  {where}{r.message} ({name})")
        if len(self.results) > limit:
            lines.append(f"  … {len(self.results) - limit} more results not shown")
        lines += [f"  (truncated: {name})" for name in self.truncated]
        return "\n".join(lines)


def compact(iri: str, prefixes: Mapping[str, str]) -> str:
    """``prefix:local`` for an IRI under a known namespace (longest wins), else ``<iri>``.

    >>> compact("http://www.w3.org/2001/XMLSchema#integer", {"xsd": "http://www.w3.org/2001/XMLSchema#"})
    'xsd:integer'
    """
    best = max((ns for ns in prefixes.values() if iri.startswith(ns)), key=len, default=None)
    if best is None or not re.fullmatch(r"[\w.\-/]*", iri[len(best):]):
        return f"<{iri}>" if re.match(r"[A-Za-z][\w+.\-]*:[^\s<>\"]*$", iri) and iri[:2] != "_:" else iri
    return next(p for p, ns in prefixes.items() if ns == best) + ":" + iri[len(best):]


def _show(nt: str, prefixes: Mapping[str, str]) -> str:
    """An N-Triples term or a path (``^<p>``) with its IRIs compacted."""
    return re.sub(r"<([^>]*)>", lambda m: compact(m[1], prefixes), nt)


class _Queryable(Protocol):
    def query(self, query: str, *, use_default_graph_as_union: bool = ...) -> Any: ...


class _Compiler:
    """Walks a shapes graph; one instance per :func:`compile_shapes` call."""

    def __init__(self, g: Graph, prefixes: dict[str, str]) -> None:
        self.g, self.prefixes, self._n = g, prefixes, 0

    def sh(self, node: Node, name: str) -> list[Node]:
        return sorted(self.g.objects(node, URIRef(SH_NS + name)), key=str)

    def one(self, node: Node, name: str) -> Node | None:
        if len(values := self.sh(node, name)) > 1:
            raise UnsupportedShape(self.label(node), f"sh:{name}", "more than one value")
        return values[0] if values else None

    def items(self, node: Node) -> list[Node]:
        return list(Collection(self.g, node))

    def var(self) -> str:
        self._n += 1
        return f"?_v{self._n}"

    def label(self, node: Node) -> str:
        if isinstance(node, URIRef):
            return compact(str(node), self.prefixes)
        path, parent = self.g.value(node, SH.path), self.g.value(None, SH.property, node)
        where = f"[sh:path {self.show(path)}]" if path is not None else "[blank shape]"
        return f"{self.label(parent)} {where}" if parent is not None else where

    def show(self, term: Node | None) -> str:
        if isinstance(term, URIRef):
            return compact(str(term), self.prefixes)
        if isinstance(term, BNode) and (inv := self.g.value(term, SH.inversePath)) is not None:
            return "^" + self.show(inv)
        return term.n3() if isinstance(term, Literal) else "[]"

    def term(self, shape: Node, term: Node) -> str:
        if isinstance(term, BNode):
            raise UnsupportedShape(self.label(shape), "blank node value", "use an IRI or a literal")
        return term.n3()

    def is_off(self, node: Node) -> bool:
        return any(v == Literal(True) for v in self.sh(node, "deactivated"))

    def shapes(self) -> list[Node]:
        """Every node that is a shape, checked against the subset so nothing goes unseen."""
        nodes: set[Node] = {*self.g.subjects(RDF.type, SH.NodeShape), *self.g.subjects(RDF.type, SH.PropertyShape)}
        nodes |= {s for s, p in self.g.subject_predicates(None)
                  if str(p).startswith(SH_NS) and str(p)[len(SH_NS):] not in _NOT_SHAPE}
        for node in sorted(nodes, key=str):
            for p in sorted({str(p) for p in self.g.predicates(node) if str(p).startswith(SH_NS)}):
                local = p[len(SH_NS):]
                if local not in _SUPPORTED:
                    kind = "sh:" + local if local.startswith("target") else _component(local)
                    raise UnsupportedShape(self.label(node), kind, f"sh:{local} is not supported")
        return sorted(nodes, key=str)

    def path(self, shape: Node) -> str | None:
        """The shape's path in SPARQL syntax, None for a node shape; checks what needs which."""
        path = self.one(shape, "path")
        if path is None and (self.sh(shape, "minCount") or self.sh(shape, "maxCount")):
            raise UnsupportedShape(self.label(shape), _component("minCount"), "needs sh:path")
        if path is not None and self.sh(shape, "property"):
            raise UnsupportedShape(self.label(shape), "sh:property", "on a property shape")
        if path is None or isinstance(path, URIRef):
            return None if path is None else f"<{path}>"
        inv = self.g.value(path, SH.inversePath)
        if isinstance(inv, URIRef) and len(set(self.g.predicate_objects(path))) == 1:
            return f"^<{inv}>"
        raise UnsupportedShape(self.label(shape), "sh:path", "only an IRI or [ sh:inversePath IRI ]")

    def target(self, shape: Node) -> tuple[str, str] | None:
        """A group binding each focus node to ``?this`` once, and a description; None: no target."""
        classes = self.sh(shape, "targetClass")
        if {RDFS.Class, *self.g.subjects(RDFS.subClassOf, RDFS.Class)} & set(self.g.objects(shape, RDF.type)):
            classes.append(shape)  # an implicit class target
        nodes = self.sh(shape, "targetNode")
        if not classes and not nodes:
            return None
        branches = [f"{{ ?this {_TYPE} {self.term(shape, c)} }} UNION "
                    f"{{ ?_cls {_SUBCLASS}+ {self.term(shape, c)} . ?this {_TYPE} ?_cls }}" for c in classes]
        if nodes:
            branches.append("{ VALUES ?this { " + " ".join(self.term(shape, n) for n in nodes) + " } }")
        desc = "; ".join([f"instances of {', '.join(map(self.show, classes))}"] * bool(classes)
                         + [f"nodes {', '.join(map(self.show, nodes))}"] * bool(nodes))
        return "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(branches) + " } }", desc

    def count(self, shape: Node, name: str) -> list[int]:
        values = [v.toPython() if isinstance(v, Literal) else None for v in self.sh(shape, name)]
        counts = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
        if len(counts) < len(values):
            raise UnsupportedShape(self.label(shape), _component(name), "not a non-negative integer")
        return counts

    def condition(self, shape: Node, name: str, value: Node, v: str) -> str:
        """A SPARQL expression, true when ``v`` passes the constraint; it never errors."""
        if name == "datatype":
            if value == RDFS.Literal:
                return f"isLiteral({v})"
            if value == RDF.langString:
                return f'COALESCE(isLiteral({v}) && lang({v}) != "", false)'
            cast = f" && isLiteral({value.n3()}(STR({v})))" if value in _CASTABLE else ""
            return f"COALESCE(isLiteral({v}) && datatype({v}) = {self.term(shape, value)}{cast}, false)"
        if name == "class":
            return f"EXISTS {{ {self.members(shape, value, v)} }}"
        if name == "nodeKind":
            kind = str(value)[len(SH_NS):]
            if kind not in _NODE_KINDS:
                raise UnsupportedShape(self.label(shape), _component(name), f"unknown kind {self.show(value)}")
            return "(" + " || ".join(f"{fn}({v})" for fn in _NODE_KINDS[kind].split()) + ")"
        if name == "pattern":
            flags = self.one(shape, "flags")
            extra = f", {Literal(str(flags)).n3()}" if flags is not None else ""
            return f"COALESCE(!isBlank({v}) && REGEX(STR({v}), {Literal(str(value)).n3()}{extra}), false)"
        if name == "in":
            return "(" + (" || ".join(f"sameTerm({v}, {self.term(shape, i)})" for i in self.items(value))
                          or "false") + ")"
        if name in _OPS:
            return f"COALESCE({v} {_OPS[name]} {self.term(shape, value)}, false)"
        if name == "not":
            return f"!{self.conforms(value, v)}"
        members = [self.conforms(m, v) for m in self.items(value)]
        if name == "or":
            return "(" + (" || ".join(members) or "false") + ")"
        return "(" + (" + ".join(f"IF({m}, 1, 0)" for m in members) or "0") + " = 1)"

    def members(self, shape: Node, cls: Node, v: str) -> str:
        """A pattern matching ``v`` to each instance of ``cls`` (``rdf:type/rdfs:subClassOf*``)."""
        c, t = self.term(shape, cls), self.var()
        return f"{{ {v} {_TYPE} {c} }} UNION {{ {v} {_TYPE} {t} . {t} {_SUBCLASS}+ {c} }}"

    def at_least(self, shape: Node, v: str, path: str, n: int) -> str:
        if n == 0:
            return "true"
        if n > 4:  # the pairwise-distinct pattern grows as n²
            raise UnsupportedShape(self.label(shape), _component("minCount"), "above 4 inside or/xone/not")
        ys = [self.var() for _ in range(n)]
        distinct = " && ".join(f"!sameTerm({a}, {b})" for i, a in enumerate(ys) for b in ys[i + 1:])
        return "EXISTS { " + " ".join(f"{v} {path} {y} ." for y in ys) + (f" FILTER({distinct})" * bool(distinct)) + " }"

    def conforms(self, shape: Node, v: str) -> str:
        """An expression, true when ``v`` conforms to the member ``shape`` of or/xone/not."""
        if self.is_off(shape):
            return "true"
        if self.sh(shape, "sparql"):
            raise UnsupportedShape(self.label(shape), _component("SPARQL"), "inside or/xone/not")
        path, terms = self.path(shape), []
        if path is None:
            terms += [f"sameTerm({v}, {self.term(shape, t)})" for t in self.sh(shape, "hasValue")]
            terms += [self.condition(shape, n, x, v) for n in _VALUE for x in self.sh(shape, n)]
            terms += [self.conforms(p, v) for p in self.sh(shape, "property")]
        else:
            terms += [self.at_least(shape, v, path, n) for n in self.count(shape, "minCount")]
            terms += ["!" + self.at_least(shape, v, path, m + 1) for m in self.count(shape, "maxCount")]
            terms += [f"EXISTS {{ {v} {path} {self.term(shape, t)} }}" for t in self.sh(shape, "hasValue")]
            y = self.var()
            if conds := [self.condition(shape, n, x, y) for n in _VALUE for x in self.sh(shape, n)]:
                terms.append(f"NOT EXISTS {{ {v} {path} {y} FILTER(!({' && '.join(conds)})) }}")
        return "(" + (" && ".join(terms) or "true") + ")"

    def message(self, node: Node) -> str | None:
        msgs = sorted((m for m in self.sh(node, "message") if isinstance(m, Literal)),
                      key=lambda m: (m.language not in (None, "en"), m.language or "", str(m)))
        return str(msgs[0]) if msgs else None

    def checks(self, shape: Node, target: tuple[str, str], owner: str) -> Iterator[Check]:
        """Every check of a node or property shape, evaluated on ``target``."""
        if self.is_off(shape):
            return
        owner = str(shape) if isinstance(shape, URIRef) else owner
        pattern, focus = target
        path, shown_path = self.path(shape), self.show(self.one(shape, "path"))
        sev, user = str(self.one(shape, "severity") or VIOLATION), self.message(shape)
        prefixes = tuple(sorted(self.prefixes.items()))

        def check(name: str, msg: str, body: str, select: str = "?this", tail: str = "") -> Check:
            sparql = f"SELECT {select} WHERE {{ {pattern} {body} }}{tail}"
            return Check(owner, focus, sev, user or msg, sparql, _component(name), path, prefixes)

        mins, maxs = self.count(shape, "minCount"), self.count(shape, "maxCount")
        for is_min, n in [(True, n) for n in mins] + [(False, n) for n in maxs]:
            how = "exactly" if mins == maxs else "at least" if is_min else "at most"
            msg = f"expected {how} {n} value{'s' * (n != 1)} of {shown_path}, found {{?count}}"
            if is_min and n <= 1:  # minCount 0 never fails; 1 needs no counting
                if n:
                    yield check("minCount", msg, f"MINUS {{ ?this {path} ?_o }} BIND(0 AS ?count)", "?this ?count")
                continue
            body = f"OPTIONAL {{ ?this {path} ?_o }}" if is_min else f"?this {path} ?_o ."
            yield check("minCount" if is_min else "maxCount", msg, body, "?this (COUNT(DISTINCT ?_o) AS ?count)",
                        f" GROUP BY ?this HAVING (COUNT(DISTINCT ?_o) {'<' if is_min else '>'} {n})")
        for t in self.sh(shape, "hasValue"):
            yield (check("hasValue", f"expected the value {self.show(t)} of {shown_path}",
                         f"FILTER NOT EXISTS {{ ?this {path} {self.term(shape, t)} }}") if path else
                   check("hasValue", f"expected the node to be {self.show(t)}",
                         f"FILTER(!sameTerm(?this, {self.term(shape, t)}))"))
        where = f"{shown_path}: " if path else ""
        bind = f"?this {path} ?value ." if path else "BIND(?this AS ?value)"
        for name in _VALUE:
            for value in self.sh(shape, name):
                self._n = 0  # variable names restart per query: the text stays deterministic
                test = (f"MINUS {{ {self.members(shape, value, '?value')} }}" if name == "class"
                        else f"FILTER(!{self.condition(shape, name, value, '?value')})")
                shown = (", ".join(map(self.show, self.items(value))) if name == "in"
                         else "" if name in ("or", "xone", "not") else self.show(value))
                msg = f"{where}{_EXPLAIN[name]} {shown}".rstrip() + ", got {?value}"
                yield check(name, msg, f"{bind} {test}", "DISTINCT ?this ?value")
        for cons in (c for c in self.sh(shape, "sparql") if not self.is_off(c)):
            query, note = self.sparql(shape, cons, pattern, path)
            yield Check(owner, focus, sev, note or user or "SPARQL constraint not met", query, _component("SPARQL"),
                        path, prefixes)
        for prop in self.sh(shape, "property"):
            yield from self.checks(prop, target, owner)

    def sparql(self, shape: Node, cons: Node, pattern: str, path: str | None) -> tuple[str, str | None]:
        """The query of an ``sh:sparql`` constraint, restricted to the target, and its message."""
        label, kind = self.label(shape), _component("SPARQL")
        allowed = {RDF.type, SH.select, SH.prefixes, SH.message, SH.deactivated, RDFS.label, RDFS.comment}
        for p in set(self.g.predicates(cons)) - allowed:
            raise UnsupportedShape(label, kind, "put sh:severity on the shape, not on its sh:sparql"
                                   if p == SH.severity else f"{self.show(p)} is not supported")
        select = self.one(cons, "select")
        if not isinstance(select, Literal):
            raise UnsupportedShape(label, kind, "needs one sh:select")
        text = str(select)
        if re.search(r"\$(currentShape|shapesGraph)\b", text) or ("$PATH" in text and not path):
            raise UnsupportedShape(label, kind, "$currentShape, $shapesGraph or $PATH without a path")
        text = text.replace("$PATH", path or "")
        head = re.search(r"(?is)\bSELECT\s+(.*?)(?:WHERE\s*)?\{", text)
        if not head or not re.search(r"[?$]this\b|^\s*(DISTINCT\s+|REDUCED\s+)?\*", head[1], re.IGNORECASE):
            raise UnsupportedShape(label, kind, "sh:select must project $this")
        decls = {f"PREFIX {self.g.value(d, SH.prefix)}: <{self.g.value(d, SH.namespace)}>"
                 for pfx in self.sh(cons, "prefixes") for d in self.sh(pfx, "declare")}
        query = "\n".join(sorted(decls)) + "\n" + text[:head.end()] + f" {pattern} " + text[head.end():]
        return query, self.message(cons)


def compile_shapes(shapes: Graph, *, prefixes: Mapping[str, str] | None = None) -> list[Check]:
    """Compile every targeted, active shape of ``shapes`` into checks.

    :param shapes: the shapes graph (other triples, such as the ontology, are ignored).
    :param prefixes: prefixes for messages and reports, on top of the graph's own
        bindings, its ``sh:declare`` prefixes and :data:`service.iris.EXTERNAL_PREFIXES`.
    :returns: the checks, sorted by shape, path, component and query.
    :raises UnsupportedShape: if any shape uses a component outside the supported subset.
    """
    table = {**{p: str(ns) for p, ns in shapes.namespaces() if p}, **EXTERNAL_PREFIXES,
             **{str(v): str(shapes.value(d, SH.namespace)) for d, v in shapes.subject_objects(SH.prefix)},
             **(prefixes or {})}
    comp = _Compiler(shapes, table)
    nodes = comp.shapes()
    checks: list[Check] = []
    for shape in nodes:
        if (target := comp.target(shape)) is not None:
            checks.extend(comp.checks(shape, target, comp.label(shape)))
    checks.sort(key=lambda c: (c.shape, c.path or "", c.component, c.sparql))
    log.info("compiled %d SHACL checks from %d shapes", len(checks), len(nodes))
    return checks


def _fill(template: str, row: Mapping[str, str], prefixes: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        nt = row.get(m[1])
        plain = re.fullmatch(r'"(-?\d+)"\^\^<[^>]*#integer>', nt or "")
        return m[0] if nt is None else plain[1] if plain else _show(nt, prefixes)
    return re.sub(r"\{[?$](\w+)\}", sub, template)


def _order(r: ValidationResult) -> tuple[str, ...]:
    return r.focus, r.path or "", r.component, r.value or "", r.message


def _least(results: list[ValidationResult], n: int) -> list[ValidationResult]:
    """The first ``n`` of ``results`` by focus node, path, component, value and message.

    The checks have no ``ORDER BY``: the engine sorts by decoding each term's text at every
    comparison (2.0 of 2.5 s for the 37,522 rows of the period warning on the 100k benchmark
    store), so a truncated check keeps its least results here, holding at most ``2n`` at a time.
    """
    return results if len(results) <= n else sorted(results, key=_order)[:n]


def validate(store: _Queryable, checks: list[Check], *, limit_per_check: int = 1000,
             threads: int = 1) -> ValidationReport:
    """Run ``checks`` against the union of all graphs of ``store``.

    :param store: a ``pyoxigraph.Store`` (or anything with the same ``query``).
    :param limit_per_check: results kept per check (the least by focus node, path, component,
        value); beyond it the rest is only counted and the check is listed in ``truncated``
        with the count.
    :param threads: checks run side by side (pyoxigraph evaluates without the GIL); the
        report does not depend on it.
    :returns: the report, results de-duplicated and sorted.
    :raises SyntaxError: if a check's query does not parse (a bad ``sh:select``).
    """
    table: dict[str, str] = {}
    for check in checks:
        table.update(check.prefixes)

    def run(check: Check) -> tuple[list[ValidationResult], int]:
        started, kept, solutions = time.perf_counter(), 0, store.query(check.sparql, use_default_graph_as_union=True)
        names = [v.value for v in solutions.variables]
        # SHACL-SPARQL: without ?value, a node shape's result value is the focus node
        focus_is_value = check.path is None and check.component == _component("SPARQL")
        found: list[ValidationResult] = []
        for solution in solutions:
            kept += 1
            row = {n: str(solution[n]) for n in names if solution[n] is not None}  # ?this: always bound
            value = row.get("value", row["this"] if focus_is_value else None)
            found.append(ValidationResult(row["this"], row.get("path", check.path), value, check.severity,
                                          _fill(row.get("message", check.message), row, table),
                                          check.shape, check.component))
            if len(found) >= 2 * limit_per_check:
                found = _least(found, limit_per_check)
        log.debug("SHACL %s %s: %d rows in %.3fs", check.shape, check.component, kept,
                  time.perf_counter() - started)
        return _least(found, limit_per_check), kept

    if threads > 1:
        with ThreadPoolExecutor(threads, thread_name_prefix="shacl") as pool:
            answers = list(pool.map(run, checks))
    else:
        answers = [run(check) for check in checks]
    results: set[ValidationResult] = set()
    truncated: list[str] = []
    for check, (found, kept) in zip(checks, answers):
        results.update(found)
        if kept > limit_per_check:
            truncated.append(f"{compact(check.shape, table)} {check.component[len(SH_NS):]}: "
                             f"{limit_per_check} of {kept} results kept")
            log.warning("SHACL check truncated: %s", truncated[-1])
    ordered = sorted(results, key=lambda r: (r.shape, _RANK.get(r.severity, 3), r.severity, r.focus,
                                             r.path or "", r.component, r.value or "", r.message))
    return ValidationReport(ordered, tuple(truncated), tuple(sorted(table.items())))
