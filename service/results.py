"""Result tables from N-Triples bindings: SPARQL JSON, plain records, CSV, TSV, text tables.

The store answers a SELECT with rows mapping variable names to N-Triples terms
(:data:`service.store.Binding`); these pure functions turn such rows into the formats the
named-query API and the command line offer.

>>> rows = [{"s": "<http://kg.test/id/commune/59350>", "n": '"238246"^^<http://www.w3.org/2001/XMLSchema#integer>',
...          "l": '"Lille"@fr'}]
>>> to_records(["s", "l", "n"], rows)
[{'s': 'http://kg.test/id/commune/59350', 'l': 'Lille', 'n': 238246}]
>>> print(to_csv(["s", "l", "n"], rows), end="")
s,l,n
http://kg.test/id/commune/59350,Lille,238246
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Term", "parse_term", "to_sparql_json", "to_records", "to_csv", "to_tsv", "to_text_table",
           "rows_from_sparql_json"]

XSD = "http://www.w3.org/2001/XMLSchema#"
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9-]+)|\^\^<([^>]*)>)?', re.S)
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)
_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_NUMBERS = {XSD + "integer": int, XSD + "int": int, XSD + "long": int, XSD + "decimal": float,
            XSD + "double": float, XSD + "float": float}


@dataclass(frozen=True)
class Term:
    """One RDF term: ``kind`` is ``uri``, ``literal`` or ``bnode`` (SPARQL JSON names)."""

    kind: str
    value: str
    lang: str | None = None
    datatype: str | None = None


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        return chr(int(code, 16)) if code else _SIMPLE.get(match.group(3), match.group(3))

    return _ESCAPE.sub(one, text) if "\\" in text else text


def parse_term(nt: str) -> Term:
    """Read one N-Triples term.

    :raises ValueError: if ``nt`` is not a term.

    >>> parse_term('"say \\\\"hi\\\\""@en')
    Term(kind='literal', value='say "hi"', lang='en', datatype=None)
    >>> parse_term("_:b0").kind
    'bnode'
    """
    if nt.startswith("<") and nt.endswith(">"):
        return Term("uri", _unescape(nt[1:-1]))
    if nt.startswith("_:"):
        return Term("bnode", nt[2:])
    match = _LITERAL.fullmatch(nt)
    if not match:
        raise ValueError(f"not an N-Triples term: {nt[:60]!r}")
    return Term("literal", _unescape(match.group(1)), match.group(2), match.group(3))


def _terms(variables: Sequence[str], rows: Sequence[Mapping[str, str]]) -> list[dict[str, Term]]:
    return [{v: parse_term(row[v]) for v in variables if v in row} for row in rows]


def to_sparql_json(variables: Sequence[str], rows: Sequence[Mapping[str, str]],
                   **extra: Any) -> dict[str, Any]:
    """``application/sparql-results+json`` as a dict (``extra`` goes under ``head``)."""
    bindings = []
    for row in _terms(variables, rows):
        out: dict[str, Any] = {}
        for name, term in row.items():
            item: dict[str, str] = {"type": term.kind, "value": term.value}
            if term.lang:
                item["xml:lang"] = term.lang
            elif term.datatype:
                item["datatype"] = term.datatype
            out[name] = item
        bindings.append(out)
    return {"head": {"vars": list(variables), **extra}, "results": {"bindings": bindings}}


def plain(term: Term) -> Any:
    """A plain JSON value: IRIs and strings as text, numbers as numbers, booleans as booleans.

    >>> plain(Term("literal", "12.5", datatype=XSD + "decimal"))
    12.5
    """
    if term.kind == "bnode":
        return "_:" + term.value
    if term.datatype in _NUMBERS:
        try:
            return _NUMBERS[term.datatype](term.value)
        except ValueError:
            return term.value
    if term.datatype == XSD + "boolean":
        return term.value in ("true", "1")
    return term.value


def to_records(variables: Sequence[str], rows: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """``application/json``: one object per row, unbound variables as ``null``."""
    return [{v: plain(row[v]) if v in row else None for v in variables} for row in _terms(variables, rows)]


def to_csv(variables: Sequence[str], rows: Sequence[Mapping[str, str]]) -> str:
    """SPARQL 1.1 CSV: plain values (IRIs, lexical forms, ``_:`` blank nodes), CRLF-free."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(variables)
    for row in _terms(variables, rows):
        writer.writerow(["_:" + row[v].value if v in row and row[v].kind == "bnode" else
                         row[v].value if v in row else "" for v in variables])
    return out.getvalue()


def to_tsv(variables: Sequence[str], rows: Sequence[Mapping[str, str]]) -> str:
    """SPARQL 1.1 TSV: header ``?var``, terms in N-Triples syntax (tabs and newlines escaped).

    >>> print(to_tsv(["x"], [{"x": '"a"'}]), end="")
    ?x
    "a"
    """
    lines = ["\t".join(f"?{v}" for v in variables)]
    for row in rows:
        lines.append("\t".join(row.get(v, "").replace("\t", "\\t").replace("\n", "\\n") for v in variables))
    return "\n".join(lines) + "\n"


def to_text_table(variables: Sequence[str], rows: Sequence[Mapping[str, str]], *, width: int = 60,
                  prefixes: Mapping[str, str] | None = None) -> str:
    """An aligned text table for a terminal; IRIs shortened with ``prefixes``, cells cut at ``width``.

    >>> print(to_text_table(["a"], [{"a": "<http://kg.test/id/x>"}], prefixes={"id": "http://kg.test/id/"}))
    a
    ----
    id:x
    """
    def cell(term: Term | None) -> str:
        if term is None:
            return ""
        text = term.value if term.kind != "bnode" else "_:" + term.value
        if term.kind == "uri":
            for prefix, ns in (prefixes or {}).items():
                if text.startswith(ns) and len(text) > len(ns):
                    text = f"{prefix}:{text[len(ns):]}"
                    break
        text = " ".join(text.split())
        return text if len(text) <= width else text[:width - 1] + "…"

    table = [[cell(row.get(v)) for v in variables] for row in _terms(variables, rows)]
    widths = [max([len(v)] + [len(r[i]) for r in table]) for i, v in enumerate(variables)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(variables, widths)).rstrip(),
             "  ".join("-" * w for w in widths).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    return "\n".join(lines)


def rows_from_sparql_json(body: bytes | str) -> tuple[list[str], list[dict[str, str]]]:
    """``(variables, rows)`` with N-Triples terms, from a SPARQL JSON SELECT answer.

    >>> rows_from_sparql_json('{"head": {"vars": ["x"]}, "results": {"bindings": '
    ...                       '[{"x": {"type": "literal", "value": "a", "xml:lang": "en"}}]}}')
    (['x'], [{'x': '"a"@en'}])
    """
    data = json.loads(body)
    rows = []
    for binding in data["results"]["bindings"]:
        row = {}
        for name, item in binding.items():
            if item["type"] == "uri":
                row[name] = f"<{item['value']}>"
            elif item["type"] == "bnode":
                row[name] = f"_:{item['value']}"
            else:
                body_text = item["value"].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
                    .replace("\r", "\\r")
                suffix = f"@{item['xml:lang']}" if "xml:lang" in item else \
                    f"^^<{item['datatype']}>" if "datatype" in item else ""
                row[name] = f'"{body_text}"{suffix}'
        rows.append(row)
    return list(data["head"]["vars"]), rows
