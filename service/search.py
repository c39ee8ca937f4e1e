"""Label search: an in-process index of every label, forgiving case, accents and punctuation.

:meth:`SearchIndex.from_store` reads once per build (see :func:`get_index`) every
``rdfs:label``, ``skos:prefLabel`` and ``skos:altLabel`` (all languages) of the resources
under the base (instances and ontology terms; not the SHACL shapes), plus INSEE codes and
SIREN numbers, and each resource's most specific ``eco:`` class. Each label becomes a key
by :func:`normalise` (NFKD, accents stripped, case folded, everything but letters and
digits dropped), so "villeneuve dascq" and "Villeneuve-d'Ascq" share the key
``villeneuvedascq``.

:meth:`SearchIndex.search` matches a query against the keys and ranks: exact key, then key
prefix, then substring, then "every word of the query appears"; within a rank by class
priority (territories, organisations, industries first; figures and excerpts last), then
by the shorter key, then alphabetically. One hit per resource (its best key).

>>> normalise("Villeneuve-d'Ascq")
'villeneuvedascq'
>>> normalise("  LIÉVIN ")
'lievin'
>>> normalise("Œuvre — cœur")
'oeuvrecoeur'
>>> words("Villeneuve d'Ascq")
['villeneuve', 'd', 'ascq']
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from service.errors import BadQuery

if TYPE_CHECKING:
    from service.iris import Namespaces
    from service.store import GraphStore

__all__ = ["MAX_QUERY_LENGTH", "Entry", "Hit", "SearchIndex", "normalise", "words", "check_query", "local_url",
           "get_index", "CLASS_PRIORITY", "MATCH_KINDS"]

log = logging.getLogger(__name__)

#: Longest accepted query, in characters (longer: 400 Bad Request).
MAX_QUERY_LENGTH = 200
#: Match kinds, best first (the index in this tuple is the rank).
MATCH_KINDS = ("exact", "prefix", "substring", "words")

#: Rank of a resource by its most specific ``eco:`` class (absent: :data:`_DEFAULT_PRIORITY`).
CLASS_PRIORITY: dict[str, int] = {
    **dict.fromkeys(("Region", "Departement", "Country", "Intercommunality", "Commune", "MetropolitanArea",
                     "SupranationalArea", "Territory", "AdministrativeArea"), 0),
    **dict.fromkeys(("CompetitivenessCluster", "Incubator", "TechnicalCentre", "ExcellenceCentre", "Company",
                     "University", "Laboratory", "ResearchOrganization", "PublicBody", "Organization",
                     "InnovationSupportStructure", "Industry", "Programme", "Label", "Site", "BusinessPark",
                     "Establishment", "Building", "Landmark", "Place"), 1),
    **dict.fromkeys(("Indicator", "StatisticalSource", "SourceDocument", "ReferencePeriod", "QualityFlag",
                     "ValueQualifier", "AreaResolution", "RankingScope"), 2),
    **dict.fromkeys(("Observation", "ShareObservation", "RankingObservation", "DataGap"), 4),
    **dict.fromkeys(("SourceFragment", "Excerpt", "DataRecord", "ExtractionActivity"), 5),
}
_DEFAULT_PRIORITY = 3

_FOLD = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
                       "đ": "d", "Đ": "D", "ı": "i"})
_SPLIT = re.compile(r"[^\w]+|_")
_LABEL_PROPS = ("http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#prefLabel")
_ALT_PROP = "http://www.w3.org/2004/02/skos/core#altLabel"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD)).casefold()
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise(text: str) -> str:
    """The search key of ``text``: accents stripped, case folded, only letters and digits kept."""
    return "".join(ch for ch in _fold(text) if ch.isalnum())


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (split on anything that is not a letter or digit)."""
    return [w for w in (normalise(part) for part in _SPLIT.split(_fold(text))) if w]


def check_query(q: str | None) -> str:
    """The query, stripped.

    :raises BadQuery: (400) for a query over :data:`MAX_QUERY_LENGTH` characters.

    >>> check_query("  lille ")
    'lille'
    """
    q = (q or "").strip()
    if len(q) > MAX_QUERY_LENGTH:
        raise BadQuery(f"The search query is too long (at most {MAX_QUERY_LENGTH} characters).")
    return q


def local_url(iri: str, ns: Namespaces) -> str:
    """Where a resource is shown on this server: ``/page/…`` for ``{BASE}id/…``, ``/def/eco#Term``
    for ontology terms, the path for other IRIs under the base, else the IRI itself.

    >>> from service.iris import Namespaces
    >>> local_url("http://kg.test/id/commune/59350", Namespaces("http://kg.test/"))
    '/page/commune/59350'
    >>> local_url("http://kg.test/def/eco#Region", Namespaces("http://kg.test/"))
    '/def/eco#Region'
    """
    if iri.startswith(ns.id_ns):
        return "/page/" + iri[len(ns.id_ns):]
    if iri.startswith(ns.base):
        return "/" + iri[len(ns.base):]
    return iri


@dataclass
class Entry:
    """One resource: IRI, display labels per language, most specific ``eco:`` class (local name)."""

    iri: str
    labels: dict[str, str] = field(default_factory=dict)
    cls: str = ""
    priority: int = _DEFAULT_PRIORITY

    def label(self, lang: str) -> str:
        """The label in ``lang``, else English, else French, else any, else the IRI."""
        return (self.labels.get(lang) or self.labels.get("en") or self.labels.get("fr")
                or next(iter(self.labels.values()), self.iri))


