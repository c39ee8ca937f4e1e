"""Pre-flight of every SPARQL query before it reaches an engine.

Two stages, both pure functions of the query text and a :class:`Policy`:

:func:`screen` (cheap, linear, never recursive; runs in the web process)
    the size cap (413), a lexer-aware nesting-depth check (brackets, parentheses,
    braces and ``<< >>`` outside strings and comments; more than :data:`MAX_DEPTH` → 400
    "nesting too deep", also for runs of unary operators such as ``!!!!…``), an update
    sent as a query (400, "use /update"), ``LIMIT``/``OFFSET`` beyond 64 bits (400), the
    query form (so content negotiation can answer 406 before anything runs), and, when
    no endpoint is allow-listed, any ``SERVICE`` keyword (422).

:func:`preflight` (``screen`` plus a real parse; runs where the query will run)
    parses with rdflib's SPARQL parser (``parseQuery``/``translateQuery``, cached on the
    text) and refuses on the parsed algebra: every ``SERVICE`` (``SILENT``, lowercase,
    ``\\u``-escaped, variable endpoints) unless its IRI is allow-listed, and every
    ``FROM``/``FROM NAMED`` that names neither a graph of the store nor an allow-listed IRI.
    The parse runs only when the lexer saw a ``SERVICE`` or ``FROM`` keyword or the text has a
    ``\\u`` escape: otherwise it has nothing to refuse, and it cost 30-40 ms on each new text
    of the named queries (bench/RESULTS.md, target 3).

rdflib's parser is slow on some shapes (a 12 kB chain of ``||`` takes seconds) and cannot
be interrupted, so with the worker pool :func:`preflight` runs inside the killable query
worker, under the query's timeout, while the web process only calls :func:`screen`.

A query rdflib rejects (a syntax error, an extension it lacks, nesting deeper than its
recursion limit) is not refused for syntax: the engine judges it and reports its own
error with line and column. The lexer-level checks still apply to it and fail closed:
any ``SERVICE`` not followed by an allow-listed ``<IRI>`` and any ``FROM`` whose target
is not a local or allow-listed ``<IRI>`` is refused, since nothing else can vouch for it.

The depth check follows the SPARQL 1.1 terminals (strings, ``<IRI>``\\ s, comments); it
protects parsers that recurse per level (rdflib; the pyoxigraph 0.5 parser aborts the
process at a few thousand levels). It is a screen, not a proof: the hard guarantee that a
parser crash never takes the web process down is the worker pool (a crash costs one
worker and a 503).

>>> screen("SELECT * { ?s ?p ?o }", max_bytes=1000).form
'SELECT'
>>> screen("SELECT * " + "{" * 200 + "}" * 200, max_bytes=10_000)
Traceback (most recent call last):
...
service.errors.BadQuery: Query nesting too deep: more than 128 levels at line 1, column 138.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from service.errors import BadQuery, PayloadTooLarge, QueryRefused

__all__ = ["MAX_DEPTH", "Policy", "Screen", "Analysis", "screen", "analyse", "preflight", "declares_dataset"]

log = logging.getLogger(__name__)

#: Deepest bracket nesting (and longest unary-operator run) a query may have.
MAX_DEPTH = 128
_MAX_INT = 2**63 - 1

_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
_UPDATES = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
_ARG_TAKERS = frozenset({"FROM", "NAMED", "SERVICE", "SILENT", "LIMIT", "OFFSET"})
_KEYWORDS = _FORMS | _UPDATES | _ARG_TAKERS | {"PREFIX", "BASE"}

_WS = re.compile(r"\s+")
_IRI = re.compile(r'<[^<>"{}|^`\x00-\x20]*>')
_WORD = re.compile(r"[^\W\d][\w\-.]*")  # a prefix (dots and hyphens allowed) if ':' follows
_BARE = re.compile(r"[^\W\d]\w*")  # otherwise a keyword, 'a', true/false or a function name
_PN_TAIL = re.compile(r"(?:[\w\-.:]|%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])*")
_VAR = re.compile(r"[?$]\w+")
_NUM = re.compile(r"\d+")
_LANG = re.compile(r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_SHORT = {q: re.compile(rf"[^{q}\\\n\r]*(?:\\.[^{q}\\\n\r]*)*{q}") for q in "\"'"}
_LONG_END = {q: re.compile(rf"\\.|{q}{q}{q}", re.S) for q in "\"'"}
_OPEN, _CLOSE = frozenset("({["), frozenset(")}]")
_UNARY = frozenset("!^+-")


@dataclass(frozen=True)
class Policy:
    """What a query may name.

    :param max_bytes: the largest query text, in UTF-8 bytes.
    :param allowlist: IRIs that ``SERVICE``, ``FROM`` and ``FROM NAMED`` may name anyway.
    :param local_graphs: the store's named graphs (``FROM`` may name these).
    """

    max_bytes: int
    allowlist: frozenset[str] = frozenset()
    local_graphs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Screen:
    """What the lexer learned.

    :param form: ``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE`` or ``None`` if unseen.
    :param service_args: the token after each ``SERVICE [SILENT]`` (``<iri>``, a prefixed name, a variable).
    :param from_args: the token after each ``FROM [NAMED]``.
    """

    form: str | None
    service_args: tuple[str, ...] = ()
    from_args: tuple[str, ...] = ()

    @property
    def kind(self) -> str | None:
        """``"results"`` (SELECT, ASK), ``"graph"`` (CONSTRUCT, DESCRIBE) or ``None``."""
        if self.form is None:
            return None
        return "graph" if self.form in ("CONSTRUCT", "DESCRIBE") else "results"


@dataclass(frozen=True)
class Analysis:
    """What rdflib's parser learned (or why it could not).

    :param services: ``(endpoint IRI or None for a variable, silent)`` per ``SERVICE``.
    """

    form: str | None = None
    services: tuple[tuple[str | None, bool], ...] = ()
    from_default: tuple[str, ...] = ()
    from_named: tuple[str, ...] = ()
    slices: tuple[int, ...] = ()
    error: str | None = None


@dataclass
class _Lexed:
    keywords: list[tuple[str, int]] = field(default_factory=list)
    args: dict[str, list[str]] = field(default_factory=dict)


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def _too_deep(text: str, offset: int) -> BadQuery:
    return BadQuery(f"Query nesting too deep: more than {MAX_DEPTH} levels at {_where(text, offset)}.")


def _string_end(text: str, pos: int) -> int:
    """End offset of the string literal starting at ``pos`` (to the line's or text's end if unterminated)."""
    quote = text[pos]
    if text.startswith(quote * 3, pos):
        i = pos + 3
        while (m := _LONG_END[quote].search(text, i)) is not None:
            if m.group() == quote * 3:
                return m.end()
            i = m.end()
        return len(text)
    m = _SHORT[quote].match(text, pos + 1)
    if m is not None:
        return m.end()
    eol = text.find("\n", pos)
    return len(text) if eol < 0 else eol


def _lex(text: str) -> _Lexed:
    """One linear pass over ``text``: depth check, keywords and their arguments.

    :raises BadQuery: nesting or a unary-operator run deeper than :data:`MAX_DEPTH`.
    """
    out = _Lexed()
    n, pos, depth, run = len(text), 0, 0, 0
    pending: str | None = None
    while pos < n:
        c = text[pos]
        start, token = pos, None
        if c.isspace():
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            continue
        if c == "#":
            eol = text.find("\n", pos)
            pos = n if eol < 0 else eol
            continue
        if c in "\"'":
            pos = _string_end(text, pos)
            token = "string"
        elif c == "<" and (m := _IRI.match(text, pos)) is not None:
            pos, token = m.end(), m.group()
            # A '<' the engine reads as "less than" would expose these brackets: count
            # any net opening ones (balanced IRIs such as <…/Paris_(France)> cost nothing).
            inner = sum(token.count(b) for b in "([") - sum(token.count(b) for b in ")]")
            if inner > 0:
                depth += inner
                if depth > MAX_DEPTH:
                    raise _too_deep(text, start)
        elif c in _OPEN or text.startswith("<<", pos) and not _IRI.match(text, pos + 1):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(text, start)
            pos += 2 if c == "<" else 1
            token = c
        elif c in _CLOSE or text.startswith(">>", pos):
            depth = max(0, depth - 1)
            pos += 2 if c == ">" else 1
            token = c
        elif c in _UNARY and not text.startswith("!=", pos):
            run += 1
            if run > MAX_DEPTH:
                raise _too_deep(text, start)
            pos += 1
            continue
        elif c in "?$" and (m := _VAR.match(text, pos)) is not None:
            pos, token = m.end(), m.group()
        elif c == "@" and (m := _LANG.match(text, pos)) is not None:
            pos, token = m.end(), m.group()
        elif c.isdecimal():  # not isdigit(): "¹" is a digit that \d does not match
            pos = _NUM.match(text, pos).end()  # type: ignore[union-attr]
            token = text[start:pos]
        elif (m := _WORD.match(text, pos)) is not None or c == ":":
            end = m.end() if m is not None else pos
            while end > pos and text[end - 1] == ".":
                end -= 1
            if end < n and text[end] == ":":
                tail = _PN_TAIL.match(text, end + 1).end()  # type: ignore[union-attr]
                while tail > end + 1 and text[tail - 1] == ".":
                    tail -= 1
                pos, token = tail, text[start:tail]
            else:
                pos = _BARE.match(text, start).end() if m is not None else start + 1  # type: ignore[union-attr]
                token = text[start:pos]
                word = token.upper()
                if word in _KEYWORDS:
                    out.keywords.append((word, start))
                    if pending and word in ("NAMED", "SILENT"):
                        run = 0
                        continue
                    pending = word if word in _ARG_TAKERS else None
                    run = 0
                    continue
        else:
            pos += 1
            token = c
        run = 0
        if pending is not None:
            out.args.setdefault(pending, []).append(token)
            pending = None
    if pending is not None:
        out.args.setdefault(pending, []).append("")
    return out


def _check_size(text: str, max_bytes: int, what: str = "query") -> None:
    """The size cap in UTF-8 bytes (413) and valid Unicode (400), for a ``what`` (query, update)."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadQuery(f"The {what} text is not valid Unicode (lone surrogate).") from None
    if size > max_bytes:
        raise PayloadTooLarge(f"The {what} is {size:,} bytes; the limit is {max_bytes:,} bytes.")


