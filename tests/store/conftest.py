"""Store tests: the private Virtuoso fixture (until the root conftest registers the plugin)."""

from tests.conftest_virtuoso import pytest_terminal_summary, virtuoso  # noqa: F401

__all__ = ["virtuoso", "pytest_terminal_summary"]
