"""Killable query execution: a pool of warm worker processes for the embedded engine.

pyoxigraph cannot cancel a running query from Python, and rdflib's parser (used by the
pre-flight, :mod:`service.sparql_guard`) cannot be interrupted either. So ``/sparql``
queries run in child processes that the web process can SIGKILL:

* :class:`QueryExecutor` keeps ``workers`` persistent children (``python -m
  service.store.executor``, talking over a socket pair). Each opens the on-disk store
  read-only itself, lists its named graphs once, and builds rdflib's grammar before
  saying "ready", so a cheap query costs one round trip and no process start.
* A query waits at most ``queue_timeout`` for an idle worker (then :class:`~service.errors.Busy`,
  503 with ``Retry-After``), then at most ``timeout`` for its answer. Past it the worker is
  SIGKILLed (its CPU is freed at once), reaped, replaced, and the client gets
  :class:`~service.errors.QueryTimeout` (503). A worker that dies (segfault, OOM kill) gives
  a 503 and is replaced the same way.
* In the worker the pre-flight runs first, then the query; answers over ``max_rows``
  solutions, ``max_triples`` triples or ``max_bytes`` bytes are a
  :class:`~service.errors.ResultTooLarge` (422), never a truncated 200. Solutions are
  serialised to TSV first (one line per row, counted while written), then converted.
* Workers run jobs in a thread with a 512 MiB stack and a high recursion limit: rdflib's
  parser needs ~35 Python frames per nesting level, and pyoxigraph's recursive parser and
  evaluator abort the process on long operator chains with the default 8 MiB stack.
* Children leave with their parent: the pool closes at interpreter exit (``atexit``, which
  also runs when a gunicorn worker exits), and each child polls its parent pid and exits
  when orphaned (a SIGKILLed server). Every child is reaped, so no zombie stays behind.

:class:`InProcessEngine` is the same contract without processes (``QUERY_WORKERS=0``, the
unit tests' in-memory stores, other backends): no hard timeout, so not for production.
"""

from __future__ import annotations

import atexit
import io
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Protocol

from service import errors
from service.errors import KGError, ResultTooLarge, StoreUnavailable
from service.sparql_guard import Policy, analyse, preflight
from service.store import Dataset, GraphStore, QueryOutput

if TYPE_CHECKING:
    from flask import Flask

    from service.store.oxigraph import OxigraphStore

__all__ = ["Limits", "Engine", "QueryExecutor", "InProcessEngine", "run_capped", "named_graphs", "policy_for",
           "init_app", "get_engine", "shutdown"]

log = logging.getLogger(__name__)

_STARTUP_TIMEOUT = 60.0
_WORKER_STACK = 512 * 1024 * 1024
_WORKER_RECURSION = 60_000
_TSV = "text/tab-separated-values"
_LIVE: weakref.WeakSet[QueryExecutor] = weakref.WeakSet()
_ENGINE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """Caps on one answer: solutions, triples and serialised bytes."""

    max_rows: int = 10_000
    max_triples: int = 100_000
    max_bytes: int = 50_000_000


class Engine(Protocol):
    """What ``/sparql`` runs queries through."""

    def execute(self, query: str, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput: ...

    def close(self) -> None: ...


class _Overflow(Exception):
    """Raised inside pyoxigraph's serialisers when a cap is hit (propagates unchanged)."""


class _CappedBuffer(io.BytesIO):
    """A binary sink that refuses more than ``max_bytes`` bytes or ``max_lines`` lines."""

    def __init__(self, max_bytes: int, max_lines: int | None = None) -> None:
        super().__init__()
        self.lines = 0
        self.max_bytes, self.max_lines = max_bytes, max_lines

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if self.tell() + len(chunk) > self.max_bytes:
            raise _Overflow("bytes")
        if self.max_lines is not None:
            self.lines += chunk.count(b"\n")
            if self.lines > self.max_lines:
                raise _Overflow("rows")
        return super().write(chunk)


def _counted(triples: Iterable[Any], cap: int) -> Iterator[Any]:
    for n, triple in enumerate(triples, 1):
        if n > cap:
            raise _Overflow("triples")
        yield triple


def _syntax_message(engine: str, parser: str | None) -> str:
    """One message from pyoxigraph's ``error at L:C: …`` and rdflib's view, if it failed too.

    >>> _syntax_message("error at 3:2: expected OPTIONAL", "line 2, column 3: Expected SelectQuery")
    "SPARQL syntax error at line 3, column 2: expected OPTIONAL (rdflib's parser: line 2, column 3: Expected SelectQuery)"
    """
    found = re.match(r"error at (\d+):(\d+)(?:-\d+:\d+)?: (.*)", engine, re.S)
    where = f" at line {found[1]}, column {found[2]}: {found[3]}" if found else f": {engine}"
    return f"SPARQL syntax error{where}" + (f" (rdflib's parser: {parser})" if parser else "")


def _evaluate(store: OxigraphStore, query: str, dataset: Dataset | None, base_iri: str | None) -> Any:
    """``Store.query`` with the protocol dataset: the default graph is the union of the named
    graphs unless the request names default graphs (as ``OxigraphStore._query``), and
    relative IRIs resolve against ``base_iri`` (the endpoint: "service-defined BASE URI")."""
    import pyoxigraph as ox

    kwargs: dict[str, Any] = {"base_iri": base_iri, "use_default_graph_as_union": True}
    if dataset and dataset.default_graphs:
        kwargs = {"base_iri": base_iri, "default_graph": [ox.NamedNode(g) for g in dataset.default_graphs]}
    if dataset and dataset.named_graphs:
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in dataset.named_graphs]
    try:
        return store.raw.query(query, **kwargs)
    except SyntaxError as exc:
        raise errors.BadQuery(_syntax_message(str(exc), analyse(query).error)) from None
    except ValueError as exc:
        raise errors.BadQuery(f"Invalid query: {exc}") from None
    except OSError as exc:
        log.error("store error: %s", exc)
        raise StoreUnavailable("The store failed to answer.") from None


