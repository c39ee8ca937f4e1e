"""The single writer of the embedded store, in a killable child process, and its published generations.

pyoxigraph allows one read-write ``Store`` per directory, and opening a store read-only
while another process writes it is undefined behaviour. With updates enabled the embedded
store is therefore served like this (the web server runs one process):

* :class:`Writer` keeps one child process (``python -m service.store.writer``) that
  opens the store read-write and is its only writer. Writes are serialised (one at a
  time), each is one pyoxigraph transaction (all or nothing), and each runs under
  ``timeout``: past it the child is SIGKILLed (an unfinished transaction leaves nothing
  behind), replaced, and the client gets a 503. The child also runs the update
  pre-flight and parses uploads, so a slow parse or a parser crash costs a child, never
  the web server.
* After every committed write the child writes a RocksDB checkpoint of the store
  (``Store.backup``: hard links, about 15 ms on the 220k-triple store) into a new
  directory, a *generation*; :class:`Generations` publishes it before the write is
  acknowledged. Every reader (the query worker processes and the web process's pages)
  opens the newest generation read-only, and no one ever writes a generation, so reads
  are safe, see every acknowledged write, and keep the hard query timeout. A generation
  is deleted once it is not the newest and no reader holds it.

The default, read-only mode uses none of this: every process opens the store read-only.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service import errors
from service.errors import KGError, StoreUnavailable

if TYPE_CHECKING:
    from service.store.oxigraph import OxigraphStore

__all__ = ["Generations", "Writer", "generations_dir"]

log = logging.getLogger(__name__)

_STARTUP_TIMEOUT = 60.0
_LOCK_RETRY_SECONDS = 5.0
_LIVE: weakref.WeakSet[Writer] = weakref.WeakSet()


def generations_dir(store_path: str) -> Path:
    """Where the generations of ``store_path`` live: a sibling directory (hard links need one file system).

    >>> str(generations_dir("/srv/kg/store"))
    '/srv/kg/store.generations'
    """
    path = Path(store_path)
    return path.with_name(path.name + ".generations")


class Generations:
    """Published read-only checkpoints of the store, reference-counted by their readers.

    :param root: the directory holding one sub-directory per generation.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._counter = 0
        self._newest: Path | None = None
        self._refs: dict[Path, int] = {}
        self._handles: dict[Path, OxigraphStore] = {}

    def reset(self) -> None:
        """Delete whatever a previous run left (call it once this process holds the store's lock)."""
        with self._lock:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root.mkdir(parents=True)

    def reserve(self) -> Path:
        """A fresh directory name for the next checkpoint (not created)."""
        with self._lock:
            self._counter += 1
            return self.root / f"{self._counter:08d}"

    def publish(self, path: Path) -> None:
        """Make ``path`` (a finished checkpoint) the newest generation."""
        with self._lock:
            self._newest = path
            self._refs.setdefault(path, 0)
            self._collect()

    def discard(self, path: Path) -> None:
        """Remove an unpublished checkpoint directory (a write that failed or was killed)."""
        shutil.rmtree(path, ignore_errors=True)

    @property
    def newest(self) -> Path | None:
        """The newest generation, if one was published."""
        return self._newest

    def acquire(self) -> Path:
        """The newest generation, held until :meth:`release`.

        :raises StoreUnavailable: nothing is published yet.
        """
        with self._lock:
            if self._newest is None:
                raise StoreUnavailable("The store is not open yet.")
            self._refs[self._newest] += 1
            return self._newest

    def release(self, path: Path) -> None:
        """Drop one hold on ``path``; an old generation nobody holds is deleted."""
        with self._lock:
            self._refs[path] -= 1
            self._collect()

    @contextmanager
    def reading(self) -> Iterator[OxigraphStore]:
        """The newest generation, opened read-only in this process (one handle per generation)."""
        from service.store.oxigraph import OxigraphStore

        path = self.acquire()
        try:
            with self._lock:
                handle = self._handles.get(path)
                if handle is None:
                    handle = self._handles[path] = OxigraphStore.open(str(path), read_only=True)
            yield handle
        finally:
            self.release(path)

    def _collect(self) -> None:
        for path in [p for p, n in self._refs.items() if n <= 0 and p != self._newest]:
            del self._refs[path]
            handle = self._handles.pop(path, None)
            if handle is not None:
                handle.close()
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Close this process's handles (the directories stay for whoever still reads them)."""
        with self._lock:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()


