"""The query pre-flight (service.sparql_guard): lexer checks and parsed-algebra refusals."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import BadQuery, KGError, PayloadTooLarge, QueryRefused
from service.sparql_guard import MAX_DEPTH, Policy, analyse, preflight, screen

LOCAL = frozenset({"http://kg.test/graph/a", "http://kg.test/graph/b"})
POLICY = Policy(100_000, local_graphs=LOCAL)
ALLOWING = Policy(100_000, allowlist=frozenset({"http://allowed.example/sparql"}), local_graphs=LOCAL)


def nested(depth: int, opener: str = "{", closer: str = "}") -> str:
    return "SELECT * WHERE " + opener * depth + " ?s ?p ?o " + closer * depth


@pytest.mark.parametrize(("opener", "closer"), [("{", "}"), ("(", ")"), ("[", "]")])
def test_depth_limit_is_exact(opener: str, closer: str) -> None:
    body = "SELECT * { ?s ?p ?o FILTER(" if opener == "(" else "SELECT * { ?s ?p "
    inside = {"(": "?o", "[": "<urn:p> ?o"}.get(opener, "?s ?p ?o")
    outer = {"{": 0, "(": 2, "[": 1}[opener]  # brackets the query needs around the nest

    def query(depth: int) -> str:
        if opener == "{":
            return nested(depth)
        return body + opener * depth + inside + closer * depth + (") }" if opener == "(" else " }")

    screen(query(MAX_DEPTH - outer), 100_000)
    with pytest.raises(BadQuery, match="nesting too deep"):
        screen(query(MAX_DEPTH - outer + 1), 100_000)


@pytest.mark.parametrize("bomb", [
    "SELECT * {" + "{" * 50_000 + "}" * 50_000 + "}",
    "ASK { FILTER(" + "(" * 50_000 + "1" + ")" * 50_000 + ") }",
    "ASK { FILTER(" + "!" * 50_000 + "true) }",
    "ASK { FILTER(" + "- " * 50_000 + "1) }",
    "ASK { ?s " + "^" * 50_000 + "<urn:p> ?o }",
    "ASK { VALUES ?t { " + "<< " * 50_000 + "}",
    "ASK { FILTER(?a<" + "(" * 50_000 + "?b>?c) }",  # a '<' the engine reads as "less than"
])
def test_bombs_are_refused_fast_without_recursion(bomb: str) -> None:
    started = time.perf_counter()
    with pytest.raises(BadQuery, match="nesting too deep"):
        screen(bomb, 10_000_000)
    assert time.perf_counter() - started < 0.2


def test_a_megabyte_of_flat_query_is_screened_in_time() -> None:
    query = "SELECT * { VALUES ?x { " + " ".join(f"(<urn:x:{i}>)" for i in range(40_000)) + " } }"
    started = time.perf_counter()
    assert screen(query, 2_000_000).form == "SELECT"
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("query", [
    'SELECT * { ?s ?p "' + "{" * 500 + '" }',
    "SELECT * { ?s ?p '''" + "(\n" * 500 + "''' }",
    "SELECT * { ?s ?p ?o } # " + "[" * 500,
    "SELECT * { ?s <http://x.example/Paris_(France)> ?o }" * 200,
    'SELECT * { ?s ?p "\\"{{{{" }',
    "PREFIX ex: <http://ex/> SELECT * { ?s ex:a\\(\\(\\( ?o }",
])
def test_brackets_in_strings_comments_and_iris_do_not_count(query: str) -> None:
    screen(query, 1_000_000)


@pytest.mark.parametrize(("query", "form"), [
    ("PREFIX ex: <http://ex/> SELECT * {}", "SELECT"), ("ask {}", "ASK"),
    ("BASE <http://x/> CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"), ("DESCRIBE <urn:x>", "DESCRIBE"),
    ("# CONSTRUCT\nSELECT * {}", "SELECT"), ("SELEC * {}", None),
])
def test_form(query: str, form: str | None) -> None:
    assert screen(query, 1000).form == form


@pytest.mark.parametrize("update", [
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }", "delete where { ?s ?p ?o }", "LOAD <http://x/>", "CLEAR ALL",
    "DROP GRAPH <urn:g>", "CREATE GRAPH <urn:g>", "PREFIX ex: <urn:> WITH ex:g DELETE { ?s ?p ?o } WHERE {}",
    "ADD <urn:a> TO <urn:b>", "MOVE DEFAULT TO <urn:b>", "COPY <urn:a> TO <urn:b>",
])
def test_updates_are_sent_to_update(update: str) -> None:
    with pytest.raises(BadQuery, match="send it to /update"):
        screen(update, 1000)


def test_words_that_only_look_like_keywords() -> None:
    query = ('PREFIX service: <urn:s#> PREFIX insert-x: <urn:i#> SELECT ?service ?from '
             '{ ?service a service:Service ; insert-x:load "SERVICE FROM LOAD" . ?x <urn:service> _:service }')
    assert screen(query, 10_000).form == "SELECT"
    assert preflight(query, POLICY).form == "SELECT"


def test_size_and_emptiness() -> None:
    with pytest.raises(PayloadTooLarge):
        screen("ASK {} #" + "é" * 600, 1000)  # 1,208 bytes in UTF-8
    with pytest.raises(BadQuery, match="empty"):
        screen(" \n ", 1000)
    with pytest.raises(BadQuery, match="Unicode"):
        screen("ASK {} #\ud800" + "x" * 300, 1000)


@pytest.mark.parametrize("query", [
    "SELECT * {} LIMIT 99999999999999999999999", "SELECT * {} OFFSET 9223372036854775808",
])
def test_limit_and_offset_beyond_64_bits(query: str) -> None:
    with pytest.raises(BadQuery, match="out of range"):
        screen(query, 1000)
    screen("SELECT * {} LIMIT 9223372036854775807 OFFSET 0", 1000)


SERVICES = [
    "SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }",
    "SELECT * { SERVICE SILENT <http://169.254.169.254/latest/meta-data/> { ?s ?p ?o } }",
    "select * { service <http://127.0.0.1:1/> { ?s ?p ?o } }",
    "SELECT * { VALUES ?u { <http://127.0.0.1:1/> } SERVICE ?u { ?s ?p ?o } }",
    "SELECT * { \\u0053ERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }",
    "SELECT * { SERVICE#comment\n<http://127.0.0.1:1/> { ?s ?p ?o } }",
    "ASK { FILTER NOT EXISTS { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } } }",
    "SELECT * { { SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } } LIMIT 1 } }",
    "PREFIX e: <http://127.0.0.1:1/> SELECT * { OPTIONAL { SERVICE e:x { ?s ?p ?o } } }",
    "SELECT * { ?x ?y ?z LATERAL { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } } }",  # rdflib cannot parse it
    "SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } } GARBAGE",
    "SELECT * { ?x ?y ?z LATERAL { ?s ?p true.SERVICE <http://127.0.0.1:1/> { ?a ?b ?c } } }",
    "SELECT * { ?x ?y ?z LATERAL { ?s ?p ?o.SERVICE <http://127.0.0.1:1/> { ?a ?b ?c } } }",
]


@pytest.mark.parametrize("query", SERVICES)
@pytest.mark.parametrize("policy", [POLICY, ALLOWING], ids=["nothing-allowed", "other-allowed"])
def test_service_is_refused(query: str, policy: Policy) -> None:
    with pytest.raises(QueryRefused, match="SERVICE"):
        preflight(query, policy)


@pytest.mark.parametrize("query", [
    "SELECT * { SERVICE <http://allowed.example/sparql> { ?s ?p ?o } }",
    "PREFIX a: <http://allowed.example/> SELECT * { SERVICE SILENT a:sparql { ?s ?p ?o } }",
    "SELECT * { ?x ?y ?z LATERAL { SERVICE <http://allowed.example/sparql> { ?s ?p ?o } } }",
])
def test_allow_listed_service_passes(query: str) -> None:
    preflight(query, ALLOWING)


@pytest.mark.parametrize("query", [
    "SELECT * FROM <file:///etc/passwd> { ?s ?p ?o }",
    "SELECT * FROM NAMED <http://127.0.0.1:1/g> { GRAPH ?g { ?s ?p ?o } }",
    "PREFIX f: <file:///tmp/> CONSTRUCT FROM f:canary.ttl WHERE { ?s ?p ?o }",
    "SELECT * FROM <graph/a> { ?s ?p ?o }",
    "SELECT * FROM <file:///etc/passwd> { ?x ?y ?z LATERAL { ?s ?p ?o } }",  # rdflib cannot parse it
    "PREFIX g: <http://kg.test/graph/> SELECT * FROM g:a { ?x ?y ?z LATERAL { ?s ?p ?o } }",  # nor verify g:a
])
def test_from_must_name_a_local_graph(query: str) -> None:
    with pytest.raises(QueryRefused, match="FROM"):
        preflight(query, POLICY)


@pytest.mark.parametrize("query", [
    "SELECT * FROM <http://kg.test/graph/a> FROM NAMED <http://kg.test/graph/b> { ?s ?p ?o }",
    "PREFIX g: <http://kg.test/graph/> ASK FROM g:a {}",
    "SELECT * FROM <http://kg.test/graph/a> { ?x ?y ?z LATERAL { ?s ?p ?o } }",
])
def test_local_from_passes(query: str) -> None:
    preflight(query, POLICY)


def test_analysis_is_cached_and_reports_syntax_errors() -> None:
    analyse.cache_clear()
    first = analyse("SELECT * WHERE {\n ?s ?p \n}")
    assert first.error is not None and first.error.startswith("line 2")
    assert analyse("SELECT * WHERE {\n ?s ?p \n}") is first
    assert analyse.cache_info().hits == 1


def test_rdflib_rejections_are_left_to_the_engine() -> None:
    """Not refused for syntax here: the engine judges (and reports) it."""
    assert preflight("SELECT * { ?x ?y ?z LATERAL { SELECT * { ?x ?p ?o } LIMIT 1 } }", POLICY).form == "SELECT"
    assert preflight("SELECT (ADJUST(NOW(), \"PT1H\"^^<http://www.w3.org/2001/XMLSchema#dayTimeDuration>) AS ?t) {}",
                     POLICY).form == "SELECT"
    assert preflight(nested(100), POLICY).form == "SELECT"  # beyond rdflib's recursion limit here


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}()[]<>\"'#\\:?$!^-+ \nSERVICEFROMselect0123456789.;,uU")),
               max_size=300))
def test_screen_only_ever_answers_with_the_error_family(text: str) -> None:
    try:
        preflight(text, ALLOWING)
    except KGError:
        pass


@pytest.mark.parametrize(("query", "parsed"), [
    ("SELECT ?s WHERE { ?s ?p ?o FILTER(?o > 1) } ORDER BY ?s", False),
    ("PREFIX from: <urn:x#> SELECT ?service { ?service from:p 'FROM <urn:y>' } # SERVICE <urn:z>", False),
    ("SELECT * FROM <http://kg.test/graph/a> { ?s ?p ?o }", True),
    ("SELECT * { \\u0046ROM_x ?p ?o }", True),  # an escape: the parse decides
])
def test_the_parse_runs_only_when_it_can_refuse(query: str, parsed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.sparql_guard as guard

    calls: list[str] = []
    real = guard.analyse
    monkeypatch.setattr(guard, "analyse", lambda text: calls.append(text) or real(text))
    preflight(query, POLICY)
    assert bool(calls) is parsed
