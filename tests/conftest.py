"""Shared fixtures: the real graph built once per session under a test base IRI.

The test base (``http://kg.test/``) differs from the default, so any IRI hard-coded in
code or data shows up as a failure. Unit tests use their own tiny fixtures instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import make_config

TEST_BASE = "http://kg.test/"

# Private Virtuoso instances (``virtuoso``, ``kg_virtuoso``), started only when a test asks.
pytest_plugins = ["tests.conftest_virtuoso"]


@pytest.fixture(scope="session")
def kg_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Configuration of the session's graph: real inputs, a temporary store and dumps."""
    tmp = tmp_path_factory.mktemp("kg")
    return make_config({"BASE_URI": TEST_BASE, "STORE_PATH": str(tmp / "store"),
                        "DUMPS_DIR": str(tmp / "dumps"), "LOG_LEVEL": "WARNING"})


@pytest.fixture(scope="session")
def built_kg(kg_config: dict[str, Any]) -> Any:
    """Build the real graph once; returns the build summary."""
    from service.build.pipeline import build

    return build(kg_config)


@pytest.fixture(scope="session")
def kg_store(built_kg: Any, kg_config: dict[str, Any]) -> Iterator[Any]:
    """The built store, opened read-only."""
    from service.store.oxigraph import OxigraphStore

    store = OxigraphStore.open(kg_config["STORE_PATH"], read_only=True)
    yield store


@pytest.fixture(scope="session")
def dumps_dir(built_kg: Any, kg_config: dict[str, Any]) -> Path:
    return Path(kg_config["DUMPS_DIR"])
