"""Lexical helpers over SPARQL text for the named-query catalogue.

They read curated, server-side query files (never user input): which ``$parameters`` a
query uses, where its prologue ends, where a ``CONSTRUCT``'s ``WHERE`` group is, and how to
re-base IRIs written against the default base. A small tokenizer skips strings, IRIs and
comments so that a ``$`` or a brace inside them is never mistaken for syntax.

>>> parameter_names('SELECT $a ?b WHERE { ?b <urn:x> $a FILTER(?b != "$c") } # $d')
{'a'}
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from service.iris import DEFAULT_BASE

__all__ = ["tokens", "parameter_names", "top_level_words", "rebase_query", "split_prologue", "graph_parts",
           "wrap_select", "page_construct", "prebind"]

_TOKEN = re.compile(r'''
    (?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\'
              |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<comment>\#[^\n]*)
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<var>\?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<word>[A-Za-z_][\w.-]*:?[\w.-]*|:[\w.-]*)
  | (?P<open>\{)
  | (?P<close>\})
  | (?P<space>\s+)
  | (?P<other>.)
''', re.X | re.S)


def tokens(text: str) -> Iterator[tuple[str, str, int, int]]:
    """``(kind, text, start, end)`` for every token; kinds: string, iri, comment, param, var,
    word, open, close, space, other.

    >>> [k for k, *_ in tokens('SELECT ?x { <urn:a> "}" }')]
    ['word', 'space', 'var', 'space', 'open', 'space', 'iri', 'space', 'string', 'space', 'close']
    """
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        yield kind, match.group(), match.start(), match.end()


def parameter_names(text: str) -> set[str]:
    """Names written ``$name`` outside strings, IRIs and comments."""
    return {tok[1:] for kind, tok, _s, _e in tokens(text) if kind == "param"}


def top_level_words(text: str) -> set[str]:
    """Every bare word (keywords, not prefixed names), upper-cased.

    >>> sorted(top_level_words('SELECT ?s { ?s eco:service "SERVICE" }'))
    ['SELECT']
    """
    return {tok.upper() for kind, tok, _s, _e in tokens(text) if kind == "word" and ":" not in tok}


def rebase_query(text: str, base: str) -> str:
    """Move every IRI written against the default base to ``base`` (inside ``<…>`` only).

    >>> rebase_query('PREFIX eco: <https://data.example.org/def/eco#> SELECT ?s {}', 'http://kg.test/')
    'PREFIX eco: <http://kg.test/def/eco#> SELECT ?s {}'
    """
    if base == DEFAULT_BASE:
        return text
    out = []
    for kind, tok, _s, _e in tokens(text):
        if kind == "iri" and tok.startswith("<" + DEFAULT_BASE):
            tok = "<" + base + tok[1 + len(DEFAULT_BASE):]
        out.append(tok)
    return "".join(out)


def split_prologue(text: str) -> tuple[str, str]:
    """``(prologue, rest)``: leading comments and ``PREFIX``/``BASE`` declarations, then the query.

    >>> split_prologue('# c\\nPREFIX a: <urn:a>\\nSELECT ?x {}')
    ('# c\\nPREFIX a: <urn:a>\\n', 'SELECT ?x {}')
    """
    end, expect = 0, 0  # expect: tokens still owed by the current declaration
    for kind, tok, _start, stop in tokens(text):
        if kind in ("space", "comment"):
            if not expect:
                end = stop
            continue
        if expect:
            expect -= 1
            if not expect:
                end = stop
            continue
        if kind == "word" and tok.upper() == "PREFIX":
            expect = 2
        elif kind == "word" and tok.upper() == "BASE":
            expect = 1
        else:
            break
    return text[:end], text[end:]


def _matching(toks: list[tuple[str, str, int, int]], index: int) -> int:
    depth = 0
    for j in range(index, len(toks)):
        depth += {"open": 1, "close": -1}.get(toks[j][0], 0)
        if depth == 0:
            return j
    raise ValueError("unbalanced braces")


def graph_parts(text: str) -> tuple[str, str, str, str]:
    """Split a ``CONSTRUCT {…} WHERE {…}`` query into ``(prologue, head, group, tail)``:
    ``head`` runs to ``WHERE``, ``group`` is the inside of the ``WHERE`` braces, ``tail``
    the solution modifiers (``LIMIT``, ``OFFSET`` and ``VALUES`` are refused there: the
    catalogue adds its own).

    :raises ValueError: if the query does not have that shape.

    >>> graph_parts('PREFIX a: <urn:a>\\nCONSTRUCT { ?s a:p ?o } WHERE { ?s a:p ?o }')
    ('PREFIX a: <urn:a>\\n', 'CONSTRUCT { ?s a:p ?o } WHERE ', ' ?s a:p ?o ', '')
    """
    prologue, rest = split_prologue(text)
    toks = [t for t in tokens(rest) if t[0] not in ("space", "comment")]
    if not toks or toks[0][1].upper() != "CONSTRUCT" or len(toks) < 2 or toks[1][0] != "open":
        raise ValueError("a graph query must be 'CONSTRUCT { template } WHERE { pattern }'")
    template_end = _matching(toks, 1)
    if template_end + 2 >= len(toks) or toks[template_end + 1][1].upper() != "WHERE" \
            or toks[template_end + 2][0] != "open":
        raise ValueError("a graph query must be 'CONSTRUCT { template } WHERE { pattern }' (WHERE written out)")
    group_end = _matching(toks, template_end + 2)
    open_at, close_at = toks[template_end + 2][3], toks[group_end][2]
    tail = rest[close_at + 1:]
    if {tok.upper() for kind, tok, *_ in tokens(tail) if kind == "word"} & {"LIMIT", "OFFSET", "VALUES"}:
        raise ValueError("a graph query may not end with LIMIT, OFFSET or VALUES (paging is added)")
    return prologue, rest[:open_at - 1], rest[open_at:close_at], tail


def wrap_select(text: str, variables: Sequence[str], limit: int, offset: int) -> str:
    """A SELECT query wrapped as a sub-select with ``LIMIT``/``OFFSET`` (its own projection,
    order and modifiers kept); ``limit`` and ``offset`` are integers, never user text.

    >>> print(wrap_select("PREFIX a: <urn:a>\\nSELECT ?x WHERE { ?x a:p 1 }", ["x"], 10, 20))
    PREFIX a: <urn:a>
    SELECT ?x WHERE {
    {
    SELECT ?x WHERE { ?x a:p 1 }
    }
    }
    LIMIT 10 OFFSET 20
    <BLANKLINE>
    """
    prologue, body = split_prologue(text)
    projection = " ".join(f"?{v}" for v in variables)
    return f"{prologue}SELECT {projection} WHERE {{\n{{\n{body}\n}}\n}}\nLIMIT {int(limit)} OFFSET {int(offset)}\n"


def page_construct(text: str, terms: Mapping[str, str], limit: int, offset: int) -> tuple[str, str]:
    """``(construct, probe)``: the CONSTRUCT with ``terms`` (N-Triples, already validated) as a
    ``VALUES`` block opening its ``WHERE`` group and a page of ``limit`` solutions from
    ``offset``; the probe selects the first solution after the page (is there a next page?).

    >>> c, p = page_construct("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", {"s": "<urn:x>"}, 5, 0)
    >>> print(c)
    CONSTRUCT { ?s ?p ?o } WHERE {
    VALUES (?s) { (<urn:x>) }
     ?s ?p ?o }
    LIMIT 5 OFFSET 0
    <BLANKLINE>
    """
    prologue, head, group, tail = graph_parts(text)
    values = ""
    if terms:
        values = f"\nVALUES ({' '.join(f'?{n}' for n in terms)}) {{ ({' '.join(terms.values())}) }}\n"
    construct = f"{prologue}{head}{{{values}{group}}}{tail}\nLIMIT {int(limit)} OFFSET {int(offset)}\n"
    probe = f"{prologue}SELECT * WHERE {{{values}{group}}}\nLIMIT 1 OFFSET {int(offset) + int(limit)}\n"
    return construct, probe


_CLAUSE_ENDS = frozenset({"WHERE", "FROM", "HAVING", "LIMIT", "OFFSET", "VALUES", "ORDER", "GROUP"})


@dataclass
class _Select:
    """A SELECT of a query: its token range, brace depth, and the bound variables it projects."""

    start: int
    end: int
    depth: int
    projects: set[str] = field(default_factory=set)
    at: list[int] = field(default_factory=list)  # token positions of bound variables in its projection
    items: int = 0  # what it projects: variables and (expression AS ?v)


def prebind(text: str, terms: Mapping[str, str]) -> str | None:
    """``text`` with each variable of ``terms`` written as its term (N-Triples, already
    re-serialised by the caller), or ``None`` when that cannot be written.

    The embedded engine plans a variable bound by ``substitutions`` as if it were free and
    joins the value in afterwards, so a bound territory still scans every territory; the same
    value written in the text is planned as a constant (communes-of-epci on the 100k benchmark
    store: 200 ms → 6 ms). Every use becomes the term (``(term)`` in ``GROUP BY``/``ORDER BY``);
    nothing binds the variable any more, so the outermost ``SELECT`` clauses that project it
    project ``(term AS ?name)`` and the ``SELECT`` clauses nested in them drop it (their rows
    no longer join on it: it is the same constant everywhere). ``None`` (the caller then uses
    ``substitutions``) when the query assigns the variable itself (``AS ?name``), lists it in
    ``VALUES``, projects ``*``, never projects it, or a nested ``SELECT`` would be left
    projecting nothing.

    >>> prebind('SELECT $t ?n WHERE { ?c <urn:in> $t } GROUP BY $t ORDER BY ?t', {"t": "<urn:a>"})
    'SELECT (<urn:a> AS ?t) ?n WHERE { ?c <urn:in> <urn:a> } GROUP BY (<urn:a>) ORDER BY (<urn:a>)'
    >>> print(prebind('SELECT ?t ?x WHERE { { ?x <urn:p> $t } UNION '
    ...               '{ SELECT $t (COUNT(*) AS ?x) { ?y <urn:q> $t } GROUP BY $t } }', {"t": "<urn:a>"}))
    SELECT (<urn:a> AS ?t) ?x WHERE { { ?x <urn:p> <urn:a> } UNION { SELECT  (COUNT(*) AS ?x) { ?y <urn:q> <urn:a> } GROUP BY (<urn:a>) } }
    >>> prebind('SELECT ?x $t { ?x <urn:p> "$t" FILTER(?x != $t) } # $t', {"t": '"v"@en'})
    'SELECT ?x ("v"@en AS ?t) { ?x <urn:p> "$t" FILTER(?x != "v"@en) } # $t'
    >>> [prebind(q, {"t": "<urn:a>"}) for q in ('SELECT * { ?s ?p $t }', 'SELECT ?l { BIND(<urn:b> AS $t) }',
    ...  'SELECT ?t { { SELECT $t { ?s ?p $t } } }', 'SELECT ?s { VALUES $t { <urn:a> } ?s ?p $t }',
    ...  'SELECT ?s { ?s ?p $t }')]
    [None, None, None, None, None]
    """
    toks = list(tokens(text))
    # Pass 1: every SELECT's token range, the bound variables its projection names, and how
    # many items it projects.
    selects: list[_Select] = []
    open_selects: list[_Select] = []
    depth, paren, previous = 0, 0, ""
    clause: _Select | None = None  # the SELECT whose projection is being read
    for i, (kind, tok, _s, _e) in enumerate(toks):
        if kind in ("space", "comment"):
            continue
        word = tok.upper() if kind == "word" else ""
        if word == "SELECT":
            clause = _Select(i, len(toks), depth)
            selects.append(clause)
            open_selects.append(clause)
            paren = 0
        elif clause is not None and (kind == "open" or word in ("WHERE", "FROM")):
            clause = None
        elif clause is not None:
            if tok == "(" and paren == 0:
                clause.items += 1
            paren += 1 if tok == "(" else -1 if tok == ")" else 0
            if tok == "*" and paren == 0:
                return None
            if kind in ("var", "param") and paren == 0:
                clause.items += 1
                if tok[1:] in terms:
                    clause.projects.add(tok[1:])
                    clause.at.append(i)
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            while open_selects and open_selects[-1].depth > depth:
                open_selects.pop().end = i
        previous = word or tok
    if selects and any(all(name not in sel.projects for sel in selects) for name in terms):
        return None  # a SELECT query that does not project it: substitutions refuse it, as they should
    written: dict[int, str] = {}  # projection positions: "(term AS ?name)" or "" (dropped)
    for sel in selects:
        for i in sel.at:
            name = toks[i][1][1:]
            nested = any(o is not sel and name in o.projects and o.start < sel.start < o.end for o in selects)
            written[i] = "" if nested else f"({terms[name]} AS ?{name})"
        if sel.at and sum(1 for i in sel.at if not written[i]) == sel.items:
            return None  # a nested SELECT that would project nothing
    # Pass 2: write.
    out: list[str] = []
    mode: str | None = None  # "by": GROUP BY / ORDER BY conditions
    paren, previous, values = 0, "", False
    for i, (kind, tok, _s, _e) in enumerate(toks):
        if kind in ("space", "comment"):
            out.append(tok)
            continue
        word = tok.upper() if kind == "word" else ""
        if word == "BY" and previous in ("GROUP", "ORDER"):
            mode, paren = "by", 0
        elif kind in ("open", "close") or word in _CLAUSE_ENDS or word == "SELECT":
            mode = None
        elif tok == "(":
            paren += 1
        elif tok == ")":
            paren -= 1
        if word == "VALUES":
            values = True
        elif kind == "open":
            values = False
        if kind in ("var", "param") and tok[1:] in terms:
            if previous == "AS" or values:
                return None
            term = terms[tok[1:]]
            tok = written[i] if i in written else f"({term})" if mode == "by" and paren == 0 else term
        out.append(tok)
        previous = word or tok
    return "".join(out)