class Writer:
    """The client of the writer process (see the module docstring).

    :param store_path: the store directory (opened read-write by the child).
    :param generations: where committed writes are published.
    :param timeout: seconds one write may take.
    :param max_update_bytes: the update size cap the child's pre-flight enforces.
    """

    def __init__(self, store_path: str, generations: Generations, timeout: float, max_update_bytes: int) -> None:
        self.store_path, self.generations = store_path, generations
        self.timeout, self.max_update_bytes = float(timeout), int(max_update_bytes)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._closed = False
        with self._lock:
            self._start()
        generations.reset()
        self.run(("checkpoint",))
        _LIVE.add(self)

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen([sys.executable, "-m", "service.store.writer", str(theirs.fileno())],
                                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        conn.send({"store_path": self.store_path, "max_update_bytes": self.max_update_bytes})
        if not conn.poll(_STARTUP_TIMEOUT):
            self._kill(proc, conn)
            raise StoreUnavailable("The store's writer did not start in time.")
        try:
            status, message = conn.recv()
        except (EOFError, OSError):
            status, message = "failed", "The store's writer died while opening the store."
        if status != "ready":
            self._kill(proc, conn)
            raise (errors.InsufficientStorage if status == "full" else StoreUnavailable)(message)
        self._proc, self._conn = proc, conn
        log.info("store writer %s opened %s read-write", proc.pid, self.store_path)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], conn: Connection) -> None:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("store writer %s did not die after SIGKILL", proc.pid)
        conn.close()

    def pid(self) -> int | None:
        """The writer process's id (``None`` between a crash and its replacement)."""
        return self._proc.pid if self._proc is not None else None

    def run(self, job: tuple[Any, ...]) -> Any:
        """Run one write job in the child and publish its checkpoint before returning.

        Jobs: ``("update", text, base_iri)``, ``("write", graph, parts, replace)``,
        ``("drop", graph)``, ``("checkpoint",)``.

        :raises errors.QueryTimeout: past ``timeout``; the child was killed, nothing partial stays (503).
        :raises StoreUnavailable: the child died or cannot open the store (503).
        :raises KGError: what the pre-flight or the store refused (400, 413, 415, 422…).
        """
        with self._lock:
            if self._closed:
                raise StoreUnavailable("The store's writer is shut down.")
            if self._proc is None or self._proc.poll() is not None:
                self._replace()
            assert self._conn is not None and self._proc is not None
            target = self.generations.reserve()
            started = time.monotonic()
            try:
                self._conn.send((job, str(target)))
                if not self._conn.poll(self.timeout):
                    log.warning("write killed after %.1f s (writer %s)", time.monotonic() - started, self._proc.pid)
                    self._recover(target)
                    raise errors.QueryTimeout(f"The write exceeded the {self.timeout:g} s limit and was stopped; "
                                              "an unfinished write leaves nothing behind.")
                reply = self._conn.recv()
            except (EOFError, OSError):
                log.error("store writer %s died (exit status %s)", self._proc.pid, self._proc.poll())
                self._recover(target)
                raise StoreUnavailable("The store's writer died during the write; it has been restarted.") from None
            if reply[0] == "ok":
                self.generations.publish(target)
                return reply[1]
            self.generations.discard(target)
            if reply[3]:  # the store failed (disk full…): the child exits, the next write reopens it
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    log.error("store writer %s did not exit after a store error", self._proc.pid)
        error_class = getattr(errors, reply[1], KGError)
        if isinstance(error_class, type) and issubclass(error_class, KGError):
            raise error_class(reply[2])
        raise KGError(reply[2])

    def _replace(self) -> None:
        if self._proc is not None and self._conn is not None:
            self._kill(self._proc, self._conn)
        self._proc = self._conn = None
        self._start()

    def _recover(self, target: Path) -> None:
        """After a kill or crash: a new child and a fresh checkpoint (a commit may have raced the kill)."""
        self.generations.discard(target)
        try:
            self._replace()
            fresh = self.generations.reserve()
            assert self._conn is not None
            self._conn.send((("checkpoint",), str(fresh)))
            if self._conn.poll(_STARTUP_TIMEOUT) and self._conn.recv()[0] == "ok":
                self.generations.publish(fresh)
        except (KGError, EOFError, OSError) as exc:
            log.error("store writer could not be restarted: %s", exc)

    def close(self) -> None:
        """Stop the child (it finishes nothing: a write in flight is rolled back). Idempotent."""
        with self._lock:
            self._closed = True
            if self._proc is not None and self._conn is not None:
                try:
                    self._conn.send(None)
                    self._proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
                self._kill(self._proc, self._conn)
            self._proc = self._conn = None


