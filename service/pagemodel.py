"""The HTML page of a resource as plain, sorted Python structures for the templates.

Contract: :func:`build_page` runs :func:`service.describe.describe` (two queries; a third for
the comparison chart of a territory's parts, and one for a document's excerpts) and
returns a :class:`Page`: title and description in the reader's language (with fallback),
types, breadcrumbs along the territorial hierarchy, properties in groups (identity, figure,
classification, location, relationships, provenance, other) with labels and definitions
from the ontology, "what points here" by property, paginated, the figures with their
provenance, charts, the neighbourhood graph, schema.org JSON-LD and the RDF alternates.
It returns ``None`` for an unknown resource. Templates receive no SPARQL, no rdflib object
and nothing to sort.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from service.describe import (DCT, RDF, Description, PropertyValues, describe, document_excerpts,
                              hidden_inverse_properties, part_figures)
from service.figures import Chart, Figure, charts, figure, origin, parts_chart
from service.graphview import GraphView, neighbourhood
from service.i18n import other_language, text
from service.iris import EXTERNAL_PREFIXES, Namespaces
from service.labels import Ctx, Link, Value, fold, kind_of
from service.store import GraphStore
from service.vocabulary import Terms

__all__ = ["Page", "Row", "Group", "Pager", "Segment", "PageParams", "build_page", "FORMATS", "LICENSE",
           "property_groups"]

log = logging.getLogger(__name__)

#: RDF formats of a description: (file extension, media type, UI key).
FORMATS: tuple[tuple[str, str, str], ...] = (("ttl", "text/turtle", "fmt_ttl"),
                                             ("nt", "application/n-triples", "fmt_nt"),
                                             ("rdf", "application/rdf+xml", "fmt_rdf"),
                                             ("jsonld", "application/ld+json", "fmt_jsonld"))
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
_P = EXTERNAL_PREFIXES
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("identity", ("rdfs:label", "skos:prefLabel", "skos:altLabel", "dcterms:title", "schema:description",
                  "dcterms:description", "skos:definition", "rdfs:comment", "skos:notation", "eco:inseeCode",
                  "eco:sirenNumber", "eco:postalCode", "dcterms:identifier", "eco:recordKey", "eco:sha256",
                  "dcterms:format", "owl:versionInfo", "eco:year", "eco:startYear", "eco:endYear", "eco:labelYear",
                  "eco:deliveryYear")),
    ("figure", ("eco:obsValue", "eco:statedValueText", "eco:valueQualifier", "eco:unit", "eco:indicator",
                "eco:industry", "eco:refArea", "eco:refOrganization", "eco:refPeriod", "eco:shareOf",
                "eco:rankedAmong", "eco:areaResolution", "qb:dataSet")),
    ("classification", ("rdf:type", "skos:inScheme", "skos:topConceptOf", "skos:broader", "skos:broaderTransitive",
                        "skos:narrower", "skos:narrowerTransitive", "skos:hasTopConcept", "skos:exactMatch",
                        "skos:closeMatch", "skos:broadMatch", "skos:narrowMatch", "eco:activeInIndustry",
                        "eco:servesIndustry", "eco:drivesMarket", "eco:sectorOfExcellence", "eco:hasLabel")),
    ("location", ("eco:locatedIn", "eco:hosts", "eco:directlyWithin", "eco:withinTerritory", "eco:directlyContains",
                  "eco:containsPlace", "eco:operates", "org:hasSite", "schema:containedInPlace")),
    ("relationships", ("eco:supports", "eco:partOfProgramme", "org:subOrganizationOf", "eco:concerns",
                       "rdf:subject", "rdf:predicate", "rdf:object")),
    ("provenance", ("prov:wasDerivedFrom", "oa:exact", "oa:prefix", "oa:suffix", "oa:start", "oa:end",
                    "prov:wasQuotedFrom", "dcterms:source", "prov:hadPrimarySource", "eco:citationAsStated",
                    "dcterms:publisher", "eco:mentionedIn", "eco:qualityFlag", "eco:statedText", "eco:gapNote",
                    "skos:editorialNote", "prov:wasGeneratedBy", "prov:wasAttributedTo", "prov:used",
                    "prov:wasAssociatedWith", "dcterms:license")),
)
_RANKS = ("Country", "Region", "OverseasCollectivity", "Departement", "Intercommunality", "Commune")


@lru_cache(maxsize=8)
def property_groups(ns: Namespaces) -> dict[str, tuple[int, int]]:
    """Property IRI → (group number, position) in the page's order; other properties are "other"."""
    found: dict[str, tuple[int, int]] = {}
    for g, (_, curies) in enumerate(_GROUPS):
        for n, curie in enumerate(curies):
            found.setdefault(ns.expand(curie), (g, n))
    return found


