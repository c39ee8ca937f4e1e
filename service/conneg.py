"""Content negotiation: one table of media types and formats, and :func:`negotiate`.

Two kinds of answers exist: ``"results"`` (SELECT solutions and ASK booleans, as SPARQL
Query Results JSON/XML/CSV/TSV) and ``"graph"`` (CONSTRUCT/DESCRIBE and RDF documents, as
Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads or TriG). :data:`FORMATS` is the single
table; the first format of each kind is the default (what ``*/*`` or no ``Accept`` gets).

A ``format=`` request parameter overrides ``Accept``: it takes a short name (``json``,
``xml``, ``csv``, ``tsv``, ``ttl``/``turtle``, ``nt``, ``rdf``/``rdfxml``/``rdf/xml``,
``jsonld``, ``nq``, ``trig``) or a full media type. Short names are read for the kind of
answer: ``xml`` is SPARQL XML results for a SELECT and RDF/XML for a CONSTRUCT; ``json``
is SPARQL JSON results or JSON-LD. N3 requests (``n3``, ``text/n3``) get Turtle, which is valid N3.

>>> negotiate("text/csv", "results")
'text/csv'
>>> negotiate("application/sparql-results+xml;q=0.5, text/tab-separated-values", "results")
'text/tab-separated-values'
>>> negotiate(None, "graph")
'text/turtle'
>>> negotiate("text/html", "graph", format_param="jsonld")
'application/ld+json'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from service.errors import BadQuery, NotAcceptable

__all__ = ["Format", "FORMATS", "Kind", "negotiate", "by_media_type", "formats_of", "without_parameters"]

Kind = Literal["results", "graph"]

_W3C = "http://www.w3.org/ns/formats/"


@dataclass(frozen=True)
class Format:
    """One serialisation format.

    :param media_type: the canonical media type (what responses carry, what stores take).
    :param kind: ``"results"`` or ``"graph"``.
    :param names: ``format=`` short names.
    :param aliases: other media types that select it (in ``Accept`` or ``format=``).
    :param iri: its W3C format IRI (``http://www.w3.org/ns/formats/…``), for service descriptions.
    :param rdflib_name: the rdflib serializer for graph formats, ``None`` for result formats.
    """

    media_type: str
    kind: Kind
    names: tuple[str, ...]
    aliases: tuple[str, ...]
    iri: str
    rdflib_name: str | None = None


FORMATS: tuple[Format, ...] = (
    Format("application/sparql-results+json", "results", ("json",), ("application/json",),
           _W3C + "SPARQL_Results_JSON"),
    Format("application/sparql-results+xml", "results", ("xml",), ("application/xml", "text/xml"),
           _W3C + "SPARQL_Results_XML"),
    Format("text/csv", "results", ("csv",), (), _W3C + "SPARQL_Results_CSV"),
    Format("text/tab-separated-values", "results", ("tsv",), (), _W3C + "SPARQL_Results_TSV"),
    Format("text/turtle", "graph", ("ttl", "turtle", "n3"),
           ("application/x-turtle", "application/turtle", "text/n3", "text/rdf+n3", "application/n3"),
           _W3C + "Turtle", "turtle"),
    Format("application/n-triples", "graph", ("nt", "ntriples"), (), _W3C + "N-Triples", "nt"),
    Format("application/rdf+xml", "graph", ("rdf", "rdfxml", "rdf/xml", "xml"), ("application/xml", "text/xml"),
           _W3C + "RDF_XML", "xml"),
    Format("application/ld+json", "graph", ("jsonld", "json-ld", "json"), ("application/json",),
           _W3C + "JSON-LD", "json-ld"),
    Format("application/n-quads", "graph", ("nq", "nquads"), (), _W3C + "N-Quads", "nquads"),
    Format("application/trig", "graph", ("trig",), (), _W3C + "TriG", "trig"),
)


def formats_of(kind: Kind) -> tuple[Format, ...]:
    """The formats of one kind, default first.

    >>> [f.names[0] for f in formats_of("results")]
    ['json', 'xml', 'csv', 'tsv']
    """
    return tuple(f for f in FORMATS if f.kind == kind)


def by_media_type(media_type: str) -> Format:
    """The format whose canonical media type is ``media_type``.

    >>> by_media_type("text/turtle").rdflib_name
    'turtle'

    :raises KeyError: for an unknown media type.
    """
    for fmt in FORMATS:
        if fmt.media_type == media_type:
            return fmt
    raise KeyError(media_type)


def _lookup(value: str, kind: Kind) -> Format | None:
    value = value.strip().lower()
    for fmt in formats_of(kind):
        if value in fmt.names or value == fmt.media_type or value in fmt.aliases:
            return fmt
    return None


def without_parameters(accept: MIMEAccept) -> MIMEAccept:
    """``accept`` with media-type parameters dropped (werkzeug has already taken ``q`` out):
    ``text/turtle; charset=utf-8`` asks for Turtle, whatever its parameters say.

    >>> list(without_parameters(parse_accept_header("text/turtle; charset=utf-8;q=0.5, */*;q=0.1", MIMEAccept)))
    [('text/turtle', 0.5), ('*/*', 0.1)]
    """
    return MIMEAccept([(value.split(";", 1)[0].strip(), quality) for value, quality in accept])


def negotiate(accept: MIMEAccept | str | None, kind: Kind, format_param: str | None = None) -> str:
    """Choose the canonical media type of an answer.

    :param accept: the request's ``Accept`` (parsed or raw); missing or empty means ``*/*``.
        Media-type parameters other than ``q`` (``charset``, ``profile``…) are ignored.
    :param kind: ``"results"`` or ``"graph"``.
    :param format_param: ``format=`` value(s); when given they win over ``Accept``. A
        comma-separated list (as SPARQLWrapper sends) is read in order: the first value
        naming a format of this kind wins.
    :returns: the canonical media type of the chosen format.
    :raises NotAcceptable: no format of this kind matches (406).
    :raises BadQuery: ``format_param`` names no known format at all (400).

    >>> negotiate("application/json", "results")
    'application/sparql-results+json'
    >>> negotiate("text/turtle;q=0.2, application/rdf+xml;q=0.9", "graph")
    'application/rdf+xml'
    >>> negotiate("image/png", "results")
    Traceback (most recent call last):
    ...
    service.errors.NotAcceptable: None of the result formats matches Accept: image/png
    >>> negotiate(None, "graph", format_param="csv")
    Traceback (most recent call last):
    ...
    service.errors.NotAcceptable: format=csv cannot represent a graph; use one of ttl, nt, rdf, jsonld, nq, trig.
    >>> negotiate(None, "graph", format_param="json-ld,application/ld+json,application/x-json+ld")
    'application/ld+json'
    >>> negotiate(None, "results", format_param="../../etc/passwd")
    Traceback (most recent call last):
    ...
    service.errors.BadQuery: Unknown format '../../etc/passwd'; use one of json, xml, csv, tsv.
    """
    own = formats_of(kind)
    values = [v for v in (format_param or "").split(",") if v.strip()]
    if values:
        for value in values:
            if (found := _lookup(value, kind)) is not None:
                return found.media_type
        other: Kind = "graph" if kind == "results" else "results"
        names = ", ".join(f.names[0] for f in own)
        if any(_lookup(value, other) is not None for value in values):
            noun = "a graph" if kind == "graph" else "query results"
            raise NotAcceptable(f"format={format_param} cannot represent {noun}; use one of {names}.")
        raise BadQuery(f"Unknown format {str(format_param)[:80]!r}; use one of {names}.")
    parsed = accept if isinstance(accept, MIMEAccept) else parse_accept_header(accept or "", MIMEAccept)
    if not parsed:
        return own[0].media_type
    candidates = [f.media_type for f in own] + [a for f in own for a in f.aliases]
    match = without_parameters(parsed).best_match(candidates)
    if match is None:
        noun = "RDF graph" if kind == "graph" else "result"
        raise NotAcceptable(f"None of the {noun} formats matches Accept: {str(parsed)[:200]}")
    found = _lookup(match, kind)
    assert found is not None  # every candidate comes from the table
    return found.media_type
