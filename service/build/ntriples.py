"""N-Triples/N-Quads terms as text: the build's interchange format.

The builder writes every graph as sorted N-Quads lines: they stream, they load into
any engine (the embedded store and a remote one alike) and they make byte-for-byte
deterministic dumps easy.

>>> iri("http://kg.test/id/commune/59350")
'<http://kg.test/id/commune/59350>'
>>> literal("Villeneuve-d'Ascq", lang="fr")
'"Villeneuve-d\\'Ascq"@fr'
>>> literal(42)
'"42"^^<http://www.w3.org/2001/XMLSchema#integer>'
>>> literal("a \\"quote\\"\\n")
'"a \\\\"quote\\\\"\\\\n"'
>>> quad("<s>", "<p>", "<o>", "<g>")
'<s> <p> <o> <g> .'
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["iri", "literal", "quad", "XSD"]

XSD = "http://www.w3.org/2001/XMLSchema#"

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
_IRI_FORBIDDEN = set('<>"{}|^`\\ ') | {chr(c) for c in range(0x21)}
_IRI_BAD = re.compile("[" + re.escape("".join(sorted(_IRI_FORBIDDEN))) + "]")


def iri(value: str) -> str:
    """An IRI term.

    :raises ValueError: if the IRI holds a character N-Triples forbids.
    """
    if not value or _IRI_BAD.search(value):
        raise ValueError(f"not a valid IRI: {value!r}")
    return f"<{value}>"


def literal(value: object, *, datatype: str | None = None, lang: str | None = None) -> str:
    """A literal term; Python ``int``/``Decimal``/``float``/``bool`` get their XSD datatype."""
    if isinstance(value, bool):
        lexical, datatype = ("true" if value else "false"), datatype or XSD + "boolean"
    elif isinstance(value, int):
        lexical, datatype = str(value), datatype or XSD + "integer"
    elif isinstance(value, (Decimal, float)):
        lexical, datatype = _decimal_lexical(Decimal(str(value))), datatype or XSD + "decimal"
    else:
        lexical = str(value)
    text = '"' + lexical.translate(_ESCAPE_TABLE) + '"'
    if lang:
        return f"{text}@{lang}"
    if datatype and datatype != XSD + "string":
        return f"{text}^^{iri(datatype)}"
    return text


def _decimal_lexical(value: Decimal) -> str:
    """Canonical-ish xsd:decimal: no exponent, at least one fractional digit."""
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def quad(subject: str, predicate: str, obj: str, graph: str | None = None) -> str:
    """One N-Quads line (an N-Triples line when ``graph`` is None)."""
    if graph is None:
        return f"{subject} {predicate} {obj} ."
    return f"{subject} {predicate} {obj} {graph} ."
