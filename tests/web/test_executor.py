"""The killable query pool (service.store.executor) on its own, over the protocol store."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.errors import BadQuery, QueryRefused, QueryTimeout, ResultTooLarge, StoreUnavailable
from service.store import Dataset
from service.store.executor import QueryExecutor

RUNAWAY = "SELECT (COUNT(*) AS ?n) { " + " . ".join(f"?a{i} ?b{i} ?c{i}" for i in range(20)) + " }"
JSON = "application/sparql-results+json"
TURTLE = "text/turtle"


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture()
def pool(protocol_store_path: str) -> Iterator[QueryExecutor]:
    executor = QueryExecutor(protocol_store_path, workers=2, timeout=2, max_rows=100, max_bytes=1_000_000,
                             queue_timeout=5, base_iri="http://kg.test/sparql")
    yield executor
    executor.close()


def test_cheap_queries_reuse_warm_workers(pool: QueryExecutor) -> None:
    pids = pool.pids()
    for _ in range(20):
        out = pool.execute("ASK { ?s ?p ?o }", JSON, TURTLE)
        assert out.kind == "boolean" and b"true" in out.body
    assert pool.pids() == pids


def test_answers_and_dataset(pool: QueryExecutor) -> None:
    out = pool.execute("SELECT ?s { ?s ?p ?o }", "text/csv", TURTLE,
                       Dataset(default_graphs=("http://kasei.us/2009/09/sparql/data/data2.rdf",)))
    assert out.kind == "solutions" and out.body.split() == [b"s", b"http://kasei.us/2009/09/sparql/data/data2.rdf"]
    graph = pool.execute("CONSTRUCT { <s> <p> 1 } WHERE {}", JSON, "application/n-triples")
    assert graph.kind == "graph" and graph.body.startswith(b"<http://kg.test/s>")  # resolved on the endpoint


def test_guard_runs_in_the_worker(pool: QueryExecutor) -> None:
    with pytest.raises(QueryRefused):
        pool.execute("SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", JSON, TURTLE)
    with pytest.raises(QueryRefused):
        pool.execute("SELECT * FROM <file:///etc/passwd> { ?s ?p ?o }", JSON, TURTLE)
    with pytest.raises(BadQuery, match="line 1"):
        pool.execute("SELECT * WHERE { ?s ?p }", JSON, TURTLE)


def test_timeout_kills_the_worker_and_replaces_it(pool: QueryExecutor) -> None:
    # The timeout counts from the query's start, not the worker's (a loaded machine takes
    # seconds to start one): wait for the workers, with a generous deadline.
    assert pool.wait_ready(60)
    before = set(pool.pids())
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="2 s limit"):
        pool.execute(RUNAWAY, JSON, TURTLE)
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 2 + 2, elapsed  # stopped at its timeout, not left to run
    (killed,) = before - set(pool.pids())
    assert not alive(killed)
    assert len(pool.pids()) == 2
    assert b"true" in pool.execute("ASK {}", JSON, TURTLE).body


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_a_worker_that_dies_is_a_503_and_is_replaced(protocol_store_path: str, sig: int) -> None:
    pool = QueryExecutor(protocol_store_path, workers=1, timeout=30, max_rows=100, max_bytes=10**6)
    try:
        (pid,) = pool.pids()
        pool.execute("ASK {}", JSON, TURTLE)
        threading.Timer(0.5, os.kill, (pid, sig)).start()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="died"):
            pool.execute(RUNAWAY, JSON, TURTLE)
        assert time.monotonic() - started < 5
        assert not alive(pid) and pool.pids() != [pid]
        assert b"true" in pool.execute("ASK {}", JSON, TURTLE).body
        (idle,) = pool.pids()
        os.kill(idle, signal.SIGKILL)  # dies while idle: replaced without failing a request
        time.sleep(0.2)
        assert b"true" in pool.execute("ASK {}", JSON, TURTLE).body
    finally:
        pool.close()


def test_result_caps(protocol_store_path: str) -> None:
    pool = QueryExecutor(protocol_store_path, workers=1, timeout=10, max_rows=2, max_bytes=10**6, max_triples=2)
    try:
        with pytest.raises(ResultTooLarge, match="more than 2 rows"):
            pool.execute("SELECT * { ?s ?p ?o }", JSON, TURTLE)
        with pytest.raises(ResultTooLarge, match="more than 2 triples"):
            pool.execute("CONSTRUCT WHERE { ?s ?p ?o }", JSON, TURTLE)
        assert pool.execute("SELECT * { ?s ?p ?o } LIMIT 2", JSON, TURTLE).meta == {"rows": 2}
    finally:
        pool.close()


def test_missing_store_is_a_503(tmp_path: Path) -> None:
    pool = QueryExecutor(str(tmp_path / "nowhere"), workers=1, timeout=10, max_rows=2, max_bytes=10**6)
    try:
        with pytest.raises(StoreUnavailable, match="build"):
            pool.execute("ASK {}", JSON, TURTLE)
    finally:
        pool.close()


def test_close_reaps_every_worker(protocol_store_path: str) -> None:
    pool = QueryExecutor(protocol_store_path, workers=2, timeout=10, max_rows=2, max_bytes=10**6)
    pool.execute("ASK {}", JSON, TURTLE)
    pids = pool.pids()
    pool.close()
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)  # gone, not even zombies
    with pytest.raises(StoreUnavailable):
        pool.execute("ASK {}", JSON, TURTLE)


def test_close_during_a_query_leaves_nothing_behind(protocol_store_path: str) -> None:
    pool = QueryExecutor(protocol_store_path, workers=1, timeout=30, max_rows=2, max_bytes=10**6)
    pool.execute("ASK {}", JSON, TURTLE)
    pids = pool.pids()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            pool.execute(RUNAWAY, JSON, TURTLE)
        except StoreUnavailable as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    pool.close()
    thread.join(timeout=5)
    assert not thread.is_alive() and len(outcome) == 1
    assert pool.pids() == [] and not any(alive(pid) for pid in pids)
    assert all(state != "Z" for state in _children_states())


def _children_states() -> list[str]:
    states = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == os.getpid():
            states.append(fields[0])
    return states


def test_workers_leave_with_a_killed_parent(protocol_store_path: str) -> None:
    script = ("import sys, time\nfrom service.store.executor import QueryExecutor\n"
              f"p = QueryExecutor({protocol_store_path!r}, workers=2, timeout=60, max_rows=9, max_bytes=9999)\n"
              "p.execute('ASK {}', 'application/sparql-results+json', 'text/turtle')\n"
              "print(*p.pids(), flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids)


def _median_ms(client: Any, n: int = 200) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        assert client.get("/sparql?query=ASK%20%7B%7D").status_code == 200
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def test_executor_overhead_is_small(make_app: Callable[..., Flask]) -> None:
    """A cheap query through the pool costs a round trip, not a process start (~100 ms+)."""
    inproc, pooled = make_app().test_client(), make_app(QUERY_WORKERS=1).test_client()
    _median_ms(inproc, 20), _median_ms(pooled, 20)  # warm up: store, grammar, worker start
    overhead = _median_ms(pooled) - _median_ms(inproc)
    assert overhead < 20, f"executor overhead {overhead:.1f} ms"