def run_capped(store: OxigraphStore, query: str, result_format: str, graph_format: str,
               dataset: Dataset | None, limits: Limits, base_iri: str | None = None) -> QueryOutput:
    """Run ``query`` on a pyoxigraph store and serialise its answer within ``limits``.

    :param result_format: media type for solutions and booleans; ``graph_format`` for graphs.
    :param base_iri: what relative IRIs in the query resolve against.
    :raises ResultTooLarge: past a cap (422); nothing partial is returned.
    :raises service.errors.BadQuery: a syntax or evaluation error.
    :raises StoreUnavailable: the store failed.
    """
    import pyoxigraph as ox

    from service.store.oxigraph import GRAPH_FORMATS, RESULT_FORMATS

    result = _evaluate(store, query, dataset, base_iri)
    try:
        if isinstance(result, ox.QueryBoolean):
            body = result.serialize(format=RESULT_FORMATS[result_format]) or b""
            return QueryOutput("boolean", result_format, body)
        if isinstance(result, ox.QueryTriples):
            graph = _CappedBuffer(limits.max_bytes)
            ox.serialize(_counted(result, limits.max_triples), graph, GRAPH_FORMATS[graph_format])
            return QueryOutput("graph", graph_format, graph.getvalue())
        table = _CappedBuffer(limits.max_bytes, max_lines=limits.max_rows + 1)  # + the header line
        result.serialize(table, ox.QueryResultsFormat.TSV)
        body = table.getvalue()
        if result_format != _TSV:
            parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.TSV)
            body = parsed.serialize(format=RESULT_FORMATS[result_format]) or b""
            if len(body) > limits.max_bytes:
                raise _Overflow("bytes")
        return QueryOutput("solutions", result_format, body, {"rows": max(table.lines - 1, 0)})
    except _Overflow as exc:
        what = {"rows": f"more than {limits.max_rows:,} rows", "triples": f"more than {limits.max_triples:,} triples",
                "bytes": f"more than {limits.max_bytes:,} bytes"}[str(exc)]
        raise ResultTooLarge(f"The result has {what}, over this endpoint's limit: add LIMIT/OFFSET, narrow "
                             "the query, or use the data dumps.") from None
    except (SyntaxError, ValueError, RuntimeError) as exc:
        raise errors.BadQuery(f"The query failed: {exc}") from None
    except OSError as exc:
        log.error("store error while answering: %s", exc)
        raise StoreUnavailable("The store failed to answer.") from None


def named_graphs(store: GraphStore) -> frozenset[str]:
    """The IRIs of the store's named graphs."""
    rows = store.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }")
    return frozenset(row["g"][1:-1] for row in rows if row.get("g", "").startswith("<"))


def policy_for(store: GraphStore, max_query_bytes: int, allowlist: Iterable[str]) -> Policy:
    """The guard policy for ``store``: its named graphs plus the allow-list."""
    return Policy(max_query_bytes, frozenset(allowlist), named_graphs(store))


