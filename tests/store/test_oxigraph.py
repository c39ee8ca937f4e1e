"""The embedded backend's own edges: bindings that cannot apply are a 400, never a 500."""

from __future__ import annotations

import pytest

from service.errors import BadQuery
from service.store.oxigraph import OxigraphStore

QUERY = "SELECT ?s ?o WHERE { ?s <urn:p> ?o }"


@pytest.fixture(scope="module")
def store() -> OxigraphStore:
    return OxigraphStore.in_memory(['<urn:a> <urn:p> "x" <urn:g> .', '<urn:b> <urn:p> "y" <urn:g> .'])


def test_bound_variable_is_applied(store: OxigraphStore) -> None:
    assert store.select(QUERY, bindings={"s": "<urn:b>"}) == [{"s": "<urn:b>", "o": '"y"'}]


@pytest.mark.parametrize(("bindings", "words"), [
    ({"s": "not a term"}, "N-Triples term"),
    ({"s": '"unterminated'}, "N-Triples term"),
    ({"s": "<urn:a> <urn:b>"}, "N-Triples term"),
    ({"1 s": "<urn:a>"}, "variable name"),
    ({"p": "<urn:p>"}, "projection"),  # bound, but not projected: pyoxigraph refuses
])
def test_bad_bindings_are_bad_queries(store: OxigraphStore, bindings: dict[str, str], words: str) -> None:
    with pytest.raises(BadQuery) as caught:
        store.select(QUERY, bindings=bindings)
    assert caught.value.status == 400 and words in caught.value.message
