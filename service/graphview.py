"""A small neighbourhood graph of a resource, laid out on the server for an inline SVG.

Contract: :func:`neighbourhood` picks the resource's direct neighbours that are clusters,
organisations, industries, places, programmes or labels (at most :data:`MAX_NODES`, the
direct relations before the materialised transitive ones), places them on a circle around
the resource and returns plain coordinates: the template draws circles, lines and links
(local ``/page/…`` hrefs only) with CSS classes, no script and no inline style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.describe import RDF, SKOS
from service.labels import Ctx, kind_of

__all__ = ["GraphView", "GNode", "GEdge", "neighbourhood", "MAX_NODES"]

MAX_NODES = 14
WIDTH, HEIGHT, RADIUS = 680, 420, 150
_SHOWN = ("cluster", "company", "organisation", "industry", "territory", "site", "programme", "label")
_LABEL_MAX = 22


@dataclass(slots=True)
class GNode:
    x: float
    y: float
    label: str
    title: str
    href: str | None
    kind: str
    anchor: str = "middle"
    lx: float = 0.0
    ly: float = 0.0
    lang: str = ""


@dataclass(slots=True)
class GEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    inverse: bool = False


@dataclass(slots=True)
class GraphView:
    width: int
    height: int
    centre: GNode
    nodes: list[GNode]
    edges: list[GEdge]


def _skipped(ctx: Ctx) -> frozenset[str]:
    """Materialised transitive closures and types: their direct counterparts are drawn instead."""
    eco = ctx.ns.eco
    return frozenset({RDF + "type", eco("withinTerritory"), eco("containsPlace"), SKOS + "broaderTransitive",
                      SKOS + "narrowerTransitive", RDF + "subject", RDF + "object"})


def neighbourhood(ctx: Ctx) -> GraphView | None:
    """The neighbourhood view of the page's resource, or ``None`` with fewer than two neighbours."""
    desc, skipped = ctx.desc, _skipped(ctx)
    found: dict[str, tuple[int, str, str, bool]] = {}
    for inverse, props in ((False, desc.out), (True, desc.inc)):
        for prop, values in props.items():
            if prop in skipped or values.total > 60:
                continue
            for term in values.values:
                if not term.is_iri or term.value == desc.iri or term.value in found:
                    continue
                types = [t.value for t in desc.node(term.value).get(RDF + "type", ())]
                kind = kind_of(types, term.value, ctx.ns)
                if kind in _SHOWN:
                    found[term.value] = (_SHOWN.index(kind), kind, prop, inverse)
    if len(found) < 2:
        return None
    chosen = sorted(found.items(), key=lambda item: (item[1][0], ctx.label(item[0])[0].casefold()))[:MAX_NODES]
    cx, cy = WIDTH / 2, HEIGHT / 2
    title, lang = ctx.label(desc.iri)
    centre = GNode(cx, cy, _short(title), title, None, kind_of(desc.types, desc.iri, ctx.ns), "middle", cx, cy + 34,
                   lang)
    nodes, edges = [], []
    for n, (iri, (_, kind, prop, inverse)) in enumerate(chosen):
        angle = -math.pi / 2 + 2 * math.pi * n / len(chosen)
        x, y = round(cx + RADIUS * 1.5 * math.cos(angle), 1), round(cy + RADIUS * math.sin(angle), 1)
        # labels centred under their node, so that none runs off the drawing
        anchor, lx, ly = "middle", x, y + 26
        label, label_lang = ctx.label(iri)
        nodes.append(GNode(x, y, _short(label), label, ctx.href(iri), kind, anchor, round(lx, 1), round(ly, 1),
                           label_lang))
        prop_label = ctx.label(prop)[0]
        edges.append(GEdge(cx, cy, x, y, prop_label, inverse))
    return GraphView(WIDTH, HEIGHT, centre, nodes, edges)


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[:_LABEL_MAX - 1] + "…"