def screen(text: str, max_bytes: int, allowlist: Iterable[str] = ()) -> Screen:
    """The cheap checks: size, depth, update-as-query, LIMIT/OFFSET range, form, SERVICE.

    :param text: the query text.
    :param max_bytes: the size cap in UTF-8 bytes.
    :param allowlist: allow-listed IRIs; when empty any ``SERVICE`` is refused here already.
    :raises PayloadTooLarge: text over ``max_bytes`` (413).
    :raises BadQuery: empty text, nesting too deep, an update, an out-of-range LIMIT/OFFSET (400).
    :raises QueryRefused: ``SERVICE`` with nothing allow-listed (422).

    >>> screen("PREFIX service: <urn:x#> SELECT ?service { ?service a service:Service }", 1000).service_args
    ()
    >>> screen("ASK { SERVICE <http://127.0.0.1:9/> {} }", 1000)
    Traceback (most recent call last):
    ...
    service.errors.QueryRefused: SERVICE is disabled on this endpoint (line 1, column 7): queries may not call other endpoints.
    >>> screen("INSERT DATA { <a> <b> <c> }", 1000)
    Traceback (most recent call last):
    ...
    service.errors.BadQuery: This is a SPARQL update (INSERT), not a query: send it to /update with POST (this server is read-only).
    """
    _check_size(text, max_bytes)
    if not text.strip():
        raise BadQuery("The query is empty.")
    lexed = _lex(text)
    if "\\u" in text or "\\U" in text:
        # rdflib (and SPARQL 1.1) read \u escapes anywhere: look at the decoded text too.
        lexed.keywords += _lex(_expand_escapes(text)).keywords
    form = None
    for word, offset in lexed.keywords:
        if word in _UPDATES:
            raise BadQuery(f"This is a SPARQL update ({word}), not a query: send it to /update with POST "
                           "(this server is read-only).")
        if word in _FORMS:
            form = word
            break
    for word in ("LIMIT", "OFFSET"):
        for arg in lexed.args.get(word, ()):
            if arg.isdecimal() and int(arg) > _MAX_INT:
                raise BadQuery(f"{word} {arg[:30]} is out of range (at most {_MAX_INT}).")
    services = [offset for word, offset in lexed.keywords if word == "SERVICE"]
    if services and not set(allowlist):
        raise QueryRefused(f"SERVICE is disabled on this endpoint ({_where(text, services[0])}): "
                           "queries may not call other endpoints.")
    return Screen(form, tuple(lexed.args.get("SERVICE", []) + lexed.args.get("SILENT", [])),
                  tuple(lexed.args.get("FROM", []) + lexed.args.get("NAMED", [])))


