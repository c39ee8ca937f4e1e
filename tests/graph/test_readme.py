"""The example queries of the README run on the built graph and return rows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
QUERIES = re.findall(r"```sparql\n(.*?)```", README, re.S)


def test_readme_has_examples() -> None:
    assert len(QUERIES) >= 3


@pytest.mark.parametrize("query", QUERIES, ids=[f"example-{i}" for i in range(len(QUERIES))])
def test_readme_query_returns_rows(kg_store: Any, query: str) -> None:
    rows = kg_store.select(query.replace("https://data.example.org/", "http://kg.test/"))
    assert rows, query