@dataclass(slots=True)
class PageParams:
    """The request's view of a page: its local path and pages (1-based) of values and figures."""

    path: str
    out_page: int = 1
    inv_page: int = 1
    fig_page: int = 1
    page_size: int = 50

    def href(self, **changes: int | str) -> str:
        """This page with some parameters changed (default values left out of the URL)."""
        args = {"out_page": self.out_page, "inv_page": self.inv_page, "fig_page": self.fig_page, **changes}
        query = urlencode([(k, v) for k, v in args.items() if v not in (1, "1", "")])
        return self.path + ("?" + query if query else "")


@dataclass(slots=True)
class Pager:
    page: int
    pages: int
    total: int
    first: int
    last: int
    prev_href: str | None
    next_href: str | None


@dataclass(slots=True)
class Row:
    """One property and its values (a page of them), with its label and definition."""

    prop: Link
    values: list[Value]
    total: int
    anchor: str
    pager: Pager | None = None


@dataclass(slots=True)
class Group:
    key: str
    title: str
    rows: list[Row]


@dataclass(slots=True)
class Segment:
    """A run of a document's text: plain, or inside excerpts (``href`` of the innermost one)."""

    text: str
    href: str | None = None
    anchor: str = ""
    title: str = ""


@dataclass
class Page:
    """Everything the resource template shows."""

    iri: str
    lang: str
    kind: str
    title: str
    title_lang: str
    canonical: str
    description: tuple[str, str] | None
    types: list[Link]
    breadcrumbs: list[Link]
    groups: list[Group]
    inverse: list[Row]
    hidden_figures: int
    figures: list[Figure]
    figures_pager: Pager | None
    figure: Figure | None
    charts: list[Chart]
    graph: GraphView | None
    jsonld: dict[str, Any]
    alternates: list[tuple[str, str, str]]
    switch_href: str
    switch_lang: str
    document_text: list[Segment] | None = None
    document_note: str = ""
    quote: Figure | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _pager(params: PageParams, param: str, pv_page: int, pages: int, total: int, size: int,
           anchor: str) -> Pager | None:
    if pages <= 1:
        return None
    first, last = (pv_page - 1) * size + 1, min(pv_page * size, total)
    prev_href = params.href(**{param: pv_page - 1}) + anchor if pv_page > 1 else None
    next_href = params.href(**{param: pv_page + 1}) + anchor if pv_page < pages else None
    return Pager(pv_page, pages, total, first, last, prev_href, next_href)


def _anchor(ctx: Ctx, prop: str, inverse: bool) -> str:
    local = re.sub(r"[^A-Za-z0-9]+", "-", ctx.label(prop)[0] if prop not in property_groups(ctx.ns) else
                   prop.rsplit("#", 1)[-1].rsplit("/", 1)[-1]).strip("-").lower()
    return ("inv-" if inverse else "p-") + (local or "x") + "-" + hashlib.sha1(prop.encode()).hexdigest()[:4]


