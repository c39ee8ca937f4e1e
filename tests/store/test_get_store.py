"""``service.store.get_store``: an app opens its store once, even when threads ask together.

With updates on, opening means starting the single writer process on the store: a second
opening fails on the store's lock (a gunicorn worker's warm-up thread and its first request
both ask for the store at start-up).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from flask import Flask

from service import store as store_module
from service.store import get_store


def test_threads_asking_together_share_one_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    openings: list[object] = []

    def slow_backend(cfg: Mapping[str, Any]) -> Any:
        time.sleep(0.2)  # long enough for every thread to ask before the first opening ends
        opened = object()
        openings.append(opened)
        return opened

    monkeypatch.setitem(store_module.BACKENDS, "slow", slow_backend)
    app = Flask(__name__)
    app.config["BACKEND"] = "slow"
    got: list[object] = []

    def ask() -> None:
        with app.app_context():
            got.append(get_store())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(openings) == 1
    assert got == openings * 4
