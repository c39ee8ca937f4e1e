"""Property-based tests (hypothesis) of the three gates user text passes, bounded in time.

* The query pre-flight (:mod:`service.sparql_guard`) raises only its documented errors
  (``BadQuery`` 400, ``PayloadTooLarge`` 413, ``QueryRefused`` 422) and never lets a
  ``SERVICE`` or ``LOAD`` through, however it is spelt.
* Content negotiation (:mod:`service.conneg`) yields a supported media type of the asked kind,
  or ``NotAcceptable`` (406); ``BadQuery`` (400) only for an unknown ``format=``.
* Parameter binding (:mod:`service.params`, :func:`service.catalogue.bind`) yields a term that
  an engine reads back as exactly the value given: it cannot leave its literal or IRI position.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service import conneg
from service.catalogue import bind, parse_query_file
from service.errors import BadParameter, BadQuery, NotAcceptable, PayloadTooLarge, QueryRefused
from service.params import Param, to_term
from service.sparql_guard import Policy, preflight, screen

BASE = "http://kg.test/"
POLICY = Policy(100_000, local_graphs=frozenset({f"{BASE}graph/a"}))
BOUNDED = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
GUARD_ERRORS = (BadQuery, PayloadTooLarge, QueryRefused)

# --- SPARQL-ish text ----------------------------------------------------------------------------------

FRAGMENTS = ["SELECT", "*", "?s", "?p", "?o", "{", "}", "(", ")", "[", "]", ".", ";", ",", "WHERE", "FILTER",
             "OPTIONAL", "UNION", "GRAPH", "FROM", "NAMED", "LIMIT", "10", "ASK", "CONSTRUCT", "DESCRIBE", "BIND",
             "AS", "<urn:a>", "<http://kg.test/graph/a>", '"x"', "'y'", '"""z"""', "#c\n", "\n", "a", "ex:p",
             "PREFIX ex: <urn:ex#>", "VALUES", "?u", "SILENT", "regex", "!", "^", "|", "/", "*", "+", "\\u0041",
             "OFFSET", "²", "٣", "¹⁰", "99999999999999999999", "-1", "1e5"]  # odd digits once gave a 500


def spelled(word: str) -> st.SearchStrategy[str]:
    """``word`` in any case, with any letters written as ``\\u`` escapes."""
    def spell(flags: list[tuple[bool, bool]]) -> str:
        out = []
        for ch, (upper, escape) in zip(word, flags):
            ch = ch.upper() if upper else ch.lower()
            out.append(f"\\u{ord(ch):04X}" if escape else ch)
        return "".join(out)
    return st.lists(st.tuples(st.booleans(), st.booleans()), min_size=len(word), max_size=len(word)).map(spell)


GAP = st.sampled_from([" ", "\n", "\t", " #comment\n", "  ", "\r\n"])
ENDPOINT = st.sampled_from(["<http://127.0.0.1:9/>", "<http://169.254.169.254/latest/meta-data/>",
                            "<file:///etc/passwd>", "?u", "<urn:x>", "ex:endpoint"])
noise = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(" ".join)


@BOUNDED
@given(st.text(max_size=300))
def test_preflight_raises_only_documented_errors_on_any_text(text: str) -> None:
    try:
        result = preflight(text, POLICY)
    except GUARD_ERRORS:
        return
    assert result.form in (None, "SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


@BOUNDED
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join))
def test_preflight_raises_only_documented_errors_on_sparqlish_text(text: str) -> None:
    try:
        preflight(text, POLICY)
    except GUARD_ERRORS:
        pass


@BOUNDED
@given(before=noise, keyword=spelled("service"), silent=st.one_of(st.just(""), spelled("silent")),
       gap=GAP, endpoint=ENDPOINT, after=noise)
def test_service_never_passes(before: str, keyword: str, silent: str, gap: str, endpoint: str, after: str) -> None:
    query = f"PREFIX ex: <urn:ex#> SELECT * {{ {before} {keyword}{gap}{silent}{gap}{endpoint} {{ ?s ?p ?o }} {after} }}"
    with pytest.raises(GUARD_ERRORS):
        preflight(query, POLICY)
    with pytest.raises(GUARD_ERRORS):
        screen(query, 100_000)


@BOUNDED
@given(keyword=spelled("load"), silent=st.one_of(st.just(""), spelled("silent")), gap=GAP,
       source=st.sampled_from(["<http://127.0.0.1:9/x.ttl>", "<file:///etc/passwd>"]),
       into=st.sampled_from(["", " INTO GRAPH <urn:g>"]), prologue=st.sampled_from(["", "PREFIX ex: <urn:ex#> "]))
def test_load_never_passes(keyword: str, silent: str, gap: str, source: str, into: str, prologue: str) -> None:
    with pytest.raises(BadQuery):
        preflight(f"{prologue}{keyword}{gap}{silent}{gap}{source}{into}", POLICY)


# --- content negotiation ------------------------------------------------------------------------------

MEDIA = [f.media_type for f in conneg.FORMATS] + [a for f in conneg.FORMATS for a in f.aliases] + [
    "*/*", "text/*", "application/*", "text/html", "image/png", "application/x-nope", "", "garbage", ";;", "*/html"]
accept_entry = st.tuples(st.sampled_from(MEDIA), st.one_of(st.none(), st.floats(0, 1), st.text(max_size=5))).map(
    lambda e: e[0] if e[1] is None else f"{e[0]};q={e[1]}")
accept_header = st.one_of(st.none(), st.lists(accept_entry, max_size=8).map(", ".join), st.text(max_size=60))
format_param = st.one_of(st.none(), st.sampled_from([n for f in conneg.FORMATS for n in f.names] + MEDIA),
                         st.text(max_size=20))


@BOUNDED
@given(accept=accept_header, kind=st.sampled_from(["results", "graph"]), fmt=format_param)
def test_negotiation_yields_a_supported_type_or_406(accept: str | None, kind: conneg.Kind, fmt: str | None) -> None:
    supported = {f.media_type for f in conneg.formats_of(kind)}
    try:
        chosen = conneg.negotiate(accept, kind, fmt)
    except NotAcceptable:
        return
    except BadQuery:
        assert fmt and fmt.strip(", "), "400 is only for an unknown format= value"
        return
    assert chosen in supported


# --- parameter binding --------------------------------------------------------------------------------

ENGINE = ox.Store()


def read_back(term: str) -> ox.NamedNode | ox.Literal:
    """The single value an engine reads from ``BIND(term AS ?x)``; fails if the term broke out."""
    rows = list(ENGINE.query(f"SELECT ?x WHERE {{ BIND({term} AS ?x) }}"))
    assert len(rows) == 1
    return rows[0]["x"]


hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ['x" } ; DROP ALL ; #', 'x"@en . ?s ?p ?o #', "x\\", '\\"', "\\u0022) } #", "'''", '"""', "\n}\n", "a>b"])


