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
* Workers run at a lower CPU priority (``nice`` +10) than the web process, so pages stay
  fast while heavy queries use the CPU that is left.
* Workers run jobs in a thread with a 512 MiB stack and a high recursion limit: rdflib's
  parser needs ~35 Python frames per nesting level, and pyoxigraph's recursive parser and
  evaluator abort the process on long operator chains with the default 8 MiB stack.
* With updates enabled (:mod:`service.store.writer`) workers do not open the store itself:
  each job names the newest published generation, and a worker reopens read-only on it
  when it changed (a checkpoint is a few tens of milliseconds to open), so queries see
  every acknowledged write. A worker holds its generation until its next job.
* Children leave with their parent: the pool closes at interpreter exit (``atexit``, which
  also runs when a gunicorn worker exits), and each child polls its parent pid and exits
  when orphaned (a SIGKILLed server). Every child is reaped, so no zombie stays behind.
  Children ignore SIGINT and SIGTERM: a stop signal sent to the whole process group (Ctrl-C,
  systemd, ``docker stop``) lets the server drain its in-flight queries instead of failing them.
* While a query runs, the web process also watches the worker's memory (resident set over
  ``max_memory`` bytes: killed, 503) and the client (a connection the client closed, seen on
  the gunicorn or werkzeug socket of the current request: killed at once, so a client that
  gives up frees its worker within a fraction of a second rather than at the timeout).

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
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from service import errors
from service.errors import KGError, ResultTooLarge, StoreUnavailable
from service.sparql_guard import Policy, analyse, preflight
from service.store import Dataset, GraphStore, QueryOutput

if TYPE_CHECKING:
    from flask import Flask

    from service.store.oxigraph import OxigraphStore
    from service.store.writer import Generations

__all__ = ["Limits", "Engine", "QueryExecutor", "InProcessEngine", "run_capped", "named_graphs", "policy_for",
           "init_app", "get_engine", "shutdown", "client_gone", "client_gone_probe", "solutions_of"]

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

    def execute(self, query: str, result_format: str, graph_format: str, dataset: Dataset | None = None, *,
                bindings: Mapping[str, str] | None = None, trusted: bool = False) -> QueryOutput:
        """Run ``query``; ``bindings`` (variable → N-Triples term) are set before evaluation, and
        ``trusted`` text (the validated named queries) skips the pre-flight, not the limits."""
        ...

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


def _evaluate(store: OxigraphStore, query: str, dataset: Dataset | None, base_iri: str | None,
              bindings: Mapping[str, str] | None = None) -> Any:
    """``Store.query`` over the dataset :func:`~service.store.oxigraph.dataset_options` picks
    (the protocol's, else the query's ``FROM``, else the union of the named graphs), with
    relative IRIs resolved against ``base_iri`` (the endpoint: "service-defined BASE URI");
    ``bindings`` are bound by :func:`~service.store.oxigraph.query_bound` (written into the text
    as constants when they can be, else pyoxigraph ``substitutions``)."""
    import pyoxigraph as ox

    from service.store.oxigraph import dataset_options, nt_to_term, query_bound

    substitutions = {}
    for name, value in (bindings or {}).items():
        try:
            substitutions[ox.Variable(name)] = nt_to_term(value)
        except (SyntaxError, ValueError):
            raise errors.BadQuery(f"Binding {name[:40]!r} is not a variable name and one N-Triples term.") from None

    kwargs: dict[str, Any] = {"base_iri": base_iri, **dataset_options(query, dataset)}
    try:
        return query_bound(store.raw, query, substitutions, **kwargs)
    except SyntaxError as exc:
        raise errors.BadQuery(_syntax_message(str(exc), analyse(query).error)) from None
    except (ValueError, RuntimeError) as exc:  # RuntimeError: e.g. a bound variable not projected
        raise errors.BadQuery(f"Invalid query: {exc}") from None
    except OSError as exc:
        log.error("store error: %s", exc)
        raise StoreUnavailable("The store failed to answer.") from None


