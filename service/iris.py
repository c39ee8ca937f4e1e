"""IRIs of the graph: namespaces, minting and re-basing.

Every IRI the project creates goes through this module, so that the canonical base
(``KG_BASE_URI``) is spelled in exactly one place: hand-written files use
:data:`DEFAULT_BASE` and :func:`rebase` moves them to the configured base.

>>> ns = Namespaces("http://kg.test/")
>>> ns.mint("commune", "59350")
'http://kg.test/id/commune/59350'
>>> ns.eco("Region")
'http://kg.test/def/eco#Region'
>>> rebase("https://data.example.org/id/region/32", "http://kg.test/")
'http://kg.test/id/region/32'
>>> slugify("Villeneuve-d'Ascq")
'villeneuve-d-ascq'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["DEFAULT_BASE", "Namespaces", "rebase", "slugify", "EXTERNAL_PREFIXES"]

#: The base hand-written Turtle and CSV files are written against.
DEFAULT_BASE = "https://data.example.org/"

#: Well-known vocabularies, by preferred prefix.
EXTERNAL_PREFIXES: dict[str, str] = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "oa": "http://www.w3.org/ns/oa#",
    "qb": "http://purl.org/linked-data/cube#",
    "org": "http://www.w3.org/ns/org#",
    "schema": "http://schema.org/",
    "geo": "http://www.opengis.net/ont/geosparql#",
    "unit": "http://qudt.org/vocab/unit/",
    "time": "http://www.w3.org/2006/time#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "sh": "http://www.w3.org/ns/shacl#",
    "wd": "http://www.wikidata.org/entity/",
}

_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Lower-case ASCII slug: accents stripped, anything else becomes one hyphen.

    >>> slugify("Métropole Européenne de Lille")
    'metropole-europeenne-de-lille'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SLUG_DROP.sub("-", ascii_text.lower()).strip("-")


def rebase(iri: str, base: str) -> str:
    """Move an IRI written against :data:`DEFAULT_BASE` to ``base``; other IRIs are unchanged."""
    if base != DEFAULT_BASE and iri.startswith(DEFAULT_BASE):
        return base + iri[len(DEFAULT_BASE):]
    return iri


@dataclass(frozen=True)
class Namespaces:
    """The project's namespaces under one base.

    :param base: the canonical base IRI; it must end with ``/``.
    :raises ValueError: if ``base`` is not an absolute http(s) IRI ending with ``/``.
    """

    base: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"https?://[^\s<>\"{}|\\^`]+/", self.base):
            raise ValueError(f"base IRI must be absolute http(s) and end with '/': {self.base!r}")

    @property
    def eco_ns(self) -> str:
        """The ontology namespace, ``{base}def/eco#``."""
        return f"{self.base}def/eco#"

    @property
    def ontology(self) -> str:
        """The ontology IRI."""
        return f"{self.base}def/eco"

    @property
    def shapes_ns(self) -> str:
        """The SHACL shapes namespace."""
        return f"{self.base}def/eco/shapes#"

    @property
    def id_ns(self) -> str:
        """Where every described thing lives (``{base}id/``)."""
        return f"{self.base}id/"

    def eco(self, name: str) -> str:
        """An ontology term IRI."""
        return self.eco_ns + name

    def mint(self, kind: str, *keys: str) -> str:
        """The IRI of a thing of ``kind`` identified by ``keys`` (joined by ``/``)."""
        return f"{self.base}id/{kind}/" + "/".join(keys)

    def graph(self, *keys: str) -> str:
        """A named-graph IRI, e.g. ``graph("document", stem)``."""
        return f"{self.base}graph/" + "/".join(keys)

    def prefixes(self) -> dict[str, str]:
        """Every prefix the project uses, the project's own ones first."""
        return {"eco": self.eco_ns, "ecosh": self.shapes_ns, "id": self.id_ns, **EXTERNAL_PREFIXES}

    def expand(self, curie: str) -> str:
        """Expand a CURIE (``eco:Region``, ``id:commune/59350``, ``unit:M2``) or ``<iri>``.

        :raises ValueError: for an unknown prefix or a string that is not a CURIE.

        >>> Namespaces("http://kg.test/").expand("id:period/2019")
        'http://kg.test/id/period/2019'
        """
        curie = curie.strip()
        if curie.startswith("<") and curie.endswith(">"):
            return rebase(curie[1:-1], self.base)
        prefix, sep, local = curie.partition(":")
        table = self.prefixes()
        if not sep or prefix not in table:
            raise ValueError(f"not a known CURIE: {curie!r}")
        return table[prefix] + local