def _stated(ctx: Ctx) -> dict[tuple[str, str], tuple[str, str]]:
    """(property, value N-Triples) → (excerpt IRI, quote) for the resource's reified statements."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for statement in ctx.desc.statements:
        node = ctx.desc.node(statement)
        pred, obj = node.get(RDF + "predicate"), node.get(RDF + "object")
        derived = node.get(_P["prov"] + "wasDerivedFrom")
        if pred and obj and derived:
            quote = ctx.desc.first(derived[0].value, _P["oa"] + "exact")
            found[(pred[0].value, obj[0].nt)] = (derived[0].value, quote.value if quote else "")
    return found


def _row(ctx: Ctx, params: PageParams, pv: PropertyValues, inverse: bool,
         stated: dict[tuple[str, str], tuple[str, str]] | None = None) -> Row:
    eco = ctx.ns.eco
    grouping = pv.prop not in {eco(n) for n in ("year", "startYear", "endYear", "labelYear", "deliveryYear")} and \
        not pv.prop.startswith(_P["oa"])
    values = []
    for term in pv.values:
        value = ctx.value(term, pv.prop, grouping=grouping)
        source = stated.get((pv.prop, term.nt)) if stated else None
        if source:
            value.stated_href, value.stated_quote = ctx.href(source[0]), source[1]
        values.append(value)
    if any(v.is_link for v in values):
        values.sort(key=lambda v: (not v.is_link, fold(v.text)))
    else:
        values.sort(key=lambda v: (v.lang not in ("", ctx.lang), v.lang != "", fold(v.text)))
    anchor = _anchor(ctx, pv.prop, inverse)
    param = "inv_page" if inverse else "out_page"
    return Row(ctx.link(pv.prop), values, pv.total, anchor,
               _pager(params, param, pv.page, pv.pages, pv.total, params.page_size, "#" + anchor))


def _groups(ctx: Ctx, params: PageParams) -> list[Group]:
    order, stated = property_groups(ctx.ns), _stated(ctx)
    rows: list[list[tuple[tuple[int, str], Row]]] = [[] for _ in range(len(_GROUPS) + 1)]
    for prop, pv in ctx.desc.out.items():
        g, n = order.get(prop, (len(_GROUPS), 0))
        rows[g].append(((n, fold(ctx.label(prop)[0])), _row(ctx, params, pv, False, stated)))
    keys = [k for k, _ in _GROUPS] + ["other"]
    return [Group(keys[g], text("group_" + keys[g], ctx.lang), [r for _, r in sorted(found, key=lambda x: x[0])])
            for g, found in enumerate(rows) if found]


def _inverse(ctx: Ctx, params: PageParams) -> tuple[list[Row], int]:
    hidden = hidden_inverse_properties(ctx.ns)
    order = property_groups(ctx.ns)
    rows = [((order.get(p, (99, 0)), fold(ctx.label(p)[0])), _row(ctx, params, pv, True))
            for p, pv in ctx.desc.inc.items() if p not in hidden]
    listed = any(p in hidden for p in ctx.desc.inc)
    return [r for _, r in sorted(rows, key=lambda x: x[0])], ctx.desc.figure_total if listed else 0


def _types(ctx: Ctx) -> list[Link]:
    """The resource's classes from the ontology (all its classes when it has none of ours), by label."""
    own = [t for t in ctx.desc.types if t.startswith(ctx.ns.eco_ns)] or ctx.desc.types
    return sorted((ctx.link(t) for t in own), key=lambda link: fold(link.label))


def _breadcrumbs(ctx: Ctx) -> list[Link]:
    """Home, then the resource's administrative ancestors from the country down."""
    eco, desc = ctx.ns.eco, ctx.desc
    ranks = {eco(name): n for n, name in enumerate(_RANKS)}
    by_rank: dict[int, str] = {}
    for prop in (eco("withinTerritory"), eco("directlyWithin")):
        pv = desc.out.get(prop)
        for term in pv.values if pv else ():
            for t in desc.node(term.value).get(RDF + "type", ()):
                if t.value in ranks:
                    by_rank.setdefault(ranks[t.value], term.value)
    own = min((ranks[t] for t in desc.types if t in ranks), default=len(_RANKS))
    crumbs = [Link(text("home", ctx.lang), ctx.prefix + "/")]
    crumbs += [ctx.link(iri) for rank, iri in sorted(by_rank.items()) if rank < own]
    return crumbs