class InProcessEngine:
    """Guard and run queries in the calling thread (no hard timeout: tests and other backends)."""

    def __init__(self, store: GraphStore, limits: Limits, max_query_bytes: int, allowlist: Iterable[str] = (),
                 base_iri: str | None = None) -> None:
        self._store, self._limits, self._base_iri = store, limits, base_iri
        self._max_query_bytes, self._allowlist = max_query_bytes, tuple(allowlist)
        self._policy: Policy | None = None

    def execute(self, query: str, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput:
        """Pre-flight then run ``query``; see :func:`run_capped` for the errors."""
        from service.store.oxigraph import OxigraphStore

        if self._policy is None:
            self._policy = policy_for(self._store, self._max_query_bytes, self._allowlist)
        preflight(query, self._policy)
        if isinstance(self._store, OxigraphStore):
            return run_capped(self._store, query, result_format, graph_format, dataset, self._limits, self._base_iri)
        return self._store.execute(query, result_format=result_format, graph_format=graph_format, dataset=dataset)

    def close(self) -> None:
        """Nothing to release: the store belongs to the app."""


class _Worker:
    def __init__(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        self.proc, self.conn, self.ready = proc, conn, False

    def retire(self) -> None:
        """SIGKILL (if still running) and reap the process; close the socket."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("query worker %s did not die after SIGKILL", self.proc.pid)
        self.conn.close()


class QueryExecutor:
    """A pool of killable query workers over one on-disk store (see the module docstring).

    :param store_path: the store directory; each worker opens it read-only.
    :param workers: pool size (at least 1).
    :param timeout: seconds a query may run.
    :param max_rows: most solutions in an answer; ``max_triples`` most triples.
    :param max_bytes: most bytes in a serialised answer.
    :param queue_timeout: seconds to wait for an idle worker.
    :param max_query_bytes: the guard's query size cap; ``allowlist`` its allow-listed IRIs.
    :param base_iri: what relative IRIs in queries resolve against (the endpoint URL).
    """

    def __init__(self, store_path: str, workers: int, timeout: float, max_rows: int, max_bytes: int, *,
                 max_triples: int = 100_000, queue_timeout: float = 5.0, max_query_bytes: int = 1_000_000,
                 allowlist: Iterable[str] = (), base_iri: str | None = None) -> None:
        if workers < 1:
            raise ValueError("a QueryExecutor needs at least one worker")
        self.timeout, self.queue_timeout = float(timeout), float(queue_timeout)
        self._settings = {"store_path": store_path, "limits": Limits(max_rows, max_triples, max_bytes),
                          "max_query_bytes": max_query_bytes, "allowlist": tuple(allowlist), "base_iri": base_iri}
        self._cond = threading.Condition()
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._closed = False
        for _ in range(workers):
            self._offer(self._spawn(), new=True)
        _LIVE.add(self)

    def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen([sys.executable, "-m", "service.store.executor", str(theirs.fileno())],
                                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL)
        finally:
            theirs.close()
        worker = _Worker(proc, Connection(ours.detach()))
        worker.conn.send(self._settings)
        log.debug("query worker %s started", proc.pid)
        return worker

    def _offer(self, worker: _Worker, *, new: bool = False) -> None:
        """Make ``worker`` idle (``new``: adopt it first), or retire it if the pool is closed."""
        with self._cond:
            if not self._closed:
                if new:
                    self._workers.append(worker)
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.retire()

    def _replace(self, worker: _Worker) -> None:
        """Kill and reap ``worker``; start its successor."""
        with self._cond:
            if worker in self._workers:
                self._workers.remove(worker)
        worker.retire()
        if not self._closed:
            self._offer(self._spawn(), new=True)

    def pids(self) -> list[int]:
        """Process ids of the current workers (busy or idle)."""
        with self._cond:
            return [w.proc.pid for w in self._workers]

    def _acquire(self) -> _Worker:
        deadline = time.monotonic() + self.queue_timeout
        while True:
            with self._cond:
                while not self._idle and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise errors.Busy(f"All {len(self._workers)} query workers are busy; retry later.",
                                          retry_after=max(1, math.ceil(self.timeout)))
                    self._cond.wait(remaining)
                if self._closed:
                    raise StoreUnavailable("The query service is shutting down.")
                worker = self._idle.pop()
            if worker.proc.poll() is None:
                return worker
            log.warning("query worker %s died while idle; replacing it", worker.proc.pid)
            self._replace(worker)

    def execute(self, query: str, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput:
        """Run one query in a worker (pre-flight included).

        :raises errors.Busy: no idle worker within ``queue_timeout`` (503, Retry-After).
        :raises errors.QueryTimeout: no answer within ``timeout``; the worker was killed (503).
        :raises StoreUnavailable: the worker died, or the store cannot be opened (503).
        :raises KGError: whatever the pre-flight or the engine refused (400, 413, 422…).
        """
        worker = self._acquire()
        healthy = False
        try:
            if not worker.ready:
                if not worker.conn.poll(_STARTUP_TIMEOUT):
                    raise StoreUnavailable("A query worker did not start in time.")
                worker.conn.recv()
                worker.ready = True
            started = time.monotonic()
            worker.conn.send((query, result_format, graph_format, dataset))
            if not worker.conn.poll(self.timeout):
                log.warning("query killed after %.1f s (worker %s)", time.monotonic() - started, worker.proc.pid)
                raise errors.QueryTimeout(f"The query exceeded the {self.timeout:g} s limit and was stopped.")
            reply = worker.conn.recv()
            healthy = True
        except (EOFError, OSError):
            log.error("query worker %s died (exit status %s)", worker.proc.pid, worker.proc.poll())
            raise StoreUnavailable("The query worker died while answering; it has been replaced.") from None
        finally:
            if healthy:
                self._offer(worker)
            else:
                self._replace(worker)
        if reply[0] == "ok":
            return reply[1]  # type: ignore[no-any-return]
        error_class = getattr(errors, reply[1], KGError)
        raise error_class(reply[2]) if isinstance(error_class, type) and issubclass(error_class, KGError) \
            else KGError(reply[2])

    def close(self) -> None:
        """Stop every worker (politely, then SIGKILL) and reap it. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers, self._workers, self._idle = self._workers, [], []
            self._cond.notify_all()
        for worker in workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 2
        for worker in workers:
            try:
                worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            worker.retire()


@atexit.register
def _close_all() -> None:
    for executor in list(_LIVE):
        executor.close()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)  # orphaned: the server is gone, and so is whoever would read our answer


def _serve(conn: Connection) -> None:
    from service.store.oxigraph import OxigraphStore

    settings = conn.recv()
    limits: Limits = settings["limits"]
    failure: KGError | None = None
    try:
        store = OxigraphStore.open(settings["store_path"], read_only=True)
        policy = policy_for(store, settings["max_query_bytes"], settings["allowlist"])
    except KGError as exc:
        failure = exc
    analyse("ASK {}")  # build rdflib's grammar now, not inside the first timed query
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        query, result_format, graph_format, dataset = job
        try:
            if failure is not None:
                raise failure
            preflight(query, policy)
            reply: tuple[Any, ...] = ("ok", run_capped(store, query, result_format, graph_format, dataset, limits,
                                                       settings["base_iri"]))
        except KGError as exc:
            reply = ("error", type(exc).__name__, exc.message)
        except Exception:  # noqa: BLE001 - a bug: report a 500 rather than dying with a 503
            log.exception("query worker failed")
            reply = ("error", "KGError", "Internal error.")
        conn.send(reply)


def _worker_main(fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    conn = Connection(fd)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.setrecursionlimit(_WORKER_RECURSION)
    threading.stack_size(_WORKER_STACK)
    serving = threading.Thread(target=_serve, args=(conn,), name="kg-query")
    serving.start()
    serving.join()


def _make_engine(cfg: Mapping[str, Any]) -> Engine:
    from service.store import get_store

    endpoint = f"{cfg['BASE_URI']}sparql"
    if int(cfg["QUERY_WORKERS"]) > 0 and cfg["BACKEND"] == "oxigraph":
        return QueryExecutor(str(cfg["STORE_PATH"]), int(cfg["QUERY_WORKERS"]), float(cfg["QUERY_TIMEOUT"]),
                             int(cfg["QUERY_MAX_ROWS"]), int(cfg["QUERY_MAX_RESULT_BYTES"]),
                             max_triples=int(cfg["QUERY_MAX_TRIPLES"]),
                             queue_timeout=float(cfg["QUERY_QUEUE_TIMEOUT"]),
                             max_query_bytes=int(cfg["QUERY_MAX_BYTES"]), allowlist=cfg["SERVICE_ALLOWLIST"],
                             base_iri=endpoint)
    limits = Limits(int(cfg["QUERY_MAX_ROWS"]), int(cfg["QUERY_MAX_TRIPLES"]), int(cfg["QUERY_MAX_RESULT_BYTES"]))
    return InProcessEngine(get_store(), limits, int(cfg["QUERY_MAX_BYTES"]), cfg["SERVICE_ALLOWLIST"], endpoint)


def init_app(app: Flask) -> None:
    """Reserve the app's engine slot; the engine itself starts on the first query."""
    app.extensions["kg_engine"] = None


def get_engine() -> Engine:
    """The current app's engine, created on first use in this process (never inherited by a fork)."""
    from flask import current_app

    with _ENGINE_LOCK:
        slot = current_app.extensions.get("kg_engine")
        if slot is None or slot[0] != os.getpid():
            slot = (os.getpid(), _make_engine(current_app.config))
            current_app.extensions["kg_engine"] = slot
    return slot[1]


def shutdown(app: Flask) -> None:
    """Close the app's engine (its worker processes), if it has one."""
    slot = app.extensions.get("kg_engine")
    if slot is not None and slot[0] == os.getpid():
        slot[1].close()
    app.extensions["kg_engine"] = None


if __name__ == "__main__":
    # Run from the canonical module, not this __main__ copy, so pickled classes match.
    from service.store.executor import _worker_main as main

    main(int(sys.argv[1]))
