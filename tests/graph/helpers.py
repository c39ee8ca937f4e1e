"""Query helpers for tests on the built graph."""

from __future__ import annotations

import re
from typing import Any

from service.iris import Namespaces

NS = Namespaces("http://kg.test/")


def prefixes() -> str:
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in NS.prefixes().items() if p != "id")


def expand(text: str) -> str:
    """``id:kind/key`` (not a SPARQL prefixed name) written out as a full IRI."""
    return re.sub(r"\bid:([\w/.%'-]+)", lambda m: f"<{NS.id_ns}{m.group(1)}>", text)


def select(store: Any, query: str, **bindings: str) -> list[dict[str, str]]:
    return store.select(prefixes() + expand(query), bindings=bindings or None)  # type: ignore[no-any-return]


def ask(store: Any, query: str) -> bool:
    return store.ask(prefixes() + expand(query))  # type: ignore[no-any-return]


def curie(value: str) -> str:
    """A CURIE from the data files as an N-Triples IRI term."""
    return f"<{NS.expand(value)}>"


def lexical(term: str) -> str:
    """The lexical form of an N-Triples literal term."""
    match = re.match(r'^"(.*)"(?:@[\w-]+|\^\^<[^>]+>)?$', term, re.S)
    assert match, term
    return match.group(1).encode().decode("unicode_escape") if "\\u" in match.group(1) else \
        match.group(1).replace('\\"', '"').replace("\\\\", "\\").replace("\\n", "\n")