def _document_text(ctx: Ctx, store: GraphStore, data_dir: str) -> tuple[list[Segment] | None, str]:
    """The text of a source document with its excerpts marked, if this server has a verified copy."""
    ident, sha = ctx.desc.first(ctx.desc.iri, DCT + "identifier"), ctx.desc.first(ctx.desc.iri, ctx.ns.eco("sha256"))
    if ident is None or sha is None or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.txt", ident.value):
        return None, ""
    content = _read_source(str(Path(data_dir) / "sources" / ident.value), sha.value)
    if content is None:
        return None, text("document_unverified", ctx.lang)
    excerpts = document_excerpts(store, ctx.desc.iri)
    cuts = sorted({0, len(content), *(p for _, a, b in excerpts for p in (a, b) if 0 <= p <= len(content))})
    segments: list[Segment] = []
    opened: set[str] = set()
    for a, b in zip(cuts, cuts[1:]):
        inside = [e for e in excerpts if e[1] <= a and e[2] >= b]
        if not inside:
            segments.append(Segment(content[a:b]))
            continue
        iri, start, end = min(inside, key=lambda e: e[2] - e[1])
        anchor = f"x-{start}-{end}" if iri not in opened else ""
        opened.add(iri)
        segments.append(Segment(content[a:b], ctx.href(iri), anchor, text("characters", ctx.lang)
                                .format(start=start, end=end)))
    return segments, ""


@lru_cache(maxsize=16)
def _read_source(path: str, sha256: str) -> str | None:
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(raw).hexdigest() != sha256:
        log.warning("source copy %s does not match its SHA-256; not shown", Path(path).name)
        return None
    return raw.decode("utf-8", errors="replace")


def _jsonld(ctx: Ctx, kind: str, title: str, description: tuple[str, str] | None, canonical: str,
            fig: Figure | None) -> dict[str, Any]:
    """schema.org JSON-LD for search engines: Place/AdministrativeArea, Organization, Observation, Dataset."""
    eco, desc = ctx.ns.eco, ctx.desc
    types = set(desc.types)
    schema_type = ("AdministrativeArea" if eco("AdministrativeArea") in types else "Place" if kind in
                   ("territory", "site") else "Organization" if kind in ("cluster", "company", "organisation") else
                   "Observation" if kind == "observation" else "CreativeWork" if kind in ("document", "excerpt")
                   else "DefinedTerm" if kind in ("industry", "indicator", "concept") else "Thing")
    data: dict[str, Any] = {"@context": "https://schema.org", "@type": schema_type, "@id": desc.iri, "name": title,
                            "url": canonical, "inLanguage": ctx.lang,
                            "isPartOf": {"@type": "Dataset", "name": "territory-kg", "license": LICENSE,
                                         "url": ctx.ns.base}}
    if description:
        data["description"] = description[0]

    def refs(prop: str) -> list[dict[str, str]]:
        values = desc.out[prop].values if prop in desc.out else []
        return [{"@id": t.value, "name": ctx.label(t.value)[0]} for t in values if t.is_iri][:20]

    if schema_type in ("AdministrativeArea", "Place"):
        data["containedInPlace"] = refs(eco("directlyWithin"))
        code = desc.first(desc.iri, eco("inseeCode"))
        if code:
            data["identifier"] = code.value
    elif schema_type == "Organization":
        data["location"] = refs(eco("locatedIn"))
        data["knowsAbout"] = refs(eco("activeInIndustry")) + refs(eco("servesIndustry"))
    matches = [t.value for t in desc.out.get(_P["skos"] + "exactMatch", PropertyValues("", [], 0, 1, 1)).values
               if t.value.startswith(("http://", "https://"))]
    if matches:
        data["sameAs"] = matches
    if fig is not None:
        data.update({"value": fig.value, "observationAbout": {"@id": fig.about.iri} if fig.about else None,
                     "measuredProperty": {"@id": fig.indicator.iri, "name": fig.indicator.label}
                     if fig.indicator else None, "unitText": fig.unit.label if fig.unit else None})
        if fig.quote and fig.quote.document:
            data["isBasedOn"] = {"@id": fig.quote.document.iri, "name": fig.quote.document.label}
    return {k: v for k, v in data.items() if v not in (None, [], "")}


