"""Helpers of the write-side hardening tests (``test_writes.py``, ``test_crash.py``, ``test_disk_full.py``).

* :func:`seed_store` makes a small on-disk store (two named graphs) for a server with
  updates on: the write tests need no built graph, so they start in about two seconds.
* :class:`Writes` wraps a :class:`harness.Server` started with ``KG_UPDATES=on`` and
  :data:`TOKEN`: authenticated updates and Graph Store requests, and the reads that check
  what the store holds (``count``, ``ask``), always through the server itself.
* :class:`DirFingerprint` is :class:`harness.StoreFingerprint` without RocksDB's info logs
  (``LOG``, ``LOG.old.*``), which a live read-write store may touch on its own.
* :func:`writer_pid` finds the server's writer child; :func:`big_insert` and
  :func:`big_ntriples` make the large writes the crash tests interrupt.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.hardening.harness import Reply, Server, StoreFingerprint, cmdline, descendants

TOKEN = "hardening-token-5f0c9a7e31d24b68"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UPDATE = {**AUTH, "Content-Type": "application/sparql-update"}
BASE = "http://kg.test/"


def seed_store(path: Path) -> str:
    """A closed on-disk store at ``path``: three triples in ``<urn:seed>``, one in ``<urn:seed2>``."""
    import pyoxigraph as ox

    store = ox.Store(str(path))
    store.update("INSERT DATA { GRAPH <urn:seed> { <urn:a> <urn:p> 1 . <urn:b> <urn:p> 2 . <urn:c> <urn:p> 3 } "
                 "GRAPH <urn:seed2> { <urn:d> <urn:p> 4 } }")
    store.flush()
    del store
    return str(path)


def write_settings(store: str, **extra: Any) -> dict[str, Any]:
    """Settings of a server with updates on over ``store``."""
    return {"BASE_URI": BASE, "STORE_PATH": store, "DUMPS_DIR": str(Path(store).parent / "no-dumps"),
            "UPDATES": "on", "UPDATE_TOKEN": TOKEN, "QUERY_WORKERS": 1, "QUERY_TIMEOUT": 10,
            "LOG_LEVEL": "INFO", **extra}


class Writes:
    """Authenticated writes and checking reads on ``server``."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def update(self, text: str | bytes, headers: dict[str, str] | None = None, timeout: float = 60) -> Reply:
        body = text.encode() if isinstance(text, str) else text
        return self.server.request("POST", "/update", headers=UPDATE if headers is None else headers, body=body,
                                   timeout=timeout)

    def graph_store(self, method: str, target: str, body: bytes | None = None, media: str = "text/turtle",
                    headers: dict[str, str] | None = None, timeout: float = 60) -> Reply:
        """``target``: ``?graph=<iri>``, ``?default``, ``""`` or ``/<path>`` (direct)."""
        sent = dict(AUTH if headers is None else headers)
        if body is not None:
            sent.setdefault("Content-Type", media)
        return self.server.request(method, f"/rdf-graph-store{target}", headers=sent, body=body, timeout=timeout)

    def open(self) -> None:
        """Make the server open its store (the writer starts on first use)."""
        assert self.ask("ASK { ?s ?p ?o }")

    def select_one(self, query: str) -> str:
        reply = self.server.request("GET", "/sparql?" + urlencode({"query": query}),
                                    headers={"Accept": "application/sparql-results+json"})
        assert reply.status == 200, reply
        rows = json.loads(reply.body)["results"]["bindings"]
        return str(next(iter(rows[0].values()))["value"]) if rows and rows[0] else ""

    def count(self, graph: str | None = None) -> int:
        """Quads in ``graph`` (every named graph when ``None``)."""
        where = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "GRAPH ?g { ?s ?p ?o }"
        return int(self.select_one(f"SELECT (COUNT(*) AS ?n) {{ {where} }}"))

    def ask(self, query: str) -> bool:
        reply = self.server.request("GET", "/sparql?" + urlencode({"query": query}),
                                    headers={"Accept": "application/sparql-results+json"})
        assert reply.status == 200, reply
        return bool(json.loads(reply.body)["boolean"])

    def snapshot(self) -> str:
        """Every quad of the store, sorted (the stores here are small)."""
        reply = self.server.request("GET", "/sparql?" + urlencode(
            {"query": "SELECT ?g ?s ?p ?o { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g ?s ?p ?o LIMIT 5000"}),
            headers={"Accept": "text/csv"})
        assert reply.status == 200, reply
        return reply.text


class DirFingerprint(StoreFingerprint):
    """A store directory's files, RocksDB's info logs left out."""

    def _scan(self) -> dict[str, tuple[int, int]]:
        return {name: value for name, value in super()._scan().items() if not name.startswith("LOG")}


def writer_pid(server: Server, timeout: float = 10) -> int:
    """The pid of the server's store writer child (waits while it is being replaced)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [pid for pid in descendants(server.proc.pid) if "service.store.writer" in cmdline(pid)]
        if len(found) == 1:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no single writer child under {server.proc.pid}")


def kill_group(server: Server) -> None:
    """SIGKILL the whole server (gunicorn master, worker, writer, query workers) and reap it."""
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    server.stop()  # closes the log file


def big_insert(graph: str, triples: int) -> str:
    """``INSERT DATA`` of ``triples`` triples plus a marker ``<graph#marker> <urn:done> true`` into ``graph``."""
    lines = "".join(f'<{graph}#s{i}> <urn:p> "value {i}" .\n' for i in range(triples))
    return f"INSERT DATA {{ GRAPH <{graph}> {{\n{lines}<{graph}#marker> <urn:done> true . }} }}"


def big_ntriples(prefix: str, triples: int) -> bytes:
    """An N-Triples document of ``triples`` triples (a bulk Graph Store upload)."""
    return "".join(f'<{prefix}#s{i}> <urn:p> "bulk value {i}" .\n' for i in range(triples)).encode()
