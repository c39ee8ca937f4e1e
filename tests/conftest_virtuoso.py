"""Pytest plugin: one private Virtuoso per test session, started only when a test asks.

Register it from the root conftest (``pytest_plugins = ["tests.conftest_virtuoso"]``) or
import its names into a directory's conftest (``tests/store/conftest.py`` does). The
``virtuoso`` fixture installs Debian's package when missing (CI included), starts the
instance in a temporary directory, and stops it when the session ends; a failure to
install or start is an error of the tests that asked, never a skip. The terminal summary
reports how long installing and starting took.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.virtuoso import Virtuoso, ensure_installed, start

__all__ = ["virtuoso", "pytest_terminal_summary"]

log = logging.getLogger(__name__)

_TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Virtuoso]:
    """A running private Virtuoso (SPARQL at ``.sparql_url``, updates allowed there)."""
    _TIMINGS["install"] = ensure_installed()
    instance = start(tmp_path_factory.mktemp("virtuoso"))
    _TIMINGS["start"] = instance.started_in
    try:
        yield instance
    finally:
        instance.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with the Virtuoso timings, when this session used it."""
    if _TIMINGS:
        install = _TIMINGS.get("install", 0.0)
        terminalreporter.write_line(
            f"virtuoso: {'installed in %.1fs, ' % install if install else 'already installed, '}"
            f"started in {_TIMINGS.get('start', 0.0):.1f}s")
