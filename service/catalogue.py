"""The named-query catalogue: ``queries/*.rq`` files with a YAML header, loaded once at startup.

A named query is one SPARQL file whose leading ``#+`` comment lines hold YAML: ``summary``
and ``description`` (``en`` and ``fr``), ``tags``, ``params``, ``returns`` (``table`` or
``graph``) and an ``example`` (parameter values). Parameters are written ``$name`` in the
query, ordinary variables ``?name``; the file name is the query's name. Queries are written
against the default base and re-based when loaded. See ``queries/README.md``.

Parameter values become typed N-Triples terms (:func:`bind`) that the store binds as RDF
terms (pyoxigraph ``substitutions``) or that a generated ``VALUES`` block carries (graph
queries); user text never becomes query text.

>>> q = parse_query_file("demo.rq", '''#+ summary: {en: Demo, fr: Démo}
... #+ description: {en: A demo., fr: Une démo.}
... #+ tags: [demo]
... #+ params: [{name: place, type: iri, required: true, example: commune/59350}]
... #+ returns: table
... SELECT $place ?label WHERE { $place <http://www.w3.org/2000/01/rdf-schema#label> ?label }
... ''', "http://kg.test/")
>>> bind(q, {"place": "commune/59350"})
{'place': '<http://kg.test/id/commune/59350>'}
>>> bind(q, {"place": "javascript:alert(1)"})
Traceback (most recent call last):
...
service.errors.BadParameter: Parameter 'place' must be an absolute http(s) IRI or a short form like 'commune/59350' (got 'javascript:alert(1)').
"""

from __future__ import annotations

import logging
import re
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from service.errors import BadParameter, NotFound, PayloadTooLarge
from service.iris import DEFAULT_BASE
from service.params import MAX_VALUE_LENGTH, PARAM_TYPES, Param, nt_literal, resolve_iri, to_term
from service.sparqltext import (graph_parts, page_construct, parameter_names, rebase_query, top_level_words,
                                wrap_select)

if TYPE_CHECKING:
    from flask import Flask

    from service.store import GraphStore
    from service.store.executor import Engine

__all__ = ["CatalogueError", "Param", "NamedQuery", "Catalogue", "Page", "PARAM_TYPES", "RESERVED",
           "DEFAULT_LIMIT", "MAX_LIMIT", "MAX_VALUE_LENGTH", "parse_query_file", "load_catalogue", "bind",
           "resolve_iri", "nt_literal", "paging", "table_text", "graph_text", "run_table", "run_graph",
           "init_app", "get_catalogue"]

log = logging.getLogger(__name__)

RETURNS = ("table", "graph")
#: Query-string names the API and CLI use themselves; no parameter may take them.
RESERVED = frozenset({"format", "limit", "offset"})
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000

_HEADER_KEYS = {"summary", "description", "tags", "params", "returns", "example"}
_PARAM_KEYS = {"name", "type", "required", "default", "example", "enum", "description"}
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_PARAM_NAME = re.compile(r"[a-z][a-z0-9_]*")

_LOADED: dict[tuple[Any, ...], Catalogue] = {}


class CatalogueError(ValueError):
    """A query file is invalid; the message names the file. Startup stops."""


