"""The web suites on both backends: the same tests over the embedded store and a real Virtuoso.

A module's ``app`` fixture takes ``params=BACKENDS`` and builds its settings with
:func:`backend_config`: ``"oxigraph"`` is the session's built store, ``"remote"`` the same
build loaded into a private Virtuoso (``kg_virtuoso``, see ``tests/conftest_virtuoso.py``)
and reached through ``KG_BACKEND=remote``. The build's ``build-info.json`` and dumps stay
where the build wrote them, as after ``territory-kg build --target remote``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest_virtuoso import remote_overrides

__all__ = ["BACKENDS", "backend_config"]

BACKENDS = ["oxigraph", "remote"]


def backend_config(request: pytest.FixtureRequest, kg_config: dict[str, Any], backend: str | None = None,
                   **overrides: Any) -> dict[str, Any]:
    """Settings of a test app over ``backend`` (by default the one named by ``request.param``)."""
    cfg = {**kg_config, "TESTING": True, "QUERY_WORKERS": 0, "LOG_LEVEL": "WARNING", **overrides}
    if (backend or request.param) == "remote":
        cfg.update(remote_overrides(request.getfixturevalue("kg_virtuoso")))
    return cfg
