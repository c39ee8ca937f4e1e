"""How resources and values are named and linked on pages: labels, local links, literals.

Contract:

* :meth:`Ctx.label` names a resource in the page language, falling back to the other
  language, an untagged label, a title or identifier, the vocabulary tables, and finally
  the IRI's last segment; it reports the language of the text it returns.
* :func:`local_href` maps an IRI to where this server shows it: ``{BASE}id/x`` →
  ``/page/x``, ``{BASE}def/eco#T`` → ``/def/eco#T``, other IRIs under the base → their
  path; external ``http``/``https``/``mailto`` IRIs stay as they are; anything else
  (``javascript:``, ``data:``…) gets no link at all. Links never come from the request's
  host: the base is configuration.
* :meth:`Ctx.value` turns a term into a :class:`Value` for the templates (numbers in the
  reader's format, datatypes as badges, long literals cut at :data:`MAX_LITERAL`).

>>> local_href("http://kg.test/id/commune/59350", "http://kg.test/", "")
'/page/commune/59350'
>>> local_href("http://kg.test/def/eco#Region", "http://kg.test/", "")
'/def/eco#Region'
>>> local_href("JaVaScRiPt:alert(1)", "http://kg.test/", "") is None
True
>>> local_href("http://kg.test//evil.example", "http://kg.test/", "") is None
True
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from service.describe import DCT, RDF, RDFS, SCHEMA, SKOS, XSD, Description, Term
from service.vocabulary import Terms
from service.i18n import TERM_LABELS, format_number, other_language
from service.iris import EXTERNAL_PREFIXES, Namespaces

__all__ = ["Link", "Value", "Ctx", "local_href", "MAX_LITERAL", "kind_of", "fold"]

#: Literals longer than this many characters are cut on pages (the RDF keeps them whole).
MAX_LITERAL = 400
_CLICKABLE = re.compile(r"(?:https?://|mailto:)[^\s<>\"]+", re.I)
_NUMERIC = {XSD + t for t in ("integer", "decimal", "double", "float", "int", "long", "short", "byte",
                              "nonNegativeInteger", "positiveInteger", "negativeInteger", "nonPositiveInteger",
                              "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte")}
_SOURCE_TYPES = {RDF + "HTML", RDF + "XMLLiteral", RDF + "JSON"}
_LABEL_PROPS = (RDFS + "label", SKOS + "prefLabel", DCT + "title", "http://qudt.org/schema/qudt/symbol",
                DCT + "identifier")
_DESCRIPTION_PROPS = (SCHEMA + "description", DCT + "description", SKOS + "definition", RDFS + "comment")

#: Kinds of resource, most specific first: (kind, local names of eco: classes, other class IRIs).
_KINDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("observation", ("Observation",), ("http://purl.org/linked-data/cube#Observation",)),
    ("excerpt", ("Excerpt",), ()), ("record", ("DataRecord",), ()), ("document", ("SourceDocument",), ()),
    ("source", ("StatisticalSource",), ()), ("gap", ("DataGap",), ()), ("statement", (), (RDF + "Statement",)),
    ("cluster", ("CompetitivenessCluster", "InnovationSupportStructure"), ()),
    ("company", ("Company",), ()), ("organisation", ("Organization",), ("http://www.w3.org/ns/org#Organization",)),
    ("industry", ("Industry",), ()), ("indicator", ("Indicator",), ()), ("territory", ("Territory",), ()),
    ("site", ("Site", "Place"), ()), ("programme", ("Programme",), ()), ("label", ("Label",), ()),
    ("period", ("ReferencePeriod",), ()), ("concept", (), (SKOS + "Concept",)),
)
_IRI_KINDS = {"commune": "territory", "departement": "territory", "region": "territory", "country": "territory",
              "epci": "territory", "collectivite-outre-mer": "territory", "territory": "territory", "site": "site",
              "organization": "organisation",
              "industry": "industry", "indicator": "indicator", "observation": "observation",
              "excerpt": "excerpt", "document": "document", "source": "source", "gap": "gap",
              "programme": "programme", "label": "label", "period": "period", "record": "record",
              "statement": "statement"}


def fold(text: str) -> str:
    """A sort key that ignores case and accents.

    >>> sorted(["Épinoy", "Ecques", "eaucourt"], key=fold)
    ['eaucourt', 'Ecques', 'Épinoy']
    """
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


def kind_of(types: list[str] | tuple[str, ...], iri: str, ns: Namespaces) -> str:
    """What a resource is, for the page layout and the graph view (``"other"`` when unknown).

    Types decide; without them the kind segment of a minted IRI (``{BASE}id/{kind}/…``) does.

    >>> kind_of([], "http://kg.test/id/commune/1", Namespaces("http://kg.test/"))
    'territory'
    """
    found = set(types)
    for kind, eco_names, others in _KINDS:
        if any(ns.eco(n) in found for n in eco_names) or any(o in found for o in others):
            return kind
    if iri.startswith(ns.id_ns):
        return _IRI_KINDS.get(iri[len(ns.id_ns):].split("/", 1)[0], "other")
    return "other"


def local_href(iri: str, base: str, prefix: str) -> str | None:
    """Where a link to ``iri`` points (see the module docstring); ``None``: not clickable.

    :param base: the configured ``BASE_URI``.
    :param prefix: the path the base maps to on this server (``""`` for a base at the root).
    """
    if iri.startswith(base):
        rest = iri[len(base):]
        if rest.startswith(("/", "\\")) or any(c in rest for c in "\\\x00\r\n\t "):
            return None  # would be read as a scheme-relative (off-site) reference
        if rest.startswith("id/") and len(rest) > 3:
            return f"{prefix}/page/{rest[3:]}"
        return f"{prefix}/{rest}"
    if _CLICKABLE.fullmatch(iri):
        return iri
    return None


@dataclass(slots=True)
class Link:
    """A named resource: ``href`` is ``None`` when it must not be clickable.

    :param lang: the language of ``label`` when it is not the page's (for ``lang=``).
    :param title: hover text (a definition, or the IRI).
    """

    label: str
    href: str | None
    lang: str = ""
    title: str = ""
    iri: str = ""
    kind: str = ""


@dataclass(slots=True)
class Value:
    """One value of a property, ready to display.

    :param badge: a small tag after the value (datatype, language).
    :param lang: the ``lang`` attribute of the text (``""``: the page language).
    """

    text: str
    href: str | None = None
    lang: str = ""
    badge: str = ""
    title: str = ""
    truncated: bool = False
    is_link: bool = False
    is_source: bool = False
    stated_href: str | None = None
    stated_quote: str = ""


class Ctx:
    """Naming and linking for one page: the description, the vocabulary, the language."""

    def __init__(self, ns: Namespaces, lang: str, terms: Terms, desc: Description, prefix: str = "") -> None:
        self.ns, self.lang, self.terms, self.desc, self.prefix = ns, lang, terms, desc, prefix
        self.other = other_language(lang)
        self._labels: dict[str, tuple[str, str]] = {}

    def href(self, iri: str) -> str | None:
        """:func:`local_href` with this server's base and prefix."""
        return local_href(iri, self.ns.base, self.prefix)

    def pick(self, literals: list[Term] | None) -> tuple[str, str] | None:
        """The literal in the page language, else the other one, else untagged, else any; with its language."""
        if not literals:
            return None
        best: tuple[int, Term] | None = None
        for t in literals:
            if t.kind != "literal":
                continue
            rank = 0 if t.lang == self.lang else 1 if t.lang == self.other else 2 if not t.lang else 3
            if best is None or rank < best[0]:
                best = (rank, t)
        if best is None:
            return None
        return best[1].value, best[1].lang

    def label(self, iri: str) -> tuple[str, str]:
        """``(text, language)`` naming ``iri``; the language is ``""`` when unknown or the page's."""
        cached = self._labels.get(iri)
        if cached is not None:
            return cached
        node = self.desc.node(iri)
        found: tuple[str, str] | None = None
        for prop in _LABEL_PROPS:
            found = self.pick(node.get(prop))
            if found:
                break
        if not found:
            term = self.terms.labels.get(iri)
            if term:
                text = term.get(self.lang) or term.get(self.other) or next(iter(term.values()))
                found = (text, self.lang if self.lang in term else self.other if self.other in term else "")
        if not found and iri in TERM_LABELS:
            found = (TERM_LABELS[iri][self.lang], self.lang)
        if not found:
            found = (_local_name(iri), "")
        text, lang = found
        result = (text[:MAX_LITERAL] + "…" if len(text) > MAX_LITERAL else text, "" if lang == self.lang else lang)
        self._labels[iri] = result
        return result

    def definition(self, iri: str) -> str:
        """The definition of a vocabulary term or concept in the page language (``""`` if none)."""
        found = self.terms.definition(iri, self.lang)
        if found:
            return found
        if iri in TERM_LABELS:
            return TERM_LABELS[iri]["def"]
        picked = self.pick(self.desc.node(iri).get(SKOS + "definition"))
        return picked[0] if picked else ""

    def describe_text(self, iri: str) -> tuple[str, str] | None:
        """The description of ``iri`` in the page language (with fallback), from the usual properties."""
        node = self.desc.node(iri)
        for prop in _DESCRIPTION_PROPS:
            found = self.pick(node.get(prop))
            if found:
                return found[0], "" if found[1] == self.lang else found[1]
        return None

    def link(self, iri: str, kind: str = "") -> Link:
        """A :class:`Link` to ``iri`` with its label and, for vocabulary terms, their definition."""
        text, lang = self.label(iri)
        return Link(text, self.href(iri), lang, self.definition(iri) or iri, iri, kind)

    def value(self, term: Term, prop: str = "", *, grouping: bool = True) -> Value:
        """A term as a :class:`Value`: IRIs as links with labels, literals formatted."""
        if term.kind == "iri":
            text, lang = self.label(term.value)
            href = self.href(term.value)
            title = self.definition(term.value) or term.value
            badge = _vocabulary(term.value) if href else _scheme(term.value)
            return Value(text, href, lang, badge, title, is_link=True)
        if term.kind == "bnode":
            return Value("_:" + term.value, badge="blank node")
        text, truncated = term.value, False
        if len(text) > MAX_LITERAL:
            text, truncated = text[:MAX_LITERAL] + "…", True
        if term.datatype in _NUMERIC:
            return Value(format_number(term.value, self.lang, grouping=grouping), badge=_short(term.datatype))
        if term.lang:
            return Value(text, lang=term.lang, badge=term.lang, truncated=truncated)
        if term.datatype == XSD + "string":
            return Value(text, truncated=truncated)
        return Value(text, badge=_short(term.datatype), truncated=truncated, is_source=term.datatype in _SOURCE_TYPES)


def _vocabulary(iri: str) -> str:
    """The prefix of a well-known external vocabulary ``iri`` belongs to (``""`` otherwise)."""
    for prefix, ns in EXTERNAL_PREFIXES.items():
        if iri.startswith(ns) and prefix not in ("rdf", "rdfs", "xsd", "owl"):
            return prefix
    return ""


def _scheme(iri: str) -> str:
    return iri.split(":", 1)[0].lower()[:12] + ":" if ":" in iri else ""


def _local_name(iri: str) -> str:
    tail = re.split(r"[#/]", iri.rstrip("/#"))[-1] or iri
    return tail if len(tail) <= MAX_LITERAL else tail[:MAX_LITERAL] + "…"


def _short(datatype: str) -> str:
    for prefix, ns in EXTERNAL_PREFIXES.items():
        if datatype.startswith(ns):
            local = datatype[len(ns):]
            return local if prefix == "xsd" else f"{prefix}:{local}"
    return _local_name(datatype)
