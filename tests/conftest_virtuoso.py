"""Pytest plugin: private Virtuoso instances per test session, started only when a test asks.

The root conftest registers it (``pytest_plugins = ["tests.conftest_virtuoso"]``). The
``virtuoso`` fixture (an empty instance, for the store contract suite) installs Debian's
package when missing (CI included), starts the instance in a temporary directory, and stops it when the session ends; a failure to
install or start is an error of the tests that asked, never a skip. The terminal summary
reports how long installing and starting took. ``kg_virtuoso`` is a second instance holding
the session's built graph (:func:`service.build.remote.publish`), the remote backend of the
web suites; :func:`remote_overrides` gives an app's settings over an instance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.virtuoso import Virtuoso, ensure_installed, start

__all__ = ["virtuoso", "kg_virtuoso", "remote_overrides", "pytest_terminal_summary"]

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


def remote_overrides(instance: Virtuoso) -> dict[str, Any]:
    """Settings of an app (or a build) over ``instance`` as its remote backend."""
    return {"BACKEND": "remote", "SPARQL_URL": instance.sparql_url, "SPARQL_UPDATE_URL": instance.sparql_url,
            "REMOTE_READ_TIMEOUT": 120}


@pytest.fixture(scope="session")
def kg_virtuoso(tmp_path_factory: pytest.TempPathFactory, kg_config: dict[str, Any],
                dumps_dir: Path) -> Iterator[Virtuoso]:
    """A second private Virtuoso holding the session's built graph, loaded the way
    ``territory-kg build --target remote`` loads it (the contract suite's instance is
    cleared and reloaded by its tests, so it cannot hold this one)."""
    from service.build.remote import publish

    _TIMINGS["install"] = _TIMINGS.get("install") or ensure_installed()
    instance = start(tmp_path_factory.mktemp("virtuoso-kg"))
    _TIMINGS.setdefault("start", instance.started_in)
    try:
        report = publish({**kg_config, **remote_overrides(instance)}, dumps_dir / "territory-kg.nq.gz")
        _TIMINGS["kg-load"] = report.seconds
        yield instance
    finally:
        instance.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with the Virtuoso timings, when this session used it."""
    if _TIMINGS:
        install = _TIMINGS.get("install", 0.0)
        terminalreporter.write_line(
            f"virtuoso: {'installed in %.1fs, ' % install if install else 'already installed, '}"
            f"started in {_TIMINGS.get('start', 0.0):.1f}s"
            + (f", built graph loaded in {_TIMINGS['kg-load']:.1f}s" if "kg-load" in _TIMINGS else ""))