@dataclass(frozen=True)
class Hit:
    """A search result: the entry, how it matched (:data:`MATCH_KINDS`) and the label that matched."""

    entry: Entry
    match: str
    matched: str


class SearchIndex:
    """Normalised keys of every label, each pointing at its :class:`Entry`."""

    def __init__(self, entries: Iterable[Entry], keys: Iterable[tuple[str, str, str]]) -> None:
        """:param keys: ``(key, iri, original text)`` triples; keys must be :func:`normalise`\\ d."""
        self.entries = {e.iri: e for e in entries}
        self._keys = sorted({(k, iri, text) for k, iri, text in keys if k and iri in self.entries})

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_labels(cls, labels: Iterable[tuple[str, str, str, str]], types: Iterable[tuple[str, str]],
                    class_counts: Mapping[str, int] | None = None) -> SearchIndex:
        """Build from ``(iri, property, text, lang)`` label rows and ``(iri, class local name)`` rows.

        The most specific class is the one with the fewest instances in ``class_counts``
        (computed from ``types`` when not given); display labels come from ``rdfs:label``
        and ``skos:prefLabel`` (``skos:altLabel`` and code properties only match).
        """
        type_rows = list(types)
        counts = dict(class_counts or {})
        if not counts:
            for _, name in type_rows:
                counts[name] = counts.get(name, 0) + 1
        entries: dict[str, Entry] = {}
        for iri, name in type_rows:
            entry = entries.setdefault(iri, Entry(iri))
            if not entry.cls or (counts.get(name, 0), name) < (counts.get(entry.cls, 0), entry.cls):
                entry.cls = name
        keys: list[tuple[str, str, str]] = []
        for iri, prop, text, lang in labels:
            entry = entries.setdefault(iri, Entry(iri))
            if prop in _LABEL_PROPS and (lang or "en") not in entry.labels:
                entry.labels[lang or "en"] = text
            keys.append((normalise(text), iri, text))
        first_text: dict[str, str] = {}
        for _, iri, text in keys:
            first_text.setdefault(iri, text)
        for entry in entries.values():
            entry.priority = CLASS_PRIORITY.get(entry.cls, _DEFAULT_PRIORITY)
            if not entry.labels and entry.iri in first_text:
                entry.labels[""] = first_text[entry.iri]
        return cls((e for e in entries.values() if e.iri in first_text), keys)

    @classmethod
    def from_store(cls, store: GraphStore, ns: Namespaces) -> SearchIndex:
        """Read every label, code and ``eco:`` type under the base from ``store``.

        :raises service.errors.StoreUnavailable: if the store cannot answer.
        """
        from rdflib.util import from_n3

        label_rows = store.select(
            "SELECT ?s ?p ?l { VALUES ?p { <http://www.w3.org/2000/01/rdf-schema#label> "
            "<http://www.w3.org/2004/02/skos/core#prefLabel> <http://www.w3.org/2004/02/skos/core#altLabel> "
            f"<{ns.eco('inseeCode')}> <{ns.eco('sirenNumber')}> }} ?s ?p ?l FILTER(isIRI(?s) && isLiteral(?l)) }}")
        type_rows = store.select(f'SELECT ?s ?c {{ ?s a ?c FILTER(isIRI(?s) && STRSTARTS(STR(?c), "{ns.eco_ns}")) }}')
        skip = (f"<{ns.shapes_ns}", f"<{ns.ontology}/shapes>", f"<{ns.base}graph/")

        def wanted(term: str) -> bool:
            return term.startswith(f"<{ns.base}") and not term.startswith(skip)

        labels = []
        for row in label_rows:
            if wanted(row["s"]):
                lit = from_n3(row["l"])
                labels.append((row["s"][1:-1], row["p"][1:-1], str(lit), getattr(lit, "language", None) or ""))
        types = [(r["s"][1:-1], r["c"][len(ns.eco_ns) + 1:-1]) for r in type_rows if wanted(r["s"])]
        index = cls.from_labels(labels, types)
        log.info("search index: %d resources, %d keys", len(index.entries), len(index._keys))
        return index

    def search(self, q: str, *, limit: int = 20, offset: int = 0) -> tuple[list[Hit], int]:
        """Ranked hits for ``q`` (see the module docstring) and their total count.

        An empty query, or one with no letter or digit, finds nothing.
        """
        key = normalise(q)
        if not key:
            return [], 0
        tokens = words(q)
        best: dict[str, tuple[int, int, str, str]] = {}
        for k, iri, text in self._keys:
            if k == key:
                rank = 0
            elif k.startswith(key):
                rank = 1
            elif key in k:
                rank = 2
            elif len(tokens) > 1 and all(t in k for t in tokens):
                rank = 3
            else:
                continue
            candidate = (rank, len(k), k, text)
            if iri not in best or candidate < best[iri]:
                best[iri] = candidate
        ordered = sorted(best.items(), key=lambda kv: (kv[1][0], self.entries[kv[0]].priority, kv[1][1],
                                                       kv[1][2], kv[0]))
        page = ordered[offset:offset + limit]
        return [Hit(self.entries[iri], MATCH_KINDS[m[0]], m[3]) for iri, m in page], len(ordered)


def get_index() -> SearchIndex:
    """The current app's index, built on first use and rebuilt after each new build."""
    from flask import current_app

    from service.config import namespaces
    from service.dataset_meta import per_build
    from service.store import get_store

    return per_build("search-index", lambda: SearchIndex.from_store(get_store(), namespaces(current_app.config)))

