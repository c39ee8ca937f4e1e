"""Bounded descriptions of resources: what a page or an RDF document says about one IRI.

Contract: :func:`describe` runs two SPARQL SELECTs on a :class:`~service.store.GraphStore`
(whatever the backend; the default graph is the union of the named graphs):

1. *links*: every triple with the resource as subject or object;
2. *details*, for what is on the current page only: labels and types of the linked
   resources, and for the figures (observations) about the resource, their statements and,
   when the resource is itself a figure, excerpt or gap, the provenance chain (excerpt or
   data record → document with its SHA-256; cited source → publisher; indicator, period,
   unit, flags with their labels).

Large property value sets are cut in pages of ``page_size`` per property (outgoing by
``out_page``, incoming by ``inv_page``); the figures have their own pages (``fig_page``).
Values are sorted by their N-Triples form, so pages are stable for a given build.
Duplicates across named graphs are merged. A resource is *unknown* when no triple
mentions it: :func:`describe` returns ``None``.

IRIs are written into the query text only after :func:`iri_ref` has checked them against
the SPARQL ``IRIREF`` production (no ``<>"{}|^`\\``, spaces or controls), so a crafted
path cannot change a query; values never come from request text otherwise.
:func:`service.vocabulary.load_terms` reads the vocabulary's labels once per build.

>>> iri_ref("http://kg.test/id/commune/59350")
'<http://kg.test/id/commune/59350>'
>>> parse_term('"Lille"@fr').lang
'fr'
>>> parse_term('"12"^^<http://www.w3.org/2001/XMLSchema#integer>').datatype[-7:]
'integer'
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from service.iris import EXTERNAL_PREFIXES, Namespaces
from service.store import GraphStore

if TYPE_CHECKING:
    from service.vocabulary import Terms

__all__ = ["Term", "PropertyValues", "Description", "iri_ref", "parse_term", "describe", "exists",
           "document_excerpts", "IRIREF", "RDF", "RDFS", "SKOS", "DCT", "PROV", "OA", "XSD", "SCHEMA",
           "figure_properties", "hidden_inverse_properties", "part_figures", "PartFigure", "QUDT_SYMBOL"]

log = logging.getLogger(__name__)

RDF = EXTERNAL_PREFIXES["rdf"]
RDFS = EXTERNAL_PREFIXES["rdfs"]
SKOS = EXTERNAL_PREFIXES["skos"]
DCT = EXTERNAL_PREFIXES["dcterms"]
PROV = EXTERNAL_PREFIXES["prov"]
OA = EXTERNAL_PREFIXES["oa"]
XSD = EXTERNAL_PREFIXES["xsd"]
SCHEMA = EXTERNAL_PREFIXES["schema"]
QUDT_SYMBOL = "http://qudt.org/schema/qudt/symbol"
SDMX = "http://purl.org/linked-data/sdmx/2009/"

IRIREF = _IRIREF = re.compile(r'[A-Za-z][A-Za-z0-9+.\-]*:[^<>"{}|^`\\\x00-\x20]*')
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9\-]+)|\^\^<([^>]*)>)?', re.S)
_ESCAPE = re.compile(r'\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))', re.S)
_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
#: A property's values get their types fetched when it has at most this many.
TYPED_MAX = 24
_LABELS = (RDFS + "label", SKOS + "prefLabel", DCT + "title", DCT + "identifier", QUDT_SYMBOL)


def iri_ref(iri: str) -> str:
    """``<iri>`` for a query text, after checking ``iri`` is an absolute IRI with no SPARQL-special character.

    :raises ValueError: for anything else (the caller treats it as an unknown resource).

    >>> iri_ref('http://kg.test/x> } ; DROP ALL ; <x')
    Traceback (most recent call last):
    ...
    ValueError: not a safe IRI: 'http://kg.test/x> } ; DROP ALL ; <x'
    """
    if not _IRIREF.fullmatch(iri):
        raise ValueError(f"not a safe IRI: {iri[:200]!r}")
    return f"<{iri}>"


@dataclass(frozen=True, slots=True)
class Term:
    """An RDF term as the store wrote it (``nt``, N-Triples syntax), parsed.

    :param kind: ``"iri"``, ``"literal"`` or ``"bnode"``.
    :param value: the IRI, the literal's lexical form (unescaped) or the blank node label.
    """

    nt: str
    kind: str
    value: str
    lang: str = ""
    datatype: str = ""

    @property
    def is_iri(self) -> bool:
        return self.kind == "iri"


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        code = m.group(1) or m.group(2)
        return chr(int(code, 16)) if code else _SIMPLE.get(m.group(3), m.group(3))

    return _ESCAPE.sub(one, text)


@lru_cache(maxsize=50_000)
def parse_term(nt: str) -> Term:
    """Parse one term in N-Triples syntax (as :meth:`GraphStore.select` returns them).

    >>> parse_term('"a \\\\"quoted\\\\" word"').value
    'a "quoted" word'
    >>> parse_term("_:b0").kind
    'bnode'

    :raises ValueError: for text that is no term.
    """
    if nt.startswith("<") and nt.endswith(">"):
        return Term(nt, "iri", nt[1:-1])
    if nt.startswith("_:"):
        return Term(nt, "bnode", nt[2:])
    m = _LITERAL.fullmatch(nt)
    if not m:
        raise ValueError(f"not an N-Triples term: {nt[:80]!r}")
    lang, datatype = (m.group(2) or "").lower(), m.group(3) or ""
    if not datatype:
        datatype = RDF + "langString" if lang else XSD + "string"
    return Term(nt, "literal", _unescape(m.group(1)), lang, datatype)


@dataclass
class PropertyValues:
    """The values of one property on the current page.

    :param values: this page's values, sorted.
    :param total: how many distinct values exist.
    """

    prop: str
    values: list[Term]
    total: int
    page: int
    pages: int


@dataclass
class Description:
    """Everything a page or an RDF document shows about one resource.

    :param out: outgoing values by property (current page of each).
    :param inc: incoming subjects by property (current page of each).
    :param figures: IRIs of the figures about the resource on the current figure page.
    :param nodes: what is known of other resources: IRI → property → values.
    :param extra: the triples of ``nodes`` in query order (for RDF documents).
    """

    iri: str
    out: dict[str, PropertyValues]
    inc: dict[str, PropertyValues]
    types: list[str]
    figures: list[str] = field(default_factory=list)
    figure_total: int = 0
    figure_page: int = 1
    figure_pages: int = 1
    statements: list[str] = field(default_factory=list)
    nodes: dict[str, dict[str, list[Term]]] = field(default_factory=dict)
    extra: list[tuple[Term, str, Term]] = field(default_factory=list)

    def node(self, iri: str) -> dict[str, list[Term]]:
        """What is known of ``iri`` (the resource itself included); empty when nothing."""
        if iri == self.iri:
            return {p: v.values for p, v in self.out.items()}
        return self.nodes.get(iri, {})

    def first(self, iri: str, prop: str) -> Term | None:
        """The first value of ``prop`` on ``iri``, if any."""
        values = self.node(iri).get(prop)
        return values[0] if values else None


def figure_properties(ns: Namespaces) -> frozenset[str]:
    """Properties whose subjects are figures about their object (listed as figures, not links)."""
    return frozenset({ns.eco(p) for p in ("refArea", "refOrganization", "industry", "indicator", "refPeriod",
                                          "shareOf", "unit")} | {PROV + "hadPrimarySource"})


def hidden_inverse_properties(ns: Namespaces) -> frozenset[str]:
    """Incoming properties a page does not list under "what points here" (its figures table does)."""
    return figure_properties(ns) | {SDMX + "dimension#refArea", SDMX + "dimension#refPeriod",
                                    SDMX + "attribute#unitMeasure"}


def _page(values: set[Term], page: int, size: int) -> tuple[list[Term], int, int]:
    ordered = sorted(values, key=lambda t: t.nt)
    pages = max(1, -(-len(ordered) // size))
    page = min(max(page, 1), pages)
    return ordered[(page - 1) * size: page * size], page, pages


def exists(store: GraphStore, iri: str) -> bool:
    """Whether any triple mentions ``iri`` (as subject or object); unsafe IRIs do not exist."""
    try:
        ref = iri_ref(iri)
    except ValueError:
        return False
    return store.ask(f"ASK {{ {{ {ref} ?p ?o }} UNION {{ ?s ?p {ref} }} }}")


def describe(store: GraphStore, ns: Namespaces, iri: str, *, terms: Terms | None = None, out_page: int = 1,
             inv_page: int = 1, fig_page: int = 1, page_size: int = 50) -> Description | None:
    """The bounded description of ``iri`` (see the module docstring), or ``None`` if unknown.

    :param terms: the cached vocabulary (:func:`service.vocabulary.load_terms`); resources it covers are not
        looked up again (their labels come from it).
    :param page_size: values per property per page, and figures per page.
    :raises service.errors.StoreUnavailable: when the store cannot answer.
    """
    try:
        ref = iri_ref(iri)
    except ValueError:
        return None
    rows = store.select(f'SELECT ?d ?p ?x WHERE {{ {{ {ref} ?p ?x BIND("o" AS ?d) }} '
                        f'UNION {{ ?x ?p {ref} BIND("i" AS ?d) }} }}')
    if not rows:
        return None
    out_sets: dict[str, set[Term]] = defaultdict(set)
    in_sets: dict[str, set[Term]] = defaultdict(set)
    for row in rows:
        prop = row["p"][1:-1]
        (out_sets if row["d"] == '"o"' else in_sets)[prop].add(parse_term(row["x"]))
    desc = Description(iri, {}, {}, sorted(t.value for t in out_sets.get(RDF + "type", ()) if t.is_iri))
    for direction, sets, page in (("out", out_sets, out_page), ("in", in_sets, inv_page)):
        target = desc.out if direction == "out" else desc.inc
        for prop, values in sets.items():
            shown, number, pages = _page(values, page, page_size)
            target[prop] = PropertyValues(prop, shown, len(values), number, pages)
    figure_set = {t for p in figure_properties(ns) for t in in_sets.get(p, ()) if t.is_iri}
    if ns.eco("Excerpt") in desc.types or ns.eco("DataRecord") in desc.types:
        figure_set |= {t for t in in_sets.get(PROV + "wasDerivedFrom", ()) if t.is_iri}
    shown, desc.figure_page, desc.figure_pages = _page(figure_set, fig_page, page_size)
    desc.figures, desc.figure_total = [t.value for t in shown], len(figure_set)
    desc.statements = sorted(t.value for t in in_sets.get(RDF + "subject", ()) if t.is_iri)[:page_size]
    hidden = hidden_inverse_properties(ns)
    linked = {t.value for p, pv in desc.out.items() if p != RDF + "type" for t in pv.values
              if t.is_iri and not t.value.startswith(ns.eco_ns)}
    linked |= {t.value for p, pv in desc.inc.items() if p not in hidden for t in pv.values if t.is_iri}
    # Types (for breadcrumbs and the neighbourhood view) only where a property has few values.
    typed = {t.value for pv in (*desc.out.values(), *desc.inc.values()) if pv.total <= TYPED_MAX
             and pv.prop not in hidden and pv.prop != RDF + "type" for t in pv.values if t.is_iri}
    if terms is not None:
        linked = {i for i in linked if not terms.covers(i)}
        typed = {i for i in typed if not terms.covers(i)}
    _details(store, ns, desc, linked, typed, terms.prefixes if terms else (ns.eco_ns,))
    return desc


def _values(iris: Iterable[str]) -> str:
    refs = []
    for iri in sorted(set(iris)):
        try:
            refs.append(iri_ref(iri))
        except ValueError:
            log.warning("skipping an IRI that cannot be queried safely: %r", iri[:200])
    return " ".join(refs)


def _in(iris: Iterable[str]) -> str:
    return ", ".join(f"<{i}>" for i in iris)


def _each(props: Iterable[str], subjects: str = "") -> str:
    """``?s <p> ?o`` for each property, as a UNION with ``?p`` bound: index lookups, no scans.

    ``subjects`` (the inside of a ``VALUES ?s`` block) is repeated in each branch: Virtuoso
    7.2 does not join a ``VALUES`` block with a group of UNION branches after it, and
    answers their cross product instead.
    """
    values = f"VALUES ?s {{ {subjects} }} " if subjects else ""
    return " UNION ".join(f"{{ {values}?s <{p}> ?o BIND(<{p}> AS ?p) }}" for p in props)


#: From a figure or statement to the resources its provenance and dimensions name.
_HOPS = ("wasDerivedFrom", "source", "hadPrimarySource", "indicator", "industry", "refPeriod", "unit", "refArea",
         "refOrganization", "qualityFlag", "valueQualifier", "shareOf", "rankedAmong", "concerns", "object",
         "predicate")


def _details(store: GraphStore, ns: Namespaces, desc: Description, linked: set[str], typed: set[str],
             covered: Sequence[str]) -> None:
    """Second query: labels of ``linked``, types of ``typed``; figures and statements with their provenance.

    Each branch is a VALUES block joined with constant-predicate patterns, because oxigraph
    evaluates a triple pattern with a variable predicate by scanning every triple of the
    subject (thousands for a region).
    """
    hop = [PROV + "wasDerivedFrom", DCT + "source", PROV + "hadPrimarySource", RDF + "object", RDF + "predicate"]
    hop += [ns.eco(n) for n in _HOPS if n not in ("wasDerivedFrom", "source", "hadPrimarySource", "object",
                                                  "predicate")]
    first = (PROV + "wasDerivedFrom", DCT + "source", PROV + "hadPrimarySource", PROV + "wasQuotedFrom")
    first_props = (RDF + "type", OA + "exact", OA + "start", OA + "end", PROV + "wasQuotedFrom",
                   DCT + "publisher", ns.eco("sha256"), ns.eco("recordKey"))
    # vocabulary terms (ontology, indicators, periods, units…) come from load_terms
    not_vocab = "FILTER(" + " && ".join(f'!STRSTARTS(STR(?s), "{p}")' for p in covered if _IRIREF.fullmatch(p)) + ")"
    sources = [*desc.figures, *desc.statements]
    own_hop = {t.value for p in hop if p in desc.out for t in desc.out[p].values if t.is_iri}
    own_first = {t.value for p in first if p in desc.out for t in desc.out[p].values if t.is_iri}
    full = _values(sources)
    branches = []
    if near := _values(linked | set(desc.figures)):
        branches.append(_each(_LABELS, near))
    if types := _values(typed | set(desc.figures)):
        branches.append(f"{{ VALUES ?s {{ {types} }} ?s <{RDF}type> ?o BIND(<{RDF}type> AS ?p) }}")
    if full:
        branches.append(f"{{ VALUES ?s {{ {full} }} ?s ?p ?o }}")
    # A UNION branch that is a lone VALUES block loses its rows on Virtuoso 7.2 (see
    # tests/store/test_contract.py): every VALUES block here is joined with a pattern.
    for props, preds, own, extra in ((_LABELS, hop, own_hop, not_vocab), (first_props, first, own_first, "")):
        if full:
            branches.append(f"{{ {{ SELECT DISTINCT ?s WHERE {{ VALUES ?f {{ {full} }} ?f ?h ?s "
                            f"FILTER(?h IN ({_in(preds)})) {extra} }} }} {{ {_each(props)} }} }}")
        if own_values := _values(own):
            branches.append(f"{{ {{ {_each(props, own_values)} }} {extra} }}")
    mids = [f"VALUES ?f {{ {full} }} ?f ?h ?m FILTER(?h IN ({_in(first)}))"] if full else []
    if own_mids := _values(own_first):
        mids.append(f"VALUES ?m {{ {own_mids} }}")
    for mid in mids:
        branches.append(f"{{ {{ SELECT DISTINCT ?s WHERE {{ {mid} ?m ?h2 ?s "
                        f"FILTER(?h2 IN (<{PROV}wasQuotedFrom>, <{DCT}publisher>)) }} }} "
                        f"{{ {_each((*_LABELS, ns.eco('sha256')))} }} }}")
    if not branches:
        return
    rows = store.select("SELECT ?s ?p ?o WHERE { " + " UNION ".join(branches) + " }")
    seen: set[tuple[str, str, str]] = set()
    nodes: dict[str, dict[str, list[Term]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        key = (row["s"], row["p"], row["o"])
        if key in seen or row["s"][1:-1] == desc.iri:
            continue
        seen.add(key)
        s, o = parse_term(row["s"]), parse_term(row["o"])
        nodes[s.value][row["p"][1:-1]].append(o)
        desc.extra.append((s, row["p"][1:-1], o))
    for by_prop in nodes.values():
        for found in by_prop.values():
            found.sort(key=lambda t: t.nt)
    desc.nodes = {k: dict(v) for k, v in nodes.items()}


def document_excerpts(store: GraphStore, document: str) -> list[tuple[str, int, int]]:
    """``(excerpt IRI, start, end)`` of every excerpt quoted from ``document``, by position.

    Offsets are Unicode code points, end exclusive; excerpts without integer offsets are skipped.
    """
    try:
        ref = iri_ref(document)
    except ValueError:
        return []
    rows = store.select(f"SELECT ?e ?a ?b WHERE {{ ?e <{PROV}wasQuotedFrom> {ref} ; <{OA}start> ?a ; <{OA}end> ?b }}")
    found: set[tuple[str, int, int]] = set()
    for row in rows:
        try:
            found.add((row["e"][1:-1], int(parse_term(row["a"]).value), int(parse_term(row["b"]).value)))
        except (ValueError, KeyError):
            continue
    return sorted(found, key=lambda e: (e[1], -e[2], e[0]))


@dataclass(frozen=True, slots=True)
class PartFigure:
    """A figure about a place directly within a territory (for comparison charts)."""

    place: str
    labels: tuple[Term, ...]
    indicator: str
    unit: str
    value: Term


def part_figures(store: GraphStore, ns: Namespaces, iri: str) -> list[PartFigure]:
    """The figures of every place directly within ``iri`` (``eco:directlyContains``), one query.

    Several figures of one place and indicator are all returned; the caller groups them.
    """
    try:
        ref = iri_ref(iri)
    except ValueError:
        return []
    rows = store.select(f"SELECT ?c ?o ?i ?u ?v (GROUP_CONCAT(STR(?l); separator='\\u001f') AS ?ls) "
                        f"(GROUP_CONCAT(LANG(?l); separator='\\u001f') AS ?ll) WHERE {{ "
                        f"{ref} <{ns.eco('directlyContains')}> ?c . ?o <{ns.eco('refArea')}> ?c ; "
                        f"<{ns.eco('indicator')}> ?i ; <{ns.eco('obsValue')}> ?v ; <{ns.eco('unit')}> ?u . "
                        f"OPTIONAL {{ ?c <{RDFS}label> ?l }} }} GROUP BY ?c ?o ?i ?u ?v")
    found: dict[str, PartFigure] = {}
    for row in rows:
        texts = parse_term(row.get("ls", '""')).value.split("\x1f")
        langs = parse_term(row.get("ll", '""')).value.split("\x1f")
        labels = tuple(Term("", "literal", t, g, "") for t, g in zip(texts, langs) if t)
        found[row["o"]] = PartFigure(row["c"][1:-1], labels, row["i"][1:-1], row["u"][1:-1], parse_term(row["v"]))
    return [found[k] for k in sorted(found)]
