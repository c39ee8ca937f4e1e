"""``service.dataset_meta.per_build``: one computation per value and build, one lock per value.

A bare Flask app is enough: ``per_build`` needs only ``STORE_PATH`` (the build is told by the
``build-info.json`` next to it) and the app's ``extensions``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.dataset_meta import per_build


@pytest.fixture()
def app(tmp_path: Path) -> Flask:
    app = Flask(__name__)
    app.config["STORE_PATH"] = str(tmp_path / "store")
    (tmp_path / "build-info.json").write_text('{"version": "1"}')
    return app


def in_thread(app: Flask, name: str, compute: Callable[[], Any], out: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        with app.app_context():
            out[name] = per_build(name, compute)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_slow_first_computation_holds_up_only_its_own_value(app: Flask) -> None:
    entered, release = threading.Event(), threading.Event()
    out: dict[str, Any] = {}

    def slow() -> str:
        entered.set()
        release.wait(30)
        return "slow"

    slow_thread = in_thread(app, "search-index", slow, out)
    assert entered.wait(10)
    fast_thread = in_thread(app, "pages-terms", lambda: "fast", out)
    fast_thread.join(10)
    done_while_slow_ran = not fast_thread.is_alive() and not release.is_set()
    release.set()
    slow_thread.join(10)
    assert done_while_slow_ran, "another value waited for the slow one"
    assert out == {"search-index": "slow", "pages-terms": "fast"}


def test_concurrent_first_calls_compute_once(app: Flask) -> None:
    calls: list[int] = []
    release = threading.Event()
    out: dict[str, Any] = {}

    def compute() -> int:
        calls.append(1)
        release.wait(30)
        return len(calls)

    threads = [in_thread(app, "statistics", compute, out) for _ in range(6)]
    while not calls:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert calls == [1]
    assert out == {"statistics": 1}


def test_a_value_may_use_another(app: Flask) -> None:
    with app.app_context():
        assert per_build("outer", lambda: per_build("inner", lambda: 2) * 3) == 6
        assert per_build("inner", lambda: 0) == 2


def test_a_new_build_drops_the_values(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        assert per_build("v", lambda: "first") == "first"
        assert per_build("v", lambda: "again") == "first"
        (tmp_path / "build-info.json").write_text('{"version": "2", "built": "x"}')
        assert per_build("v", lambda: "second") == "second"


def test_a_value_computed_for_a_replaced_build_is_not_kept(app: Flask, tmp_path: Path) -> None:
    def compute() -> str:
        (tmp_path / "build-info.json").write_text('{"version": "2", "built": "x"}')  # a build lands meanwhile
        return "stale"

    with app.app_context():
        assert per_build("v", compute) == "stale"  # its caller gets what it asked for
        assert per_build("v", lambda: "fresh") == "fresh"
        assert per_build("v", lambda: "again") == "fresh"


def test_a_write_drops_the_values(app: Flask) -> None:
    with app.app_context():
        assert per_build("v", lambda: "before") == "before"
        app.extensions["kg_data_generation"] = 1
        assert per_build("v", lambda: "after") == "after"
