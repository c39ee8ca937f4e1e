"""``territory-kg serve`` (gunicorn): stopping it leaves no process behind.

Each gunicorn worker starts a pool of killable query processes on its first ``/sparql``
query; the ``worker_exit`` hook of :mod:`service.serve` closes it when the worker leaves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from service.serve import on_exit, post_worker_init, warm, worker_exit
from tests.virtuoso import free_port


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren…), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (a zombie has been left unreaped but is not running: count it as alive too)."""
    return Path(f"/proc/{pid}").exists()


def test_hooks_are_the_ones_gunicorn_gets() -> None:
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("worker_exit", worker_exit)
    cfg.set("on_exit", on_exit)
    cfg.set("post_worker_init", post_worker_init)
    assert cfg.worker_exit is worker_exit and cfg.on_exit is on_exit and cfg.post_worker_init is post_worker_init


def test_a_new_worker_fills_the_vocabulary_table_in_the_background(kg_config: dict[str, Any], built_kg: Any) -> None:
    from types import SimpleNamespace

    from service import create_app

    app = create_app(kg_config)
    post_worker_init(SimpleNamespace(wsgi=app))  # returns at once: the table is filled on a thread
    deadline = time.monotonic() + 60
    while "pages-terms" not in app.extensions.get("kg_meta_cache", {}).get("values", {}):
        assert time.monotonic() < deadline, "the vocabulary table was not filled"
        time.sleep(0.01)
    values = app.extensions["kg_meta_cache"]["values"]
    assert values["pages-terms"].labels[kg_config["BASE_URI"] + "def/eco#Commune"]


def test_a_failed_warm_up_is_only_logged(kg_config: dict[str, Any], tmp_path: Path, caplog: Any) -> None:
    from service import create_app

    app = create_app({**kg_config, "STORE_PATH": str(tmp_path / "missing")})
    warm(app)  # does not raise
    assert "could not fill the vocabulary table" in caplog.text


def test_sigterm_leaves_no_process_behind(kg_config: dict[str, Any], built_kg: Any) -> None:
    port = free_port()
    env = {**os.environ, "KG_STORE_PATH": kg_config["STORE_PATH"], "KG_BASE_URI": kg_config["BASE_URI"],
           "KG_DUMPS_DIR": kg_config["DUMPS_DIR"], "KG_QUERY_WORKERS": "2", "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
        answers = 0
        # Enough queries for both gunicorn workers to start their query pools.
        while answers < 20 or len(descendants(proc.pid)) < 2 + 2 * 2:
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, f"only {len(descendants(proc.pid))} processes after {answers} answers"
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    answers += b"true" in resp.read()
            except OSError:
                time.sleep(0.2)
        tree = descendants(proc.pid)
        assert len(tree) >= 6  # 2 gunicorn workers, each with 2 query processes
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        # At once: an orphaned query process would leave by itself within a second (it polls its
        # parent), so only a pool closed and reaped before its worker exited passes this.
        assert not [pid for pid in tree if alive(pid)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