def _expand_escapes(text: str) -> str:
    from rdflib.plugins.sparql.parser import expandUnicodeEscapes

    try:
        return str(expandUnicodeEscapes(text))
    except ValueError:
        return text


def _walk(root: object) -> Iterable[dict[str, object]]:
    """Every dict-like node under ``root``, iteratively (the algebra can be deep)."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, set)):
            stack.extend(node)


@functools.lru_cache(maxsize=256)
def analyse(text: str) -> Analysis:
    """Parse ``text`` with rdflib and summarise what the guard needs (cached on the text).

    >>> a = analyse("SELECT * FROM <urn:g> { SERVICE SILENT ?u { ?s ?p ?o } } LIMIT 5")
    >>> a.form, a.services, a.from_default, a.slices
    ('SELECT', ((None, True),), ('urn:g',), (0, 5))
    >>> analyse("SELEC * {}").error
    'line 1, column 1: Expected {SelectQuery | ConstructQuery | DescribeQuery | AskQuery}'
    """
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery
    from rdflib.term import URIRef

    try:
        query = translateQuery(parseQuery(text))
    except ParseBaseException as exc:
        return Analysis(error=f"line {exc.lineno}, column {exc.col}: {exc.msg}")
    except RecursionError:
        return Analysis(error="nested too deeply for the pre-flight parser")
    except Exception as exc:  # noqa: BLE001 - rdflib raises bare Exception (e.g. unknown prefix)
        return Analysis(error=str(exc)[:200] or type(exc).__name__)
    algebra = query.algebra
    form = str(getattr(algebra, "name", "")).removesuffix("Query").upper() or None
    services, slices = [], []
    # dict.get, not CompValue.get: the latter answers the key itself for a missing key.
    for node in _walk(algebra):
        name = getattr(node, "name", None)
        if name == "ServiceGraphPattern":
            term = dict.get(node, "term")
            services.append((str(term) if isinstance(term, URIRef) else None, bool(dict.get(node, "silent"))))
        elif name == "Slice":
            slices += [int(v) for k in ("start", "length") if isinstance(v := dict.get(node, k), int)]
    default, named = [], []
    for clause in dict.get(algebra, "datasetClause") or ():
        if dict.get(clause, "default") is not None:
            default.append(str(dict.get(clause, "default")))
        if dict.get(clause, "named") is not None:
            named.append(str(dict.get(clause, "named")))
    return Analysis(form, tuple(services), tuple(default), tuple(named), tuple(slices))


def declares_dataset(text: str) -> bool:
    """Whether the query has a ``FROM`` or ``FROM NAMED`` clause (a keyword outside strings,
    comments and IRIs; cheap, so it runs on every query, trusted ones included).

    >>> declares_dataset("SELECT * FROM <urn:g> { ?s ?p ?o }"), declares_dataset("ask from named <urn:g> {}")
    (True, True)
    >>> declares_dataset("SELECT ?from # FROM <urn:g>\\n{ ?s ?p 'FROM <urn:g>' }")
    False
    """
    if "from" not in text.lower():
        return False
    return any(word == "FROM" for word, _ in _lex(text).keywords)


def _arg_iri(token: str) -> str | None:
    return token[1:-1] if token.startswith("<") and token.endswith(">") else None


def preflight(text: str, policy: Policy) -> Screen:
    """All checks, the parsed ones included; call it right before handing ``text`` to an engine.

    :returns: the :class:`Screen`, with ``form`` taken from the parse when there is one.
    :raises PayloadTooLarge, BadQuery: as :func:`screen`.
    :raises QueryRefused: ``SERVICE`` to a non-allow-listed or variable endpoint, ``FROM``/``FROM
        NAMED`` naming neither a local graph nor an allow-listed IRI (422).

    >>> policy = Policy(10_000, local_graphs=frozenset({"urn:g"}))
    >>> preflight("ASK FROM <urn:g> {}", policy).form
    'ASK'
    >>> preflight("ASK FROM <file:///etc/passwd> {}", policy)
    Traceback (most recent call last):
    ...
    service.errors.QueryRefused: FROM <file:///etc/passwd> names no graph of this store: FROM and FROM NAMED may only name the store's named graphs.
    """
    result = screen(text, policy.max_bytes, policy.allowlist)
    if not result.service_args and not result.from_args and "\\u" not in text and "\\U" not in text:
        # No SERVICE and no FROM keyword, and no escape that could hide one: the parse would
        # have nothing to refuse, and it costs tens of milliseconds on long texts.
        return result
    analysis = analyse(text)
    allowed = policy.local_graphs | policy.allowlist
    if analysis.error is None:
        for iri, _silent in analysis.services:
            if iri is None:
                raise QueryRefused("SERVICE with a variable endpoint is refused: name an allow-listed endpoint.")
            if iri not in policy.allowlist:
                raise QueryRefused(f"SERVICE <{iri}> is disabled on this endpoint: it is not in SERVICE_ALLOWLIST.")
        for iri in analysis.from_default + analysis.from_named:
            if iri not in allowed:
                raise QueryRefused(f"FROM <{iri}> names no graph of this store: FROM and FROM NAMED may only "
                                   "name the store's named graphs.")
        return Screen(analysis.form or result.form, result.service_args, result.from_args)
    log.debug("rdflib could not analyse the query (%s); the engine will judge it", analysis.error)
    for token in result.service_args:
        if _arg_iri(token) not in policy.allowlist:
            raise QueryRefused(f"SERVICE {token[:100]} is refused: the query could not be fully analysed "
                               f"({analysis.error}), so only an allow-listed <IRI> is accepted.")
    for token in result.from_args:
        if _arg_iri(token) not in allowed:
            raise QueryRefused(f"FROM {token[:100]} is refused: the query could not be fully analysed "
                               f"({analysis.error}), so FROM must name a local graph as a full <IRI>.")
    return result