def run_capped(store: OxigraphStore, query: str, result_format: str, graph_format: str,
               dataset: Dataset | None, limits: Limits, base_iri: str | None = None,
               bindings: Mapping[str, str] | None = None) -> QueryOutput:
    """Run ``query`` on a pyoxigraph store and serialise its answer within ``limits``.

    :param result_format: media type for solutions and booleans; ``graph_format`` for graphs.
    :param base_iri: what relative IRIs in the query resolve against.
    :raises ResultTooLarge: past a cap (422); nothing partial is returned.
    :raises service.errors.BadQuery: a syntax or evaluation error.
    :raises StoreUnavailable: the store failed.
    """
    import pyoxigraph as ox

    from service.store.oxigraph import GRAPH_FORMATS, RESULT_FORMATS

    result = _evaluate(store, query, dataset, base_iri, bindings)
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


def solutions_of(output: QueryOutput) -> list[dict[str, str]]:
    """The solutions of a ``text/tab-separated-values`` answer, as :meth:`GraphStore.select` gives them."""
    import pyoxigraph as ox

    result: Any = ox.parse_query_results(output.body, format=ox.QueryResultsFormat.TSV)
    names = [v.value for v in result.variables]
    return [{n: str(sol[n]) for n in names if sol[n] is not None} for sol in result]


def named_graphs(store: GraphStore) -> frozenset[str]:
    """The IRIs of the store's named graphs."""
    listed = getattr(store, "data_graphs", None)
    if callable(listed):  # a remote store lists its dataset's graphs (Virtuoso answers GRAPH ?g { } with none)
        return frozenset(listed())
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

    def execute(self, query: str, result_format: str, graph_format: str, dataset: Dataset | None = None, *,
                bindings: Mapping[str, str] | None = None, trusted: bool = False) -> QueryOutput:
        """Pre-flight (unless ``trusted``) then run ``query``; see :func:`run_capped` for the errors."""
        from service.store.oxigraph import OxigraphStore

        reading = getattr(self._store, "reading", None)
        if reading is not None:  # updates on: the newest generation, and its graphs for the guard
            with reading() as snapshot:
                if not trusted:
                    preflight(query, policy_for(snapshot, self._max_query_bytes, self._allowlist))
                return run_capped(snapshot, query, result_format, graph_format, dataset, self._limits,
                                  self._base_iri, bindings)
        if not trusted:
            if self._policy is None:
                self._policy = policy_for(self._store, self._max_query_bytes, self._allowlist)
            preflight(query, self._policy)
        if isinstance(self._store, OxigraphStore):
            return run_capped(self._store, query, result_format, graph_format, dataset, self._limits, self._base_iri,
                              bindings)
        if bindings:  # a remote store: VALUES blocks (its read timeout bounds the wait)
            from service.store.remote import with_values

            query = with_values(query, bindings)
        return self._store.execute(query, result_format=result_format, graph_format=graph_format, dataset=dataset)

    def close(self) -> None:
        """Nothing to release: the store belongs to the app."""


