"""Figures (observations) with where they come from, and charts of comparable figures.

Contract: :func:`figure` reads one observation from a
:class:`~service.describe.Description` (its own triples and the provenance chain the
description fetched) and returns a :class:`Figure`: the value written with its unit and
qualifier in the reader's language, the value as stated, indicator, period, area or
organisation, industry, quality flags, the quoted sentence with its code-point offsets, the
document with its SHA-256 (or the official data record), the cited source and its publisher,
and a "cite this" text. :func:`charts` finds comparable figures (same indicator and unit;
or all shares) and lays out horizontal bars (geometry computed here; templates only draw).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from service import __version__
from service.describe import DCT, OA, PROV, RDF, RDFS, PartFigure, Term
from service.i18n import format_number, ordinal, text
from service.labels import Ctx, Link, fold

__all__ = ["Figure", "Quote", "Chart", "Bar", "figure", "charts", "parts_chart", "format_value", "UNITS", "origin"]

_QUDT = "http://qudt.org/vocab/unit/"
#: QUDT units the graph uses: (English label, French label, symbol, symbol before the number in English).
UNITS: dict[str, tuple[str, str, str, bool]] = {
    _QUDT + "NUM": ("number", "nombre", "", False),
    _QUDT + "PERCENT": ("percent", "pour cent", "%", False),
    _QUDT + "M2": ("square metre", "mètre carré", "m²", False),
    _QUDT + "HA": ("hectare", "hectare", "ha", False),
    _QUDT + "KiloM": ("kilometre", "kilomètre", "km", False),
    _QUDT + "TON_Metric": ("tonne", "tonne", "t", False),
    _QUDT + "CCY_EUR": ("euro", "euro", "€", True),
}
_QB_OBSERVATION = "http://purl.org/linked-data/cube#Observation"
CHART_MAX_BARS = 25
BAR_HEIGHT = 22


@dataclass(slots=True)
class Quote:
    """A quoted sentence: its text, offsets (code points, end exclusive) and where it is from."""

    exact: str
    start: str
    end: str
    href: str | None
    document: Link | None
    sha256: str = ""
    prefix: str = ""
    suffix: str = ""


@dataclass(slots=True)
class Figure:
    """One figure, ready for a table row and its provenance panel."""

    iri: str
    link: Link
    indicator: Link | None
    value: str
    stated: str
    unit: Link | None
    period: Link | None
    about: Link | None
    industry: Link | None
    flags: list[Link] = field(default_factory=list)
    quote: Quote | None = None
    record: Link | None = None
    record_document: Link | None = None
    record_sha256: str = ""
    cited: Link | None = None
    publisher: Link | None = None
    citation: str = ""
    cite: str = ""
    qualifier: Link | None = None
    number: Decimal | None = None
    unit_iri: str = ""
    indicator_iri: str = ""
    is_rank: bool = False
    is_observation: bool = True


@dataclass(slots=True)
class Bar:
    label: str
    href: str | None
    value: str
    y: int
    width: float
    lang: str = ""


@dataclass(slots=True)
class Chart:
    """A horizontal bar chart: bars with their geometry (``width`` in % of the plot)."""

    title: str
    bars: list[Bar]
    height: int
    note: str = ""


def _number(term: Term | None) -> Decimal | None:
    try:
        return Decimal(term.value) if term is not None and term.kind == "literal" else None
    except InvalidOperation:
        return None


def format_value(ctx: Ctx, value: Term | None, unit: str, qualifier: str = "") -> str:
    """A figure's value as the reader's language writes it, with unit and qualifier.

    Years are not grouped (``2020``), ordinal centuries are ordinals (``19th century``).
    """
    if value is None:
        return ""
    lang = ctx.lang
    if unit == ctx.ns.mint("unit", "calendar-year"):
        shown = value.value
    elif unit == ctx.ns.mint("unit", "century-ordinal"):
        number = _number(value)
        n = int(number) if number is not None and number == number.to_integral_value() else None
        shown = (f"{ordinal(n, lang)} " + ("century" if lang == "en" else "siècle")) if n else value.value
    else:
        shown = format_number(value.value, lang)
        if unit in UNITS:
            symbol, before = UNITS[unit][2], UNITS[unit][3]
            if symbol:
                if before and lang == "en":
                    shown = symbol + shown
                else:
                    shown = f"{shown}{'' if symbol == '%' and lang == 'en' else chr(0xA0)}{symbol}"
        elif unit:
            shown = f"{shown}\u00a0{ctx.terms.symbols.get(unit) or ctx.label(unit)[0]}"
    if qualifier and qualifier != ctx.ns.eco("valueAsStated"):
        shown = f"{ctx.label(qualifier)[0]} {shown}"
    return shown


def _unit_link(ctx: Ctx, unit: str) -> Link | None:
    if not unit:
        return None
    link = ctx.link(unit)
    if unit in UNITS:
        en, fr, _, _ = UNITS[unit]
        link.label = en if ctx.lang == "en" else fr
        link.lang = ""
    return link


def _iri(ctx: Ctx, node: dict[str, list[Term]], prop: str) -> str:
    values = node.get(prop)
    return next((t.value for t in values if t.is_iri), "") if values else ""


def _lit(node: dict[str, list[Term]], prop: str) -> str:
    values = node.get(prop)
    return next((t.value for t in values if t.kind == "literal"), "") if values else ""


def figure(ctx: Ctx, iri: str) -> Figure:
    """The :class:`Figure` of observation ``iri`` (see the module docstring)."""
    eco, node = ctx.ns.eco, ctx.desc.node(iri)
    unit, qualifier = _iri(ctx, node, eco("unit")), _iri(ctx, node, eco("valueQualifier"))
    value = next(iter(node.get(eco("obsValue")) or ()), None)
    about = _iri(ctx, node, eco("refArea")) or _iri(ctx, node, eco("refOrganization"))
    picked = ctx.pick(node.get(RDFS + "label"))
    link = ctx.link(iri)
    if picked:
        link.label, link.lang = picked[0], "" if picked[1] == ctx.lang else picked[1]
    fig = Figure(
        iri, link, _opt(ctx, _iri(ctx, node, eco("indicator"))), format_value(ctx, value, unit, qualifier),
        _lit(node, eco("statedValueText")), _unit_link(ctx, unit), _opt(ctx, _iri(ctx, node, eco("refPeriod"))),
        _opt(ctx, about), _opt(ctx, _iri(ctx, node, eco("industry"))),
        [ctx.link(t.value) for t in node.get(eco("qualityFlag"), ()) if t.is_iri],
        citation=_lit(node, eco("citationAsStated")), qualifier=_opt(ctx, qualifier), number=_number(value),
        unit_iri=unit, indicator_iri=_iri(ctx, node, eco("indicator")),
        is_rank=any(t.value == eco("RankingObservation") for t in node.get(RDF + "type", ())),
        is_observation=any(t.value in (eco("Observation"), _QB_OBSERVATION) for t in node.get(RDF + "type", ())))
    derived = _iri(ctx, node, PROV + "wasDerivedFrom")
    if derived:
        fig.quote, fig.record, fig.record_document, fig.record_sha256 = origin(ctx, derived)
    cited = _iri(ctx, node, PROV + "hadPrimarySource")
    if cited:
        fig.cited = ctx.link(cited)
        publisher = _iri(ctx, ctx.desc.node(cited), DCT + "publisher")
        fig.publisher = _opt(ctx, publisher)
    fig.cite = _cite(ctx, fig)
    return fig


def _opt(ctx: Ctx, iri: str) -> Link | None:
    return ctx.link(iri) if iri else None


def origin(ctx: Ctx, derived: str) -> tuple[Quote | None, Link | None, Link | None, str]:
    """The excerpt (as a :class:`Quote`) or the data record a figure is derived from."""
    eco, node = ctx.ns.eco, ctx.desc.node(derived)
    doc = _iri(ctx, node, PROV + "wasQuotedFrom")
    doc_link = _opt(ctx, doc)
    sha = _lit(ctx.desc.node(doc), eco("sha256")) if doc else ""
    exact = _lit(node, OA + "exact")
    if exact:
        return (Quote(exact, _lit(node, OA + "start"), _lit(node, OA + "end"), ctx.href(derived), doc_link, sha,
                      _lit(node, OA + "prefix"), _lit(node, OA + "suffix")), None, None, "")
    record = ctx.link(derived)
    key = _lit(node, eco("recordKey"))
    if key:
        record.label = text("record_key", ctx.lang).format(key=key)
    return None, record, doc_link, sha


def _cite(ctx: Ctx, fig: Figure) -> str:
    """The "cite this" text of a figure, in the page language."""
    lang = ctx.lang
    if fig.quote is not None:
        document = fig.quote.document.label if fig.quote.document else ""
        sha = fig.quote.sha256
        chars = text("cite_characters", lang).format(start=fig.quote.start, end=fig.quote.end)
    else:
        document = fig.record_document.label if fig.record_document else (fig.record.label if fig.record else "")
        sha, chars = fig.record_sha256, ""
    if sha:
        document += f" (SHA-256 {sha})"
    cited = ""
    if fig.cited is not None:
        cited = text("cite_cited", lang).format(source=fig.cited.label + (f", {fig.publisher.label}"
                                                                          if fig.publisher else ""))
    return text("cite_template", lang).format(label=fig.link.label, version=__version__, iri=fig.iri,
                                              document=document or "?", characters=chars, cited=cited)


def _layout(title: str, items: list[tuple[str, str | None, Decimal, str, str]], note: str = "") -> Chart:
    """Bars for ``(label, href, number, value text, label language)`` items, largest first."""
    items = sorted(items, key=lambda i: (-i[2], fold(i[0])))[:CHART_MAX_BARS]
    top = max((abs(i[2]) for i in items), default=Decimal(0)) or Decimal(1)
    bars = [Bar(label, href, shown, n * BAR_HEIGHT, round(float(abs(number) / top) * 100, 2), lang)
            for n, (label, href, number, shown, lang) in enumerate(items)]
    return Chart(title, bars, len(bars) * BAR_HEIGHT, note)


def charts(ctx: Ctx, figures: list[Figure]) -> list[Chart]:
    """Charts of the resource's own comparable figures: one per (indicator, unit) with several
    values, and one of all its shares (percentages) when there are several.
    """
    groups: dict[tuple[str, str], list[Figure]] = defaultdict(list)
    shares: list[Figure] = []
    for fig in figures:
        if fig.number is None or not fig.unit_iri or fig.is_rank:
            continue  # ranks are not quantities: longer bars would not mean more
        if fig.unit_iri == _QUDT + "PERCENT":
            shares.append(fig)
        else:
            groups[(fig.indicator_iri, fig.unit_iri)].append(fig)
    found: list[Chart] = []
    if len(shares) >= 2:
        title = text("chart_shares", ctx.lang)
        found.append(_layout(title, [(_distinct(f, shares), ctx.href(f.iri), f.number or Decimal(0), f.value, "")
                                     for f in shares]))
    for (indicator, unit), figs in sorted(groups.items()):
        if len(figs) < 2 or unit in (ctx.ns.mint("unit", "calendar-year"), ctx.ns.mint("unit", "century-ordinal")):
            continue
        title = text("chart_own", ctx.lang).format(indicator=ctx.label(indicator)[0],
                                                   unit=figs[0].unit.label if figs[0].unit else "")
        found.append(_layout(title, [(_distinct(f, figs), ctx.href(f.iri), f.number or Decimal(0), f.value, "")
                                     for f in figs]))
    return found[:3]


def _distinct(fig: Figure, others: list[Figure]) -> str:
    """What tells a figure apart from the others of its chart: the fields that vary."""
    parts = []
    for attr in ("indicator", "industry", "about", "period"):
        values = {getattr(f, attr).label if getattr(f, attr) else "" for f in others}
        own = getattr(fig, attr)
        if len(values) > 1 and own is not None:
            parts.append(own.label)
    return " · ".join(parts) or fig.link.label


def parts_chart(ctx: Ctx, parts: list[PartFigure]) -> Chart | None:
    """A chart of the places directly within the resource, for the indicator most of them have
    figures for (e.g. the legal populations of an EPCI's communes); ``None`` if under two places.
    """
    groups: dict[tuple[str, str], dict[str, PartFigure]] = defaultdict(dict)
    for part in parts:
        if _number(part.value) is not None:
            groups[(part.indicator, part.unit)].setdefault(part.place, part)
    if not groups:
        return None
    (indicator, unit), chosen = max(groups.items(), key=lambda g: (len(g[1]), g[0]))
    if len(chosen) < 2:
        return None
    items = []
    for place, part in chosen.items():
        picked = ctx.pick(list(part.labels)) or (ctx.label(place)[0], "")
        items.append((picked[0], ctx.href(place), _number(part.value) or Decimal(0),
                      format_value(ctx, part.value, unit), "" if picked[1] == ctx.lang else picked[1]))
    unit_link = _unit_link(ctx, unit)
    title = text("chart_parts", ctx.lang).format(indicator=ctx.label(indicator)[0],
                                                 unit=unit_link.label if unit_link else "")
    note = ""
    if len(items) > CHART_MAX_BARS:
        note = text("chart_top", ctx.lang).format(shown=CHART_MAX_BARS, total=len(items))
    return _layout(title, items, note)
