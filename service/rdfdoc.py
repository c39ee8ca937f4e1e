"""RDF documents of resources: the bounded description as Turtle, N-Triples, RDF/XML or JSON-LD.

Contract: :func:`build_rdf` runs :func:`service.describe.describe` and serialises, with
canonical IRIs under ``BASE_URI`` only:

* the resource's outgoing and incoming triples (a page of ``page_size`` values per property);
* labels of the resources it links to (from the store, or the cached vocabulary);
* the figures about it (a page), their statements, excerpts, documents, cited sources and
  publishers, as :func:`~service.describe.describe` fetched them;
* a few triples about the document itself (``{BASE}data/{path}``): ``foaf:primaryTopic``,
  ``dcterms:license`` (CC BY 4.0) and, when values were left out, an ``rdfs:comment`` saying
  so and ``hydra:next`` to the next page.

N-Triples are written directly (sorted, one triple per line); the other formats go through
rdflib with the project's prefixes. Returns ``None`` for an unknown resource.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.conneg import by_media_type
from service.describe import DCT, RDF, RDFS, Description, describe
from service.iris import Namespaces
from service.store import GraphStore
from service.vocabulary import Terms

__all__ = ["build_rdf", "serialize", "nt_literal", "describe_triples"]

FOAF = "http://xmlns.com/foaf/0.1/"
HYDRA = "http://www.w3.org/ns/hydra/core#"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"


def nt_literal(text: str, lang: str = "") -> str:
    """A literal in N-Triples syntax.

    >>> nt_literal('say "hi"\\n', "en")
    '"say \\\\"hi\\\\"\\\\n"@en'
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"' + (f"@{lang}" if lang else "")


def describe_triples(desc: Description, ns: Namespaces, terms: Terms, doc: str, next_href: str | None) -> set[str]:
    """The N-Triples lines (without newline) of the RDF document of ``desc`` (see the module docstring).

    :param doc: the document IRI (``{BASE}data/{path}``).
    :param next_href: the IRI of the next page, when values were left out.
    """
    me = f"<{desc.iri}>"
    lines: set[str] = set()
    linked: set[str] = set()
    for prop, pv in desc.out.items():
        for t in pv.values:
            lines.add(f"{me} <{prop}> {t.nt} .")
            if t.is_iri:
                linked.add(t.value)
    for prop, pv in desc.inc.items():
        for t in pv.values:
            lines.add(f"{t.nt} <{prop}> {me} .")
            linked.add(t.value)
    for s, p, o in desc.extra:
        lines.add(f"{s.nt} <{p}> {o.nt} .")
        if o.is_iri:
            linked.add(o.value)
    labelled = {s.value for s, p, _ in desc.extra if p in (RDFS + "label", "http://www.w3.org/2004/02/skos/core#"
                                                                          "prefLabel")}
    for iri in sorted(linked - labelled):
        for lang, label in sorted(terms.labels.get(iri, {}).items()):
            lines.add(f"<{iri}> <{RDFS}label> {nt_literal(label, lang)} .")
    lines.add(f"<{doc}> <{RDF}type> <{FOAF}Document> .")
    lines.add(f"<{doc}> <{FOAF}primaryTopic> {me} .")
    lines.add(f"<{doc}> <{DCT}license> <{LICENSE}> .")
    cut = [(d, p, pv.total, len(pv.values)) for d, props in (("outgoing", desc.out), ("incoming", desc.inc))
           for p, pv in sorted(props.items()) if pv.pages > 1]
    if cut:
        note = "; ".join(f"{d} <{p}>: {shown} of {total}" for d, p, total, shown in cut)
        lines.add(f"<{doc}> <{RDFS}comment> {nt_literal('Values left out, by property: ' + note, 'en')} .")
    if next_href:
        lines.add(f"<{doc}> <{HYDRA}next> <{next_href}> .")
    return lines


def serialize(lines: Iterable[str], media_type: str, ns: Namespaces) -> bytes:
    """N-Triples lines as ``media_type`` (Turtle, N-Triples, RDF/XML or JSON-LD)."""
    ordered = sorted(lines)
    if media_type == "application/n-triples":
        return ("\n".join(ordered) + "\n").encode("utf-8")
    from rdflib import Graph

    graph = Graph(bind_namespaces="none")
    graph.parse(data="\n".join(ordered), format="nt")
    prefixes = {**ns.prefixes(), "foaf": FOAF, "hydra": HYDRA, "qudt": "http://qudt.org/schema/qudt/",
                **{f"sdmx-{part}": f"http://purl.org/linked-data/sdmx/2009/{part}#"
                   for part in ("dimension", "measure", "attribute")}}
    for prefix, iri in prefixes.items():
        graph.bind(prefix, iri, override=True, replace=True)
    name = by_media_type(media_type).rdflib_name or "turtle"
    if name == "json-ld":
        body = graph.serialize(format="json-ld", context={p: i for p, i in prefixes.items() if p != "id"},
                               auto_compact=True)
    else:
        body = graph.serialize(format=name)
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def build_rdf(store: GraphStore, ns: Namespaces, terms: Terms, iri: str, media_type: str, *, out_page: int = 1,
              inv_page: int = 1, page_size: int = 50) -> bytes | None:
    """The RDF document of ``iri`` as ``media_type``, or ``None`` when the graph does not know it.

    :raises service.errors.StoreUnavailable: when the store cannot answer.
    """
    desc = describe(store, ns, iri, terms=terms, out_page=out_page, inv_page=inv_page, fig_page=inv_page,
                    page_size=page_size)
    if desc is None:
        return None
    rest = iri[len(ns.id_ns):] if iri.startswith(ns.id_ns) else ""
    doc = f"{ns.base}data/{rest}"
    more = any(pv.page < pv.pages for pv in (*desc.out.values(), *desc.inc.values()))
    next_href = None
    if more:
        next_href = f"{doc}?out_page={out_page + 1}&inv_page={inv_page + 1}"
    return serialize(describe_triples(desc, ns, terms, doc, next_href), media_type, ns)