@BOUNDED
@given(raw=hostile_text)
def test_string_values_stay_literals(raw: str) -> None:
    try:
        value, term = to_term(Param("q", "string"), raw, BASE)
    except (BadParameter, PayloadTooLarge):
        return
    back = read_back(term)
    assert isinstance(back, ox.Literal) and back.value == raw == value


@BOUNDED
@given(raw=hostile_text | st.builds(lambda t: "http://ex.org/" + t, hostile_text),
       kind=st.sampled_from(["iri", "integer", "decimal", "year", "language"]))
@example(raw="http://\ufff0", kind="iri")  # a noncharacter: once accepted, then refused by the engine
@example(raw="http://ex.org/\ud800", kind="iri")  # a lone surrogate
@example(raw="http://ex.org/\ue000", kind="iri")  # private use
def test_other_values_stay_terms(raw: str, kind: str) -> None:
    try:
        value, term = to_term(Param("q", kind), raw, BASE)
    except (BadParameter, PayloadTooLarge):
        return
    back = read_back(term)
    if kind == "iri":
        assert isinstance(back, ox.NamedNode) and back.value == value
        assert back.value.startswith(("http://", "https://"))
    else:
        assert isinstance(back, ox.Literal) and back.value == value


QUERY = parse_query_file("demo.rq", """#+ summary: {en: Demo, fr: Démo}
#+ description: {en: A demo., fr: Une démo.}
#+ tags: [demo]
#+ params: [{name: place, type: iri, required: true, example: commune/59350}, {name: text, type: string}]
#+ returns: table
SELECT $place $text WHERE { }
""", BASE)


@BOUNDED
@given(place=hostile_text | st.sampled_from(["commune/59350", "eco:areaInferred", "http://ex.org/a"]),
       text=hostile_text)
def test_bound_queries_keep_their_shape(place: str, text: str) -> None:
    try:
        terms = bind(QUERY, {"place": place, "text": text})
    except (BadParameter, PayloadTooLarge):
        return
    substitutions = {ox.Variable(k): read_back(v) for k, v in terms.items()}
    rows = list(ENGINE.query("SELECT ?place ?text WHERE { }", substitutions=substitutions))
    assert len(rows) == 1 and rows[0]["place"] == substitutions[ox.Variable("place")]
    if "text" in terms:
        assert rows[0]["text"].value == text
