"""Named-query parameters: their declaration and their values as typed RDF terms.

A value becomes one N-Triples term (``<iri>``, ``"text"``, ``"42"^^<…#integer>``) after a
strict check of its type; nothing else of it ever reaches a query. IRIs are allow-listed:
absolute ``http(s)`` IRIs without ``<>"{}|^`\\`` or spaces, short forms ``kind/key`` under
``{BASE}id/``, and CURIEs of the project's prefixes.

>>> to_term(Param("place", "iri"), "commune/59350", "http://kg.test/")
('http://kg.test/id/commune/59350', '<http://kg.test/id/commune/59350>')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from service.errors import BadParameter, PayloadTooLarge
from service.iris import Namespaces

__all__ = ["Param", "PARAM_TYPES", "MAX_VALUE_LENGTH", "XSD", "nt_literal", "resolve_iri", "to_term"]

XSD = "http://www.w3.org/2001/XMLSchema#"
PARAM_TYPES = ("iri", "string", "integer", "decimal", "year", "language")
#: Longest accepted parameter value, in characters (longer: 413).
MAX_VALUE_LENGTH = 2_000

# No controls (C0, DEL, C1: RFC 3987 excludes them, and pyoxigraph refuses such IRIs).
_ABSOLUTE = re.compile(r"https?://[^\s<>\"{}|\\^`\x00-\x1f\x7f-\x9f/?#]+(?:[/?#][^\s<>\"{}|\\^`\x00-\x1f\x7f-\x9f]*)?")
_SHORT = re.compile(r"[a-z][a-z0-9-]*/[A-Za-z0-9_.~%+-]+(?:/[A-Za-z0-9_.~%+-]+)*")
_CURIE = re.compile(r"([a-z][a-z0-9]*):([A-Za-z0-9_][A-Za-z0-9_.~%+/-]*)")
_LEXICAL = {
    "integer": re.compile(r"[+-]?[0-9]{1,18}"),
    "decimal": re.compile(r"[+-]?(?:[0-9]{1,18}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})"),
    "year": re.compile(r"[0-9]{4}"),
    "language": re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*"),
}
_WHAT = {"integer": "a whole number", "decimal": "a decimal number like 12.5", "year": "a four-digit year",
         "language": "a language tag like 'en' or 'fr'"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Param:
    """One declared parameter of a named query (values as written in the header)."""

    name: str
    type: str
    required: bool = False
    default: str | None = None
    example: str | None = None
    enum: tuple[str, ...] = ()
    description: Mapping[str, str] = field(default_factory=dict)


def nt_literal(text: str, datatype: str | None = None) -> str:
    """``text`` as an N-Triples literal (also valid SPARQL), optionally typed.

    >>> print(nt_literal('x" } ; DROP ALL ; #'))
    "x\\" } ; DROP ALL ; #"
    >>> nt_literal("2019", XSD + "integer")
    '"2019"^^<http://www.w3.org/2001/XMLSchema#integer>'
    """
    body = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
            .replace("\t", "\\t"))
    return f'"{body}"' + (f"^^<{datatype}>" if datatype else "")


def _ucschar(code: int) -> bool:
    """Whether a non-ASCII code point may stand in an IRI (RFC 3987 ``ucschar``).

    Noncharacters (U+FFF0…U+FFFF, U+xFFFE/F), surrogates and private-use characters are not
    allowed: engines refuse such IRIs, so they are refused here, as a bad parameter.

    >>> _ucschar(ord("é")), _ucschar(0xFFF0), _ucschar(0xD800), _ucschar(0x1F600), _ucschar(0xE000)
    (True, False, False, True, False)
    """
    if code < 0x10000:
        return 0xA0 <= code <= 0xD7FF or 0xF900 <= code <= 0xFDCF or 0xFDF0 <= code <= 0xFFEF
    return (code & 0xFFFF) <= 0xFFFD and code < 0xF0000 and not 0xE0000 <= code < 0xE1000


def resolve_iri(value: str, base: str) -> str:
    """An IRI parameter value as a full IRI: absolute http(s) IRIs, short forms ``kind/key``
    (under ``{base}id/``) and CURIEs of the project's prefixes (``eco:areaInferred``).

    :raises ValueError: for anything else (other schemes, relative references, spaces,
        ``<>"{}|^`\\`` characters).

    >>> resolve_iri("commune/59350", "http://kg.test/")
    'http://kg.test/id/commune/59350'
    >>> resolve_iri("eco:areaInferred", "http://kg.test/")
    'http://kg.test/def/eco#areaInferred'
    >>> resolve_iri("http://ex.org/a> } UNION { ?s ?p ?o } #", "http://kg.test/")
    Traceback (most recent call last):
    ...
    ValueError: not an absolute http(s) IRI
    """
    value = value.strip()
    if value.lower().startswith(("http://", "https://")):
        if _ABSOLUTE.fullmatch(value) and all(c < "\x80" or _ucschar(ord(c)) for c in value):
            return value
        raise ValueError("not an absolute http(s) IRI")
    if _SHORT.fullmatch(value) and ".." not in value.split("/"):
        return f"{base}id/{value}"
    curie = _CURIE.fullmatch(value)
    ns = Namespaces(base).prefixes()
    if curie and curie.group(1) in ns and ".." not in curie.group(2).split("/"):
        return ns[curie.group(1)] + curie.group(2)
    raise ValueError("not an absolute http(s) IRI, a short form or a known CURIE")


def to_term(param: Param, raw: str, base: str) -> tuple[str, str]:
    """``(comparable value, N-Triples term)`` for one value of ``param``.

    >>> to_term(Param("y", "year"), "2019", "http://kg.test/")[1]
    '"2019"^^<http://www.w3.org/2001/XMLSchema#integer>'

    :raises BadParameter: naming the parameter and what it accepts.
    :raises PayloadTooLarge: for a value longer than :data:`MAX_VALUE_LENGTH`.
    """
    if len(raw) > MAX_VALUE_LENGTH:
        raise PayloadTooLarge(f"Parameter {param.name!r} is {len(raw):,} characters long; "
                              f"the limit is {MAX_VALUE_LENGTH:,}.")
    if param.type == "iri":
        try:
            iri = resolve_iri(raw, base)
        except ValueError:
            raise BadParameter(f"Parameter {param.name!r} must be an absolute http(s) IRI or a short form "
                               f"like 'commune/59350' (got {raw[:80]!r}).",
                               details={"parameter": param.name, "type": "iri"}) from None
        return iri, f"<{iri}>"
    if param.type == "string":
        if _CONTROL.search(raw):
            raise BadParameter(f"Parameter {param.name!r} contains control characters.",
                               details={"parameter": param.name, "type": "string"})
        return raw, nt_literal(raw)
    text = raw.strip()
    if not _LEXICAL[param.type].fullmatch(text):
        raise BadParameter(f"Parameter {param.name!r} must be {_WHAT[param.type]} (got {raw[:80]!r}).",
                           details={"parameter": param.name, "type": param.type})
    if param.type == "language":
        return text.lower(), nt_literal(text.lower())
    if param.type == "decimal":
        try:
            number = format(Decimal(text), "f")
        except InvalidOperation:  # pragma: no cover - the pattern already rules it out
            raise BadParameter(f"Parameter {param.name!r} must be {_WHAT['decimal']}.") from None
        return number, nt_literal(number, XSD + "decimal")
    number = str(int(text))
    return number, nt_literal(number, XSD + "integer")
