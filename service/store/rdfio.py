"""Uploaded RDF documents, parsed safely into N-Triples (the Graph Store protocol's bodies).

Only pyoxigraph parses uploads, never rdflib: its JSON-LD parser refuses any remote
``@context`` (it has no document loader unless given one, and we give none), and no parser
here opens a file or a URL. RDF/XML needs one more guard: pyoxigraph 0.5 expands internal
``<!ENTITY>`` declarations eagerly and without a size cap (a 1 kB "billion laughs" grows to
gigabytes), so a document type declaration is only accepted when it holds nothing but
plain internal entities (``<!ENTITY name "value">`` whose value references no other
entity) and the document's references to them expand to at most :data:`MAX_EXPANSION`
bytes. External entities (``SYSTEM``/``PUBLIC``), parameter entities and anything else in
a DTD are refused with a 400 before the parser sees them.

>>> to_ntriples(b'<urn:s> <urn:p> "o" .', "text/turtle", "http://kg.test/")
'<urn:s> <urn:p> "o" .\\n'
"""

from __future__ import annotations

import re

import pyoxigraph as ox

from service.errors import BadQuery, UnsupportedMediaType

__all__ = ["UPLOAD_FORMATS", "MAX_EXPANSION", "to_ntriples", "check_xml_dtd"]

#: Media types accepted as Graph Store uploads.
UPLOAD_FORMATS: dict[str, ox.RdfFormat] = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}

#: Most bytes the entity references of one RDF/XML upload may expand to.
MAX_EXPANSION = 1_000_000

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_SUBSET = re.compile(rb"<!DOCTYPE\s+[^\[>]*\[(?P<subset>.*?)\]\s*>", re.S)
_ENTITY = re.compile(rb'\s*<!ENTITY\s+(?P<name>[A-Za-z_][\w.\-]*)\s+"(?P<value>[^"%&<]*)"\s*>\s*')
_BARE_DOCTYPE = re.compile(rb"<!DOCTYPE\s+[\w:.\-]+\s*>")
_COMMENT = re.compile(rb"\s*<!--.*?-->\s*", re.S)


def check_xml_dtd(data: bytes) -> None:
    """Refuse an RDF/XML document whose DTD could fetch something or expand without bound.

    :raises BadQuery: external or parameter entities, nested entities, anything else in the
        DTD, or references expanding past :data:`MAX_EXPANSION` bytes (400).

    >>> check_xml_dtd(b'<!DOCTYPE rdf:RDF [ <!ENTITY xsd "http://www.w3.org/2001/XMLSchema#"> ]><rdf:RDF/>')
    >>> check_xml_dtd(b'<!DOCTYPE r [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]><r>&x;</r>')
    Traceback (most recent call last):
    ...
    service.errors.BadQuery: RDF/XML: this DTD is refused: only internal entities with plain values (<!ENTITY name "value">) are accepted, never external ones.
    """
    doctypes = _DOCTYPE.findall(data)
    if not doctypes:
        return
    found = _SUBSET.search(data)
    if len(doctypes) == 1 and found is None and _BARE_DOCTYPE.search(data):
        return  # <!DOCTYPE rdf:RDF> without an internal subset declares nothing
    if len(doctypes) > 1 or found is None:
        raise BadQuery("RDF/XML: this document type declaration is refused (external DTDs are never fetched).")
    subset, entities, pos = found["subset"], {}, 0
    while pos < len(subset):
        match = _ENTITY.match(subset, pos) or _COMMENT.match(subset, pos)
        if match is None or match.end() == pos:
            if not subset[pos:].strip():
                break
            raise BadQuery("RDF/XML: this DTD is refused: only internal entities with plain values "
                           '(<!ENTITY name "value">) are accepted, never external ones.')
        if match.groupdict().get("name"):
            entities[match["name"]] = len(match["value"])
        pos = match.end()
    body = data[found.end():]
    expanded = sum(size * body.count(b"&" + name + b";") for name, size in entities.items())
    if expanded > MAX_EXPANSION:
        raise BadQuery(f"RDF/XML: entity references would expand to {expanded:,} bytes "
                       f"(at most {MAX_EXPANSION:,} are accepted).")


def to_ntriples(data: bytes, media_type: str, base_iri: str | None) -> str:
    """Parse one uploaded document into N-Triples text (its triples; quads are refused).

    :param media_type: the body's media type, without parameters.
    :param base_iri: what relative IRIs resolve against (the graph's IRI; ``None``: no resolution).
    :raises UnsupportedMediaType: an unknown media type (415).
    :raises BadQuery: invalid RDF, a refused DTD, a remote JSON-LD context, named graphs (400).
    """
    fmt = UPLOAD_FORMATS.get(media_type)
    if fmt is None:
        raise UnsupportedMediaType(f"Cannot read {media_type or 'a body without a media type'}: send one of "
                                   f"{', '.join(sorted(UPLOAD_FORMATS))}.")
    if fmt == ox.RdfFormat.RDF_XML:
        check_xml_dtd(data)
    try:
        quads = list(ox.parse(data, format=fmt, base_iri=base_iri))
    except SyntaxError as exc:
        message = str(exc)
        if "LoadDocumentCallback" in message:
            raise BadQuery("JSON-LD: remote @context documents are never fetched: inline the context.") from None
        raise BadQuery(f"The {media_type} document is not valid: {message[:300]}") from None
    except ValueError as exc:
        raise BadQuery(f"The {media_type} document is not valid: {str(exc)[:300]}") from None
    if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
        raise BadQuery("The document names graphs: a Graph Store request carries the triples of one graph.")
    return (ox.serialize((q.triple for q in quads), format=ox.RdfFormat.N_TRIPLES) or b"").decode("utf-8")
