"""Content negotiation: the table and negotiate() (no app needed)."""

from __future__ import annotations

import pytest

from service import conneg
from service.errors import BadQuery, NotAcceptable
from service.store.oxigraph import GRAPH_FORMATS, RESULT_FORMATS


def test_table_matches_what_the_store_serialises() -> None:
    assert {f.media_type for f in conneg.formats_of("results")} == set(RESULT_FORMATS)
    assert {f.media_type for f in conneg.formats_of("graph")} == set(GRAPH_FORMATS)


def test_short_names_are_unique_within_a_kind() -> None:
    for kind in ("results", "graph"):
        names = [n for f in conneg.formats_of(kind) for n in f.names]  # type: ignore[arg-type]
        assert len(names) == len(set(names))


def test_every_format_has_a_w3c_iri() -> None:
    assert all(f.iri.startswith("http://www.w3.org/ns/formats/") for f in conneg.FORMATS)
    assert len({f.iri for f in conneg.FORMATS}) == len(conneg.FORMATS)


@pytest.mark.parametrize(("accept", "kind", "expected"), [
    (None, "results", "application/sparql-results+json"),
    ("", "graph", "text/turtle"),
    ("*/*", "results", "application/sparql-results+json"),
    ("text/*", "results", "text/csv"),
    ("application/*;q=0.1, text/tab-separated-values;q=0.2", "results", "text/tab-separated-values"),
    ("application/sparql-results+xml", "results", "application/sparql-results+xml"),
    ("application/xml", "results", "application/sparql-results+xml"),
    ("application/xml", "graph", "application/rdf+xml"),
    ("application/json", "graph", "application/ld+json"),
    ("text/n3", "graph", "text/turtle"),
    ("application/n-quads;q=0.9, application/trig", "graph", "application/trig"),
    ("text/html, " + ", ".join(f"application/x-{i}" for i in range(200)) + ", */*;q=0.1", "graph", "text/turtle"),
])
def test_accept(accept: str | None, kind: conneg.Kind, expected: str) -> None:
    assert conneg.negotiate(accept, kind) == expected


@pytest.mark.parametrize(("fmt", "kind", "expected"), [
    ("json", "results", "application/sparql-results+json"), ("json", "graph", "application/ld+json"),
    ("XML", "results", "application/sparql-results+xml"), ("xml", "graph", "application/rdf+xml"),
    ("csv", "results", "text/csv"), ("tsv", "results", "text/tab-separated-values"),
    ("ttl", "graph", "text/turtle"), ("turtle", "graph", "text/turtle"), ("nt", "graph", "application/n-triples"),
    ("rdf/xml", "graph", "application/rdf+xml"), ("jsonld", "graph", "application/ld+json"),
    ("nq", "graph", "application/n-quads"), ("trig", "graph", "application/trig"),
    ("text/csv", "results", "text/csv"), ("application/ld+json", "graph", "application/ld+json"),
    ("json-ld,application/ld+json,application/x-json+ld", "graph", "application/ld+json"),
])
def test_format_parameter_wins(fmt: str, kind: conneg.Kind, expected: str) -> None:
    assert conneg.negotiate("image/png", kind, fmt) == expected


@pytest.mark.parametrize(("accept", "kind", "fmt", "error"), [
    ("image/png", "results", None, NotAcceptable),
    ("text/csv", "graph", None, NotAcceptable),
    (None, "results", "ttl", NotAcceptable),
    (None, "graph", "tsv", NotAcceptable),
    (None, "graph", "../../etc/passwd", BadQuery),
    (None, "results", "yaml", BadQuery),
])
def test_refusals(accept: str | None, kind: conneg.Kind, fmt: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        conneg.negotiate(accept, kind, fmt)


def test_by_media_type_unknown() -> None:
    with pytest.raises(KeyError):
        conneg.by_media_type("text/html")


@pytest.mark.parametrize(("accept", "kind", "expected"), [
    ("text/turtle; charset=utf-8", "graph", "text/turtle"),
    ("text/turtle;charset=UTF-8", "graph", "text/turtle"),
    ("application/sparql-results+json;charset=UTF-8", "results", "application/sparql-results+json"),
    ("application/sparql-results+xml; charset=utf-8; q=1.0", "results", "application/sparql-results+xml"),
    ("application/json; charset=utf-8", "results", "application/sparql-results+json"),
    ('application/ld+json; profile="http://www.w3.org/ns/json-ld#expanded"', "graph", "application/ld+json"),
    ("text/csv; header=present", "results", "text/csv"),
    ("*/*; charset=utf-8", "graph", "text/turtle"),
    # q-values still decide, with or without other parameters
    ("text/turtle; charset=utf-8; q=0.2, application/n-triples;q=0.9", "graph", "application/n-triples"),
    ("text/csv;charset=utf-8;q=0.4, text/tab-separated-values;charset=utf-8", "results",
     "text/tab-separated-values"),
    ("application/rdf+xml;q=0.5, text/turtle;charset=utf-8;q=0.8", "graph", "text/turtle"),
])
def test_accept_parameters_other_than_q_are_ignored(accept: str, kind: conneg.Kind, expected: str) -> None:
    assert conneg.negotiate(accept, kind) == expected


def test_accept_with_parameters_parsed_by_werkzeug() -> None:
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    parsed = parse_accept_header("text/turtle; charset=utf-8;q=0.3, application/rdf+xml; charset=utf-8;q=0.7",
                                 MIMEAccept)
    assert conneg.negotiate(parsed, "graph") == "application/rdf+xml"


@pytest.mark.parametrize(("accept", "kind"), [
    ("text/turtle; charset=utf-8", "results"),
    ("image/png; charset=utf-8", "graph"),
    ("text/turtle; charset=utf-8; q=0", "graph"),
    ("application/sparql-results+json;charset=UTF-8;q=0, text/html", "results"),
])
def test_accept_with_parameters_still_refused(accept: str, kind: conneg.Kind) -> None:
    with pytest.raises(NotAcceptable):
        conneg.negotiate(accept, kind)
