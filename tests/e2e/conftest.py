"""Fixtures of the browser tests: the built test graph served on 127.0.0.1, one Chromium context per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import BrowserMissing, browser_context, require_browser, serve  # noqa: E402


@pytest.fixture(scope="module")
def base_url(built_kg: Any, kg_config: dict[str, Any]) -> Iterator[str]:
    """The service over the session's built graph, in-process queries (no worker pool)."""
    from service import create_app
    from service.store import executor

    app = create_app({"BASE_URI": kg_config["BASE_URI"], "STORE_PATH": kg_config["STORE_PATH"],
                      "DUMPS_DIR": kg_config["DUMPS_DIR"], "QUERY_WORKERS": 0, "LOG_LEVEL": "WARNING"})
    with serve(app) as url:
        yield url
    executor.shutdown(app)


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    """A headless Debian Chromium context; a missing browser fails the test (never a skip)."""
    try:
        require_browser()
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with browser_context() as ctx:
        yield ctx