class _Worker:
    def __init__(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        self.proc, self.conn, self.ready = proc, conn, False
        self.snapshot: Path | None = None  # the generation it has open (updates on)

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
    :param snapshots: with updates on, the published generations (``store_path`` is then unused).

    ``max_memory`` (attribute, bytes; 0: none) caps a worker's resident memory while it answers.
    """

    max_memory: int = 0

    def __init__(self, store_path: str, workers: int, timeout: float, max_rows: int, max_bytes: int, *,
                 max_triples: int = 100_000, queue_timeout: float = 5.0, max_query_bytes: int = 1_000_000,
                 allowlist: Iterable[str] = (), base_iri: str | None = None,
                 snapshots: Generations | None = None) -> None:
        if workers < 1:
            raise ValueError("a QueryExecutor needs at least one worker")
        self.timeout, self.queue_timeout = float(timeout), float(queue_timeout)
        self._snapshots = snapshots
        self._settings = {"store_path": None if snapshots else store_path, "limits": Limits(max_rows, max_triples, max_bytes),
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
        self._let_go(worker)
        if not self._closed:
            self._offer(self._spawn(), new=True)

    def _let_go(self, worker: _Worker) -> None:
        """Release the generation a retired worker held."""
        if self._snapshots is not None and worker.snapshot is not None:
            self._snapshots.release(worker.snapshot)
            worker.snapshot = None

    def pids(self) -> list[int]:
        """Process ids of the current workers (busy or idle)."""
        with self._cond:
            return [w.proc.pid for w in self._workers]

    def busy(self) -> int:
        """How many workers are taken by a query right now."""
        with self._cond:
            return len(self._workers) - len(self._idle)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker has started (store open, grammar built), at most ``timeout`` seconds.

        :returns: whether they all did in time (a worker that failed to start counts as done).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if self._closed:
                    return False
                # Peek only: the "ready" message is consumed by the query that takes the worker.
                if all(w.ready or w.conn.poll(0) for w in self._workers):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

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
                # A warm worker first: one replacing a killed worker may still be starting.
                warm = [w for w in self._idle if w.ready or w.conn.poll(0)]
                worker = warm[-1] if warm else self._idle[-1]
                self._idle.remove(worker)
            if worker.proc.poll() is None:
                return worker
            log.warning("query worker %s died while idle; replacing it", worker.proc.pid)
            self._replace(worker)

    def _wait(self, worker: _Worker, cancelled: Callable[[], bool] | None, started: float) -> None:
        """Wait for ``worker``'s answer until ``started`` + the timeout, watching its memory and the client.

        :raises errors.QueryTimeout: no answer in time.
        :raises StoreUnavailable: the worker went over ``max_memory``, or the client left.
        """
        deadline = started + self.timeout
        while not worker.conn.poll(max(0.0, min(_WATCH_INTERVAL, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                log.warning("query killed after %.1f s (worker %s)", time.monotonic() - started, worker.proc.pid)
                raise errors.QueryTimeout(f"The query exceeded the {self.timeout:g} s limit and was stopped.")
            if self.max_memory and _rss(worker.proc.pid) > self.max_memory:
                log.warning("query killed over %d MiB (worker %s)", self.max_memory >> 20, worker.proc.pid)
                raise StoreUnavailable(f"The query needed more than {self.max_memory >> 20:,} MiB of memory and "
                                       "was stopped: narrow it, or use the data dumps.")
            if cancelled is not None and cancelled():
                log.info("client left after %.1f s: query stopped (worker %s)", time.monotonic() - started,
                         worker.proc.pid)
                raise StoreUnavailable("The client closed the connection; the query was stopped.")

    def execute(self, query: str, result_format: str, graph_format: str, dataset: Dataset | None = None, *,
                bindings: Mapping[str, str] | None = None, trusted: bool = False) -> QueryOutput:
        """Run one query in a worker (pre-flight included unless ``trusted``; ``bindings`` set first).

        :raises errors.Busy: no idle worker within ``queue_timeout`` (503, Retry-After).
        :raises errors.QueryTimeout: no answer within ``timeout``; the worker was killed (503).
        :raises StoreUnavailable: the worker died, went over ``max_memory``, the client left
            (:func:`client_gone_probe`), or the store cannot be opened (503).
        :raises KGError: whatever the pre-flight or the engine refused (400, 413, 422…).
        """
        cancelled = client_gone_probe()
        worker = self._acquire()
        healthy = False
        moved_from: Path | None = None
        path: str | None = None
        if self._snapshots is not None:
            snapshot = self._snapshots.acquire()
            moved_from, worker.snapshot, path = worker.snapshot, snapshot, str(snapshot)
        try:
            if not worker.ready:
                if not worker.conn.poll(_STARTUP_TIMEOUT):
                    raise StoreUnavailable("A query worker did not start in time.")
                worker.conn.recv()
                worker.ready = True
            worker.conn.send((query, result_format, graph_format, dataset, path, dict(bindings or {}), trusted))
            self._wait(worker, cancelled, time.monotonic())
            reply = worker.conn.recv()
            healthy = True
        except (EOFError, OSError):
            log.error("query worker %s died (exit status %s)", worker.proc.pid, worker.proc.poll())
            raise StoreUnavailable("The query worker died while answering; it has been replaced.") from None
        finally:
            if moved_from is not None and self._snapshots is not None:
                self._snapshots.release(moved_from)  # the worker has closed it (or died)
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
            self._let_go(worker)


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_WATCH_INTERVAL = 0.1  # seconds between memory and client checks while a query runs
_WORKER_NICE = 10  # niceness query workers add to their own


def _rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def client_gone(sock: socket.socket) -> bool:
    """Whether the peer of ``sock`` has closed or reset the connection (a peek: nothing is consumed).

    Pipelined bytes waiting on the socket mean the client is still there.

    >>> a, b = socket.socketpair()
    >>> client_gone(a)
    False
    >>> _ = b.send(b"GET"); client_gone(a)
    False
    >>> b.close(); a.recv(3); client_gone(a)
    b'GET'
    True
    >>> a.close()
    """
    try:
        ready, _, _ = select.select([sock], [], [], 0)
        if not ready:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):
        return True


def client_gone_probe() -> Callable[[], bool] | None:
    """A check of the current request's client connection (:func:`client_gone`), or ``None``
    outside a request or without its socket (gunicorn's ``gunicorn.socket``, werkzeug's ``werkzeug.socket``)."""
    from flask import has_request_context, request

    if not has_request_context():
        return None
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return None
    return lambda: client_gone(sock)


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
    opened: str | None = None
    store: OxigraphStore | None = None
    policy = Policy(settings["max_query_bytes"])

    def reopen(path: str) -> None:
        nonlocal store, policy, failure, opened
        if store is not None:
            store.close()
        store, failure, opened = None, None, path
        try:
            store = OxigraphStore.open(path, read_only=True)
            policy = policy_for(store, settings["max_query_bytes"], settings["allowlist"])
        except KGError as exc:
            failure = exc

    if settings["store_path"] is not None:
        reopen(settings["store_path"])
    analyse("ASK {}")  # build rdflib's grammar now, not inside the first timed query
    conn.send(("ready", os.getpid()))
    # Started at full speed; answers below the web process in CPU priority, so pages and cheap
    # requests stay fast while heavy queries use what CPU is left.
    os.nice(_WORKER_NICE)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        query, result_format, graph_format, dataset, path, bindings, trusted = job
        if path is not None and path != opened:
            reopen(path)  # updates on: a newer generation was published
        try:
            if failure is not None:
                raise failure
            assert store is not None
            if not trusted:
                preflight(query, policy)
            reply: tuple[Any, ...] = ("ok", run_capped(store, query, result_format, graph_format, dataset, limits,
                                                       settings["base_iri"], bindings or None))
        except KGError as exc:
            reply = ("error", type(exc).__name__, exc.message)
        except Exception:  # noqa: BLE001 - a bug: report a 500 rather than dying with a 503
            log.exception("query worker failed")
            reply = ("error", "KGError", "Internal error.")
        conn.send(reply)


def serve_child(fd: int, serve: Callable[[Connection], None], name: str) -> None:
    """The body of a child process (query worker, store writer): ``serve`` the pipe ``fd`` on a
    thread with a deep stack, until the parent closes it or dies.

    Ctrl-C and a group-wide SIGTERM (systemd, docker stop) reach the child too: the parent
    decides, so work in flight finishes while the server drains; if the parent is killed,
    :func:`_watch_parent` ends the child. The recursion limit and stack are for rdflib's
    parsers, which recurse per nesting level.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.setrecursionlimit(_WORKER_RECURSION)
    threading.stack_size(_WORKER_STACK)
    serving = threading.Thread(target=serve, args=(conn,), name=name)
    serving.start()
    serving.join()


def _worker_main(fd: int) -> None:
    serve_child(fd, _serve, "kg-query")


def _make_engine(cfg: Mapping[str, Any]) -> Engine:
    from service.store import get_store

    endpoint = f"{cfg['BASE_URI']}sparql"
    if int(cfg["QUERY_WORKERS"]) > 0 and cfg["BACKEND"] == "oxigraph":
        snapshots = getattr(get_store(), "generations", None) if cfg.get("UPDATES") else None
        return QueryExecutor(str(cfg["STORE_PATH"]), int(cfg["QUERY_WORKERS"]), float(cfg["QUERY_TIMEOUT"]),
                             int(cfg["QUERY_MAX_ROWS"]), int(cfg["QUERY_MAX_RESULT_BYTES"]),
                             max_triples=int(cfg["QUERY_MAX_TRIPLES"]),
                             queue_timeout=float(cfg["QUERY_QUEUE_TIMEOUT"]),
                             max_query_bytes=int(cfg["QUERY_MAX_BYTES"]), allowlist=cfg["SERVICE_ALLOWLIST"],
                             base_iri=endpoint, snapshots=snapshots)
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
            if isinstance(slot[1], QueryExecutor):
                slot[1].max_memory = int(current_app.config.get("QUERY_MAX_MEMORY_MB", 0)) << 20
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
