"""hardening.md N1–N3: injection through every parameter of every named query, over the real server.

The (query, parameter) pairs are enumerated from the catalogue itself (``queries/*.rq`` via
:func:`service.catalogue.load_catalogue`), so a new query or parameter is covered without
editing this file. Other parameters take the query's example values. Hostile values by type:

* ``string``/``language``: quote-breaking and escape-sequence payloads → 200 with the same
  result shape (the value stayed a literal) or a 400 naming the parameter; never a changed shape.
* ``iri``: IRI-breaking payloads, other schemes, relative references → 400 ``invalid-parameter``;
  an http IRI of the canary listener → bound as a term, never fetched (no connection).
* numbers and years: anything not a plain number → 400.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from service.catalogue import NamedQuery, load_catalogue
from service.config import make_config
from tests.hardening.conftest import TEST_BASE
from tests.hardening.harness import Guards, Reply, Server, assert_harmless

CATALOGUE = load_catalogue(make_config()["QUERIES_DIR"], TEST_BASE)
PAIRS = [(q.name, p.name) for q in CATALOGUE for p in q.params]

LITERAL = ['x" } ; DROP ALL ; #', 'x"@en . ?s ?p ?o #', 'x\\" } UNION { ?s ?p ?o } #', "x\\u0022 } #",
           "'''x''' . <script>alert(1)</script>", 'x"^^<http://www.w3.org/2001/XMLSchema#integer> . #']
LANGUAGE = ['en"@', 'en" } #', "fr-\\u0022", "en fr"]
IRI = ["http://ex.org/a> } UNION { ?s ?p ?o } #", "http://ex.org/a\\u003E", "http://ex.org/a b", "javascript:alert(1)",
       "file:///etc/passwd", "../x", "commune/../../x", "<http://ex.org/a>", 'http://ex.org/"x', "http://ex.org/{x}",
       "eco:x> ; DROP ALL", "data:text/html,<script>"]
NUMBER = ["1; DROP ALL", "1e9", '-1"', "0x10", '"1"', "1 } #", "١٢"]


def hostile_values(kind: str) -> list[str]:
    return {"string": LITERAL, "language": LANGUAGE, "iri": IRI}.get(kind, NUMBER)


def run(server: Server, query: NamedQuery, values: dict[str, str]) -> Reply:
    return server.request("GET", f"/api/queries/{query.name}?{urlencode({**values, 'format': 'json'})}")


def assert_shape(query: NamedQuery, reply: Reply) -> None:
    """A 200 answers with the query's own shape: its variables (tables) or RDF (graphs)."""
    if query.returns == "table":
        assert reply.json()["head"]["vars"] == list(query.variables), reply.text[:300]
    else:
        import rdflib

        rdflib.Graph().parse(data=reply.body, format="json-ld")


@pytest.mark.parametrize(("name", "param"), PAIRS, ids=[f"{n}.{p}" for n, p in PAIRS])
def test_hostile_parameter_values(name: str, param: str, kg_server: Server,
                                  guard: Callable[[Server], Guards]) -> None:
    guards = guard(kg_server)
    query = CATALOGUE.get(name)
    kind = next(p.type for p in query.params if p.name == param)
    base = {k: v for k, v in query.example.items() if k != param}
    replies = []
    for value in hostile_values(kind):
        reply = run(kg_server, query, {**base, param: value})
        replies.append(reply)
        assert reply.status in ((200, 400) if kind in ("string", "language") else (400,)), (value, reply)
        if reply.status == 400:
            problem = reply.json()
            assert reply.header("Content-Type").startswith("application/problem+json")
            assert problem["code"] == "invalid-parameter" and param in problem["detail"], problem
        else:
            assert_shape(query, reply)
    if kind == "iri":  # a well-formed http IRI is a term: bound, never dereferenced
        reply = run(kg_server, query, {**base, param: guards.canary.url + "x"})
        assert reply.status in (200, 400), reply  # 400 only for enum parameters
        replies.append(reply)
    assert_harmless(guards, *replies)


def _first(kind: str | None = None, required: bool | None = None) -> tuple[NamedQuery, str]:
    for query in CATALOGUE:
        for p in query.params:
            if (kind is None or p.type == kind) and (required is None or p.required == required):
                return query, p.name
    raise LookupError(kind)


def test_paging_and_naming_errors(kg_server: Server, guard: Callable[[Server], Guards]) -> None:
    """N3: bad limits, missing/unknown parameters, unknown queries, huge values."""
    guards = guard(kg_server)
    query, required = _first(required=True)
    example = dict(query.example)
    replies = []

    def expect(status: int | tuple[int, ...], values: dict[str, str], name: str | None = None, code: str = "") -> None:
        reply = kg_server.request("GET", f"/api/queries/{name or query.name}?{urlencode(values)}")
        statuses = status if isinstance(status, tuple) else (status,)
        assert reply.status in statuses, (values, reply)
        if code:
            assert json.loads(reply.body)["code"] == code, reply.text
        replies.append(reply)

    for limit in ("abc", "-1", "1e9", "0", "99999999999999999999"):
        expect(400, {**example, "limit": limit})
    clamped = kg_server.request("GET", f"/api/queries/{query.name}?{urlencode({**example, 'limit': '999999'})}")
    assert clamped.status == 200
    expect(400, {**example, "offset": "-5"})
    expect(400, {k: v for k, v in example.items() if k != required}, code="missing-parameters")
    expect(400, {**example, "nope": "1"}, code="unknown-parameters")
    expect(404, example, name="no-such-query")
    expect(404, example, name="..%2f..%2fetc%2fpasswd")
    expect(413, {**example, required: "x" * 3000})  # over the 2,000-character value limit
    expect((400, 414), {**example, required: "x" * 1_000_000})  # over the server's request-line limit
    lang_query, lang = _first(kind="language")
    bad_lang = urlencode({lang: 'en"@'})
    reply = kg_server.request("GET", f"/api/queries/{lang_query.name}?{bad_lang}")
    assert reply.status == 400
    assert_harmless(guards, *replies, clamped, reply)


def test_every_parameter_is_covered() -> None:
    declared = sum(len(q.params) for q in CATALOGUE)
    assert len(PAIRS) == declared and declared >= 20
    assert {p.type for q in CATALOGUE for p in q.params} <= {"iri", "string", "integer", "decimal", "year", "language"}