def build_page(store: GraphStore, ns: Namespaces, terms: Terms, iri: str, lang: str, params: PageParams, *,
               prefix: str = "", data_dir: str = "") -> Page | None:
    """The :class:`Page` of ``iri`` in ``lang``, or ``None`` when the graph does not know it.

    :param prefix: the server path of the base (``""`` when the base is at the root).
    :param data_dir: the curated data folder (source document copies under ``sources/``).
    :raises service.errors.StoreUnavailable: when the store cannot answer.
    """
    desc: Description | None = describe(store, ns, iri, terms=terms, out_page=params.out_page,
                                        inv_page=params.inv_page, fig_page=params.fig_page,
                                        page_size=params.page_size)
    if desc is None:
        return None
    ctx = Ctx(ns, lang, terms, desc, prefix)
    kind = kind_of(desc.types, iri, ns)
    title, title_lang = ctx.label(iri)
    description = ctx.describe_text(iri)
    rest = iri[len(ns.id_ns):] if iri.startswith(ns.id_ns) else ""
    figures = [figure(ctx, f) for f in desc.figures]
    figures = [f for f in figures if f.is_observation]
    figures.sort(key=lambda f: tuple(fold(link.label) if link else "" for link in (f.indicator, f.industry, f.about,
                                                                                     f.period)))
    own = figure(ctx, iri) if kind == "observation" else None
    found_charts = charts(ctx, figures)
    if ns.eco("directlyContains") in desc.out:
        chart = parts_chart(ctx, part_figures(store, ns, iri))
        if chart is not None:
            found_charts.append(chart)
    inverse, hidden = _inverse(ctx, params)
    canonical = f"{ns.base}page/{rest}" if rest else iri
    page = Page(
        iri, lang, kind, title, title_lang, canonical, description,
        _types(ctx),
        _breadcrumbs(ctx), _groups(ctx, params), inverse, hidden if figures else 0, figures,
        _pager(params, "fig_page", desc.figure_page, desc.figure_pages, desc.figure_total, params.page_size,
               "#figures"),
        own, found_charts, neighbourhood(ctx), _jsonld(ctx, kind, title, description, canonical, own),
        [(f"{prefix}/data/{rest}.{ext}", media, text(key, lang)) for ext, media, key in FORMATS] if rest else [],
        params.href() + ("&" if "?" in params.href() else "?") + "lang=" + other_language(lang),
        other_language(lang))
    if kind == "document" and data_dir:
        page.document_text, page.document_note = _document_text(ctx, store, data_dir)
    if kind in ("excerpt", "gap", "statement"):
        page.quote = _quote(ctx, kind)
    return page


def _quote(ctx: Ctx, kind: str) -> Figure | None:
    """The sentence of an excerpt page (with its context), or the one a gap or statement is derived from."""
    source = ctx.desc.iri
    if kind != "excerpt":
        derived = ctx.desc.first(source, _P["prov"] + "wasDerivedFrom")
        if derived is None or not derived.is_iri:
            return None
        source = derived.value
    quote, _, _, _ = origin(ctx, source)
    if quote is None:
        return None
    return Figure(ctx.desc.iri, ctx.link(ctx.desc.iri), None, "", "", None, None, None, None, quote=quote)