@atexit.register
def _close_all() -> None:
    for writer in list(_LIVE):
        writer.close()


def _open(path: str) -> OxigraphStore:
    """Open read-write, waiting briefly while a killed predecessor's lock is released.

    The lock is probed without opening the store (:mod:`service.store.lock`), so waiting
    does not rotate the holder's RocksDB log on every attempt.
    """
    from service.store.lock import describe_holder, lock_holder
    from service.store.oxigraph import OxigraphStore

    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    while True:
        locked, pid = lock_holder(path)
        if not locked:
            try:
                return OxigraphStore.open(path, read_only=False)
            except errors.InsufficientStorage:
                raise
            except StoreUnavailable:
                pass  # taken between the probe and the open
        if time.monotonic() > deadline:
            log.error("store %s is locked by another process%s", path, describe_holder(pid))
            raise StoreUnavailable("The store is locked by another process (is another server running with "
                                   "updates on, or a build?): only one writer may open it.")
        time.sleep(0.1)


def _do(store: OxigraphStore, job: tuple[Any, ...], max_update_bytes: int) -> Any:
    from service.update_guard import preflight_update

    kind = job[0]
    if kind == "update":
        preflight_update(job[1], max_update_bytes)
        store.update(job[1], base_iri=job[2])
        return None
    if kind == "write":
        return store.write_graph(job[1], job[2], replace=job[3])
    if kind == "drop":
        return store.drop_graph(job[1])
    return None


def _serve(conn: Connection) -> None:
    settings = conn.recv()
    try:
        store = _open(settings["store_path"])
    except KGError as exc:
        conn.send(("full" if isinstance(exc, errors.InsufficientStorage) else "failed", exc.message))
        return
    conn.send(("ready", ""))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            store.close()
            return
        job, target = message
        try:
            result = _do(store, job, settings["max_update_bytes"])
            store.checkpoint(target)
            reply: tuple[Any, ...] = ("ok", result)
        except StoreUnavailable as exc:
            # RocksDB refuses every later write after an I/O error (ENOSPC…) until reopened:
            # answer, then exit, and the parent opens the store afresh for the next write.
            conn.send(("error", type(exc).__name__, exc.message, True))
            store.close()
            return
        except KGError as exc:
            reply = ("error", type(exc).__name__, exc.message, False)
        except Exception:  # noqa: BLE001 - a bug: report a 500 rather than dying with a 503
            log.exception("store writer failed")
            reply = ("error", "KGError", "Internal error.", False)
        conn.send(reply)


def _writer_main(fd: int) -> None:
    from service.store.executor import serve_child

    # A write in flight completes while the web worker drains; then the worker closes this
    # child (or, if the worker is killed, the child ends and an unfinished write is rolled back).
    serve_child(fd, _serve, "kg-writer")


if __name__ == "__main__":
    # Run from the canonical module, not this __main__ copy, so pickled classes match.
    from service.store.writer import _writer_main as main

    main(int(sys.argv[1]))
