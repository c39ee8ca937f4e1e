"""Production serving: gunicorn workers, each opening the store read-only.

With updates on (``KG_UPDATES=on``) gunicorn runs one worker process with more threads
instead of several: the embedded store has a single writer (:mod:`service.store.writer`), and
on either backend the caches of pages and answers are per process and keyed by the writes that
process made. Queries still run in the killable query workers.

Each gunicorn worker starts its own pool of query processes on its first ``/sparql``
query (:mod:`service.store.executor`). The ``worker_exit`` hook closes that pool when the
worker leaves (restart, timeout, SIGTERM to the server) and ``on_exit`` any pool of the
arbiter, so a stopped server leaves no process behind.

The ``post_worker_init`` hook fills, on a background thread of each new worker, the per-build
table pages name vocabulary terms with (:func:`service.vocabulary.load_terms`: one query that
reads every label of the store, 1.6 s on the 100k benchmark store), so that the worker's first
page does not pay it, nor the requests that wait behind it (bench/RESULTS.md, target 2).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from gunicorn.app.base import BaseApplication

__all__ = ["serve", "worker_exit", "on_exit", "post_worker_init", "warm"]

log = logging.getLogger(__name__)


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service import create_app

        return create_app()


def _close_pools(app: Any = None) -> None:
    """Stop this process's query workers (the app's pool, then any other) and reap them."""
    from service.store import executor

    if app is not None and hasattr(app, "extensions"):
        executor.shutdown(app)
    executor._close_all()


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn hook, run in the exiting worker: close its query-executor pool."""
    _close_pools(getattr(worker, "wsgi", None))


def on_exit(server: Any) -> None:
    """gunicorn hook, run in the arbiter just before it exits."""
    _close_pools()


def warm(app: Any) -> None:
    """Fill ``app``'s per-build vocabulary table; a failure is only logged (the first page
    that needs the table computes it, and reports any error itself)."""
    try:
        with app.app_context():
            from service.web.pages import _terms

            _terms()
    except Exception as exc:  # noqa: BLE001 - a warm-up must never take a worker down
        log.warning("could not fill the vocabulary table at start (%s); the first page will", exc)


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, run in each new worker once its app is loaded: :func:`warm` on a daemon thread."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "app_context"):
        threading.Thread(target=warm, args=(app,), name="kg-warm", daemon=True).start()


def serve(host: str, port: int, workers: int) -> None:
    """Run gunicorn on ``host:port`` with ``workers`` threaded workers until stopped.

    With updates on: one worker with ``4 * workers`` threads (the embedded store's single writer;
    on either backend, the one process whose caches every write invalidates).

    :raises service.errors.StoreUnavailable: updates are on and the store is missing, or another
        process holds its write lock (the message names the store and the holder).
    """
    import logging

    from service import create_app
    from service.serve_worker import worker_class

    threads = 4
    cfg = create_app().config  # the store opens lazily: this only reads and checks the settings
    service_log = logging.getLogger("service")
    if not service_log.handlers:  # gunicorn sets up only its own loggers: without this, INFO lines
        handler = logging.StreamHandler()  # (one audit line per write…) would be dropped
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                                               "%Y-%m-%d %H:%M:%S %z"))
        service_log.addHandler(handler)
        service_log.propagate = False
    if cfg["UPDATES"] and cfg["BACKEND"] == "oxigraph":
        # Fail fast, before binding the port, if another writer holds the store (F5 in docs/hardening.md).
        from service.store.lock import ensure_unlocked
        from service.store.oxigraph import OxigraphStore

        OxigraphStore.check_exists(str(cfg["STORE_PATH"]))
        ensure_unlocked(str(cfg["STORE_PATH"]))
    if cfg["UPDATES"] and workers != 1:
        # Embedded store: one writer. Either backend: every write must bump the one process's data
        # generation, which the page and metadata caches are keyed by (no stale page in a sibling process).
        logging.getLogger(__name__).warning("updates are on: serving with 1 worker process (the single writer, "
                                            "whose caches see every write) and %d threads instead of %d processes",
                                            4 * workers, workers)
        workers, threads = 1, 4 * workers
    # A bounded time to send a request head (F10, slowloris): service/serve_worker.py; 0 keeps plain gthread.
    head_timeout = cfg["REQUEST_HEAD_TIMEOUT"]
    worker: Any = worker_class(head_timeout) if head_timeout > 0 else "gthread"
    _Server({"bind": f"{host}:{port}", "workers": workers, "worker_class": worker, "threads": threads,
             "timeout": 60, "graceful_timeout": 20, "accesslog": "-",
             "worker_exit": worker_exit, "on_exit": on_exit, "post_worker_init": post_worker_init}).run()