@dataclass(frozen=True)
class NamedQuery:
    """A validated named query.

    :param text: the SPARQL text under the configured base (header comments included).
    :param variables: the projection of a table query, in order.
    """

    name: str
    summary: Mapping[str, str]
    description: Mapping[str, str]
    tags: tuple[str, ...]
    params: tuple[Param, ...]
    returns: str
    example: Mapping[str, str]
    text: str
    base: str
    variables: tuple[str, ...] = ()

    @property
    def formats(self) -> tuple[str, ...]:
        """The ``format=`` names this query answers in."""
        if self.returns == "table":
            return ("json", "records", "csv", "tsv")
        return ("turtle", "jsonld", "ntriples", "csv", "tsv")

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, if declared."""
        return next((p for p in self.params if p.name == name), None)


@dataclass(frozen=True)
class Catalogue:
    """Every named query, by name (sorted)."""

    queries: Mapping[str, NamedQuery]

    def __iter__(self) -> Iterator[NamedQuery]:
        return iter(self.queries.values())

    def __len__(self) -> int:
        return len(self.queries)

    def get(self, name: str) -> NamedQuery:
        """The query called ``name``.

        :raises NotFound: naming the known queries' count.
        """
        try:
            return self.queries[name]
        except KeyError:
            raise NotFound(f"No named query {name!r} ({len(self.queries)} queries: see /api/queries).") from None


@dataclass(frozen=True)
class Page:
    """One page of answers: solutions (tables) or a serialised graph."""

    limit: int
    offset: int
    has_more: bool
    variables: tuple[str, ...] = ()
    rows: list[dict[str, str]] = field(default_factory=list)
    body: bytes = b""
    media_type: str = ""


def bind(query: NamedQuery, raw_params: Mapping[str, str]) -> dict[str, str]:
    """Typed N-Triples terms for the parameters of ``query``, defaults applied.

    Names in :data:`RESERVED` are ignored (they belong to the caller); an empty value is
    the same as no value.

    :raises BadParameter: ``unknown-parameters`` (listing the allowed ones),
        ``missing-parameters`` (listing them) or ``invalid-parameter`` (naming the
        parameter and what it accepts, enum values included).
    :raises PayloadTooLarge: for a value longer than :data:`MAX_VALUE_LENGTH`.
    """
    declared = [p.name for p in query.params]
    unknown = sorted(set(raw_params) - set(declared) - RESERVED)
    if unknown:
        allowed = ", ".join(declared) or "none"
        raise BadParameter(f"Unknown parameter(s) for {query.name!r}: {', '.join(unknown)}. Allowed: {allowed} "
                           f"(and {', '.join(sorted(RESERVED))}).", code="unknown-parameters",
                           details={"unknown": unknown, "allowed": declared + sorted(RESERVED)})
    terms: dict[str, str] = {}
    missing: list[str] = []
    for param in query.params:
        raw = raw_params.get(param.name) or param.default
        if raw is None or raw == "":
            if param.required:
                missing.append(param.name)
            continue
        value, term = to_term(param, raw, query.base)
        if param.enum and value not in {to_term(param, e, query.base)[0] for e in param.enum}:
            raise BadParameter(f"Parameter {param.name!r} must be one of: {', '.join(param.enum)} "
                               f"(got {raw[:80]!r}).",
                               details={"parameter": param.name, "allowed": list(param.enum)})
        terms[param.name] = term
    if missing:
        raise BadParameter(f"Missing required parameter(s) for {query.name!r}: {', '.join(missing)}.",
                           code="missing-parameters", details={"missing": missing})
    return terms


def paging(limit: str | int | None, offset: str | int | None, *, default: int = DEFAULT_LIMIT) -> tuple[int, int]:
    """``(limit, offset)`` from request values: limit defaults to ``default`` and is clamped to
    :data:`MAX_LIMIT`.

    :raises BadParameter: for values that are not whole numbers in range.

    >>> paging(None, None)
    (100, 0)
    >>> paging("999999999", "20")
    (10000, 20)
    """
    def whole(name: str, value: str | int | None, fallback: int, low: int, high: int) -> int:
        if value is None or value == "":
            return fallback
        text = str(value).strip()
        if not text.isdigit() or len(text) > 12 or not low <= int(text) <= high:
            raise BadParameter(f"{name!r} must be a whole number from {low} (got {str(value)[:40]!r}); "
                               f"limit is at most {MAX_LIMIT:,}.", details={"parameter": name})
        return int(text)

    return (min(whole("limit", limit, default, 1, 10**12), MAX_LIMIT),
            whole("offset", offset, 0, 0, MAX_OFFSET))


# ---------------------------------------------------------------- query text


def table_text(query: NamedQuery, limit: int, offset: int) -> str:
    """The table query as a paged sub-select (see :func:`service.sparqltext.wrap_select`)."""
    return wrap_select(query.text, query.variables, limit, offset)


def graph_text(query: NamedQuery, terms: Mapping[str, str], limit: int, offset: int) -> tuple[str, str]:
    """``(construct, probe)`` of a graph query (see :func:`service.sparqltext.page_construct`);
    ``terms`` must come from :func:`bind`."""
    return page_construct(query.text, terms, limit, offset)


_TSV, _NTRIPLES = "text/tab-separated-values", "application/n-triples"


def run_table(store: GraphStore, query: NamedQuery, terms: Mapping[str, str], *, limit: int,
              offset: int, engine: Engine | None = None, max_rows: int = MAX_LIMIT + 1) -> Page:
    """One page of a table query's solutions (N-Triples terms), asking for one row more to
    know whether a next page exists.

    :param engine: run through it (the ``/sparql`` engine: killable workers, hard timeout,
        answer caps) rather than on ``store`` directly; ``max_rows`` is then its row cap.
    """
    if engine is None:
        rows = store.select(table_text(query, limit + 1, offset), bindings=dict(terms) or None)
        return Page(limit, offset, len(rows) > limit, query.variables, rows[:limit])
    from service.store.executor import solutions_of

    fetch = min(limit + 1, max_rows)  # a full page at the cap: the next page is probed instead

    def solutions(size: int, start: int) -> list[dict[str, str]]:
        out = engine.execute(table_text(query, size, start), _TSV, _NTRIPLES, bindings=dict(terms) or None,
                             trusted=True)
        return solutions_of(out)

    rows = solutions(fetch, offset)
    has_more = len(rows) > limit or (fetch == limit and len(rows) == limit and bool(solutions(1, offset + limit)))
    return Page(limit, offset, has_more, query.variables, rows[:limit])


def run_graph(store: GraphStore, query: NamedQuery, terms: Mapping[str, str], *, limit: int, offset: int,
              media_type: str, engine: Engine | None = None) -> Page:
    """One page of a graph query, serialised as ``media_type`` (``text/turtle``…); through
    ``engine`` if given (see :func:`run_table`)."""
    if engine is None:
        construct, probe = graph_text(query, terms, limit, offset)
        out = store.execute(construct, result_format="application/sparql-results+json", graph_format=media_type)
        has_more = bool(store.select(probe))
    else:
        from service.store.executor import solutions_of
        from service.store.remote import RemoteStore

        # The embedded engine binds the parameters (written into the text where it can be,
        # service.sparqltext.prebind): a VALUES block opening the WHERE clause does not reach
        # into OPTIONALs in its plan (provenance-graph: 377 ms -> 2 ms on the 100k benchmark
        # store). The remote engine keeps the VALUES block opening the WHERE clause: bound
        # through the executor instead (with_values), these graph queries answer 400 there
        # (tests/web/test_api.py, remote), and written as constants Virtuoso's cost estimator
        # refuses some named queries.
        bindings = None if isinstance(store, RemoteStore) or not terms else dict(terms)
        construct, probe = graph_text(query, {} if bindings else terms, limit, offset)
        out = engine.execute(construct, _TSV, media_type, bindings=bindings, trusted=True)
        has_more = bool(solutions_of(engine.execute(probe, _TSV, _NTRIPLES, bindings=bindings, trusted=True)))
    return Page(limit, offset, has_more, body=out.body, media_type=out.media_type)


# ---------------------------------------------------------------- loading


def _bilingual(path: str, key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value[k].strip()
                                              for k in ("en", "fr")):
        raise CatalogueError(f"{path}: {key!r} needs non-empty 'en' and 'fr' texts")
    return {"en": value["en"].strip(), "fr": value["fr"].strip()}


def _param(path: str, entry: Any) -> Param:
    if not isinstance(entry, dict) or not set(entry) <= _PARAM_KEYS or "name" not in entry:
        raise CatalogueError(f"{path}: each param is a mapping with 'name' and only {sorted(_PARAM_KEYS)}: {entry!r}")
    name, kind = str(entry["name"]), entry.get("type")
    if not _PARAM_NAME.fullmatch(name) or name in RESERVED:
        raise CatalogueError(f"{path}: bad parameter name {name!r} (lower-case, not {sorted(RESERVED)})")
    if kind not in PARAM_TYPES:
        raise CatalogueError(f"{path}: parameter {name!r} has type {kind!r}; known: {', '.join(PARAM_TYPES)}")
    if not isinstance(entry.get("required", False), bool):
        raise CatalogueError(f"{path}: parameter {name!r}: 'required' must be true or false")
    enum = entry.get("enum") or []
    if not isinstance(enum, list):
        raise CatalogueError(f"{path}: parameter {name!r}: 'enum' must be a list")
    text = {k: None if entry.get(k) is None else str(entry[k]) for k in ("default", "example")}
    description = entry.get("description") or {}
    if isinstance(description, str):
        description = {"en": description}
    return Param(name, kind, entry.get("required", False), text["default"], text["example"],
                 tuple(str(e) for e in enum), description)


def parse_header(text: str) -> tuple[dict[str, Any], str]:
    """Split a query file into its YAML header (leading ``#+`` lines) and its SPARQL.

    :raises ValueError: on YAML errors or a header that is not a mapping.

    >>> parse_header("#+ returns: table\\nSELECT * {}")
    ({'returns': 'table'}, 'SELECT * {}')
    """
    lines = text.splitlines(keepends=True)
    header = []
    while lines and lines[0].startswith("#+"):
        header.append(lines.pop(0)[2:])
    data = yaml.safe_load(textwrap.dedent("".join(header))) if header else None
    if not isinstance(data, dict):
        raise ValueError("the file must start with '#+' lines holding a YAML mapping")
    return data, "".join(lines)


def parse_query_file(path: str, text: str, base: str) -> NamedQuery:
    """Parse and check one query file (header, parameters, SPARQL with rdflib).

    :raises CatalogueError: naming ``path`` and the problem.
    """
    name = Path(path).stem
    if not _NAME.fullmatch(name):
        raise CatalogueError(f"{path}: the file name must be lower-case words joined by '-'")
    try:
        header, _sparql = parse_header(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: bad header: {exc}") from None
    if set(header) - _HEADER_KEYS or not {"summary", "description", "tags", "returns"} <= set(header):
        raise CatalogueError(f"{path}: header keys must be summary, description, tags, returns, and optionally "
                             f"params, example (got {sorted(header)})")
    if header["returns"] not in RETURNS:
        raise CatalogueError(f"{path}: 'returns' must be table or graph")
    tags = header["tags"]
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t for t in tags):
        raise CatalogueError(f"{path}: 'tags' must be a non-empty list of words")
    params = tuple(_param(path, p) for p in (header.get("params") or []))
    if len({p.name for p in params}) != len(params):
        raise CatalogueError(f"{path}: a parameter is declared twice")
    example = {p.name: p.example for p in params if p.example is not None}
    if not isinstance(header.get("example") or {}, dict):
        raise CatalogueError(f"{path}: 'example' must map parameter names to values")
    example.update({str(k): str(v) for k, v in (header.get("example") or {}).items()})
    query = NamedQuery(name, _bilingual(path, "summary", header["summary"]),
                       _bilingual(path, "description", header["description"]), tuple(tags), params,
                       header["returns"], example, rebase_query(text, base), base)
    return replace(query, variables=_check_sparql(path, query))


def _check_sparql(path: str, query: NamedQuery) -> tuple[str, ...]:
    """Parameters used as declared, every value binds, and the SPARQL parses (rdflib).

    :returns: the projection of a table query (empty for a graph query).
    """
    from rdflib.plugins.sparql import prepareQuery

    used, declared = parameter_names(query.text), {p.name for p in query.params}
    if used - declared:
        raise CatalogueError(f"{path}: undeclared parameter(s) {sorted(used - declared)} used as $name")
    if declared - used:
        raise CatalogueError(f"{path}: declared parameter(s) {sorted(declared - used)} are not used as $name")
    words = top_level_words(query.text)
    if words & {"SERVICE", "LOAD", "FROM"}:
        raise CatalogueError(f"{path}: SERVICE, LOAD and FROM are not allowed in named queries")
    for param in query.params:
        if param.required and param.default is not None:
            raise CatalogueError(f"{path}: parameter {param.name!r} is required and has a default")
        if param.required and param.name not in query.example:
            raise CatalogueError(f"{path}: required parameter {param.name!r} has no example")
        for value in (*param.enum, param.default):
            if value is not None:
                _try_bind(path, query, {param.name: value}, check_enum=False)
    _try_bind(path, query, query.example)
    try:
        # rdflib's parser raises several unrelated exception types (pyparsing, KeyError for an
        # unknown prefix, …): all of them mean the file is not valid SPARQL.
        parsed = prepareQuery(query.text)
    except Exception as exc:  # noqa: BLE001
        raise CatalogueError(f"{path}: SPARQL does not parse: {exc}") from None
    kind = {"SelectQuery": "table", "ConstructQuery": "graph"}.get(parsed.algebra.name)
    if kind != query.returns:
        raise CatalogueError(f"{path}: 'returns: {query.returns}' needs a "
                             f"{'SELECT' if query.returns == 'table' else 'CONSTRUCT'} query")
    if kind == "table":
        if re.search(r"(?i)\bSELECT\s+(DISTINCT\s+|REDUCED\s+)?\*", query.text):
            raise CatalogueError(f"{path}: list the projected variables (no SELECT *)")
        variables = tuple(str(v) for v in parsed.algebra["PV"])
        if declared - set(variables):
            raise CatalogueError(f"{path}: parameter(s) {sorted(declared - set(variables))} must be projected "
                                 f"(SELECT … ${'… $'.join(sorted(declared - set(variables)))})")
        return variables
    try:
        graph_parts(query.text)
    except ValueError as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    return ()


def _try_bind(path: str, query: NamedQuery, values: Mapping[str, str], *, check_enum: bool = True) -> None:
    try:
        if check_enum:
            bind(query, values)
        else:
            for name, value in values.items():
                param = query.param(name)
                if param is not None:
                    to_term(param, value, query.base)
    except (BadParameter, PayloadTooLarge) as exc:
        raise CatalogueError(f"{path}: bad example, default or enum value: {exc.message}") from None


def _check_engine(path: str, query: NamedQuery) -> None:
    """Run the query's paged forms with its example on an empty embedded store: the engine
    parses them and accepts the bindings."""
    from service.errors import KGError
    from service.store.oxigraph import OxigraphStore

    store = OxigraphStore.in_memory()
    try:
        terms = bind(query, query.example)
        if query.returns == "table":
            run_table(store, query, terms, limit=1, offset=0)
        else:
            run_graph(store, query, terms, limit=1, offset=0, media_type="text/turtle")
    except (KGError, RuntimeError) as exc:
        raise CatalogueError(f"{path}: the engine rejects the query: {exc}") from None


def load_catalogue(directory: str | Path, base: str = DEFAULT_BASE) -> Catalogue:
    """Load and validate every ``*.rq`` file of ``directory`` under ``base``.

    :raises CatalogueError: for the first bad file (named), or an empty/missing directory.
    """
    folder = Path(directory)
    paths = sorted(folder.glob("*.rq"))
    if not paths:
        raise CatalogueError(f"no named queries (*.rq) in {folder}")
    # Parsing is slow (rdflib); apps created again in one process (tests, workers) reuse a
    # catalogue whose files have not changed since.
    key = (str(folder.resolve()), base, tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths))
    if key in _LOADED:
        return _LOADED[key]
    queries: dict[str, NamedQuery] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogueError(f"{path.name}: cannot read: {exc}") from None
        query = parse_query_file(path.name, text, base)
        _check_engine(path.name, query)
        queries[query.name] = query
    log.info("named queries: %d loaded from %s", len(queries), folder)
    _LOADED[key] = Catalogue(queries)
    return _LOADED[key]


def init_app(app: Flask) -> None:
    """Load the catalogue once into ``app.extensions["kg_catalogue"]``.

    :raises CatalogueError: if a query file is invalid (startup fails).
    """
    app.extensions["kg_catalogue"] = load_catalogue(app.config["QUERIES_DIR"], str(app.config["BASE_URI"]))


def get_catalogue() -> Catalogue:
    """The current app's catalogue."""
    from flask import current_app

    return current_app.extensions["kg_catalogue"]  # type: ignore[no-any-return]
