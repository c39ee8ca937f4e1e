"""The inference rules of :mod:`service.build.inference`, evaluated in Python (semi-naive).

Running the SPARQL ``CONSTRUCT`` rules to a fixpoint re-evaluates every rule over the
whole store in every round, and ``skos:broader+``/transitive joins over a million
triples are slow. The same rules are cheap as a worklist over the few predicates they
touch: each triple is processed once (the single-premise rules: super-properties,
inverses, subclass types), and the two closures (``owl:TransitiveProperty`` and
``skos:broader+``) are maintained incrementally, a new edge ``a → b`` adding exactly the
pairs ``x → y`` with ``x`` reaching ``a`` and ``b`` reaching ``y``.

Terms are N-Triples text, as the store writes them (read with ``CONSTRUCT`` serialised
as N-Triples), so the inferred lines are byte-identical to what the store would dump.
``tests/build/test_inference.py`` checks the result equals the SPARQL rules' on a
hand-written graph and on the real build.

One difference from running the SPARQL rules in order: which rule a triple is counted
under (several rules can derive the same triple). The set of inferred triples is the
same, the per-rule counts may differ.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

__all__ = ["Engine", "Schema", "infer", "read_triples"]

log = logging.getLogger(__name__)

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
SUBPROP = "<http://www.w3.org/2000/01/rdf-schema#subPropertyOf>"
SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
INVERSE = "<http://www.w3.org/2002/07/owl#inverseOf>"
TRANSITIVE = "<http://www.w3.org/2002/07/owl#TransitiveProperty>"
BROADER = "<http://www.w3.org/2004/02/skos/core#broader>"
BROADER_T = "<http://www.w3.org/2004/02/skos/core#broaderTransitive>"
NARROWER_T = "<http://www.w3.org/2004/02/skos/core#narrowerTransitive>"
#: Predicates whose triples define the rules: a derived one would change the schema.
SCHEMA_PREDICATES = (SUBPROP, SUBCLASS, INVERSE)

Triple = tuple[str, str, str]


def _is_iri(term: str) -> bool:
    return term.startswith("<")


def _closure(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Node → every node reachable in one or more steps (itself only through a cycle)."""
    succ: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    reach: dict[str, set[str]] = {}
    for start in list(succ):
        seen: set[str] = set()
        todo = list(succ[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(succ.get(node, ()))
        reach[start] = seen
    return reach


@dataclass
class Schema:
    """What the rules need from the ontology, read from the triples themselves."""

    supers: dict[str, list[str]] = field(default_factory=dict)       # property → its super-properties
    inverses: dict[str, list[str]] = field(default_factory=dict)     # property → its inverses
    transitive: set[str] = field(default_factory=set)
    superclasses: dict[str, list[str]] = field(default_factory=dict)  # class → its superclasses

    @classmethod
    def from_triples(cls, subprop: Iterable[tuple[str, str]], subclass: Iterable[tuple[str, str]],
                     inverse: Iterable[tuple[str, str]], transitive: Iterable[str]) -> Schema:
        """The rules' reading of ``rdfs:subPropertyOf+`` (super an IRI, not the property),
        ``rdfs:subClassOf+`` (both IRIs, distinct), ``owl:inverseOf`` (either direction,
        both IRIs) and ``a owl:TransitiveProperty``."""
        supers = {p: sorted(s for s in sup if _is_iri(s) and s != p) for p, sup in _closure(subprop).items()}
        classes = {c: sorted(s for s in sup if _is_iri(s) and s != c)
                   for c, sup in _closure(subclass).items() if _is_iri(c)}
        inverses: dict[str, set[str]] = defaultdict(set)
        for p, q in inverse:
            if _is_iri(p) and _is_iri(q):
                inverses[p].add(q)
                inverses[q].add(p)
        return cls({p: s for p, s in supers.items() if s}, {p: sorted(q) for p, q in inverses.items()},
                   set(transitive), {c: s for c, s in classes.items() if s})

    def predicates(self) -> set[str]:
        """Every predicate a rule reads or writes (rdf:type is read for the listed classes only)."""
        found = {*self.supers, *self.inverses, *self.transitive, BROADER, BROADER_T, NARROWER_T}
        found.update(s for sup in self.supers.values() for s in sup)
        found.update(q for inv in self.inverses.values() for q in inv)
        return found

    def classes(self) -> set[str]:
        """Classes whose instances matter: those with superclasses, and the superclasses."""
        return {*self.superclasses, *(s for sup in self.superclasses.values() for s in sup)}


class Engine:
    """A worklist over triples: add the store's relevant triples, :meth:`run`, read :attr:`inferred`."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.facts: set[Triple] = set()
        self.inferred: dict[Triple, str] = {}    # triple → the rule that first derived it
        self._queue: deque[Triple] = deque()
        # closures: predicate (or BROADER) → node → nodes reachable / reaching, one or more steps
        self._succ: dict[str, dict[str, set[str]]] = defaultdict(dict)
        self._pred: dict[str, dict[str, set[str]]] = defaultdict(dict)

    def add_asserted(self, triples: Iterable[Triple]) -> None:
        for t in triples:
            if t not in self.facts:
                self.facts.add(t)
                self._queue.append(t)

    def _emit(self, t: Triple, rule: str, *, into_inferred: bool = False) -> None:
        """A derived triple: new unless known (``into_inferred``: unless already inferred)."""
        if t in self.facts:
            if into_inferred and t not in self.inferred:
                self.inferred[t] = rule  # the rule writes it even if asserted elsewhere
            return
        self.facts.add(t)
        self.inferred[t] = rule
        self._queue.append(t)

    def _connect(self, key: str, a: str, b: str) -> Iterator[tuple[str, str]]:
        """Add the edge ``a → b`` to the closure ``key``; yields the pairs it makes reachable."""
        succ, pred = self._succ[key], self._pred[key]
        if b in succ.get(a, ()):
            return
        sources = [a, *pred.get(a, ())]
        targets = [b, *succ.get(b, ())]
        for x in sources:
            reach = succ.setdefault(x, set())
            for y in targets:
                if y not in reach:
                    reach.add(y)
                    pred.setdefault(y, set()).add(x)
                    yield x, y

    def run(self) -> None:
        """Process the queue until nothing new is derived."""
        sch = self.schema
        while self._queue:
            s, p, o = self._queue.popleft()
            for sup in sch.supers.get(p, ()):
                self._emit((s, sup, o), "super-properties")
            if p in sch.transitive:
                for x, y in list(self._connect(p, s, o)):
                    if x != y:
                        self._emit((x, p, y), "transitive")
            if not o.startswith('"'):  # an IRI or a blank node
                for q in sch.inverses.get(p, ()):
                    self._emit((o, q, s), "inverses")
            if p == BROADER:
                for x, y in list(self._connect(BROADER, s, o)):
                    if (x, BROADER_T, y) not in self.facts:
                        self._emit((x, BROADER_T, y), "broader-transitive")
                        self._emit((y, NARROWER_T, x), "broader-transitive", into_inferred=True)
            if p == RDF_TYPE:
                for sup in sch.superclasses.get(o, ()):
                    self._emit((s, RDF_TYPE, sup), "subclass-types")

    def counts(self, rules: Iterable[str]) -> dict[str, int]:
        found = dict.fromkeys(rules, 0)
        for rule in self.inferred.values():
            found[rule] = found.get(rule, 0) + 1
        return found


# ------------------------------------------------------------------ reading the store
def read_triples(store: Any, predicate: str, objects: Iterable[str] | None = None,
                 terms: dict[str, str] | None = None) -> Iterator[Triple]:
    """The triples of ``predicate`` in the union of all graphs (only with ``objects`` if given).

    Read through a temporary file, never whole in memory (millions of ``rdf:type`` lines at
    10M triples); with ``terms``, equal terms are one string (``terms`` maps each to itself):
    the engine holds millions of triples naming the same nodes.
    """
    if objects is not None and not objects:
        return
    values = f"VALUES ?o {{ {' '.join(sorted(objects))} }} " if objects is not None else ""
    query = f"CONSTRUCT {{ ?s {predicate} ?o }} WHERE {{ {values}?s {predicate} ?o }}"
    shared = terms if terms is not None else {}
    with tempfile.TemporaryFile() as raw:
        store.query(query, use_default_graph_as_union=True).serialize(raw, format=ox.RdfFormat.N_TRIPLES)
        raw.seek(0)
        with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as fh:
            for line in fh:
                # As the store writes them: subject and predicate have no spaces; " .\n" ends it.
                s, _, rest = line.partition(" ")
                _, _, o = rest.partition(" ")
                o = o[:-3]
                yield shared.setdefault(s, s), predicate, shared.setdefault(o, o)


def _is_schema(t: Triple) -> bool:
    return t[1] in SCHEMA_PREDICATES or (t[1] == RDF_TYPE and t[2] == TRANSITIVE)


def infer(store: Any, rules: Iterable[str], *, max_passes: int = 10) -> tuple[dict[Triple, str], dict[str, int], int]:
    """Every triple the rules derive from ``store`` and not already in it.

    :returns: inferred triple → rule that first derived it, triples per rule, and the
        number of passes (a pass starts from the schema; a second one runs only if the
        first derived schema triples, e.g. from a sub-property of ``rdfs:subClassOf``).
    :raises RuntimeError: if the schema keeps changing after ``max_passes``.
    """
    asserted = {p: [(s, o) for s, _, o in read_triples(store, p)] for p in SCHEMA_PREDICATES}
    asserted[TRANSITIVE] = [(s, TRANSITIVE) for s, _, _ in read_triples(store, RDF_TYPE, [TRANSITIVE])]
    derived: set[Triple] = set()
    for passes in range(1, max_passes + 1):
        def pairs(p: str) -> list[tuple[str, str]]:
            return asserted[p] + [(s, o) for s, q, o in derived if q == p]
        schema = Schema.from_triples(pairs(SUBPROP), pairs(SUBCLASS), pairs(INVERSE),
                                     [s for s, _ in asserted[TRANSITIVE]] +
                                     [s for s, q, o in derived if q == RDF_TYPE and o == TRANSITIVE])
        engine, terms = Engine(schema), dict[str, str]()
        for p in sorted(schema.predicates()):
            engine.add_asserted(read_triples(store, p, terms=terms))
        engine.add_asserted(read_triples(store, RDF_TYPE, schema.classes(), terms))
        del terms
        engine.run()
        found = {t for t in engine.inferred if _is_schema(t)}
        if found <= derived:
            return engine.inferred, engine.counts(rules), passes
        log.info("inference derived %d schema triples: another pass", len(found - derived))
        derived |= found
    raise RuntimeError(f"inference schema did not settle in {max_passes} passes")
