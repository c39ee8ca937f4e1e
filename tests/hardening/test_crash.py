"""hardening.md 4.3 with updates on: kill -9 (F1–F3), SIGTERM (F7) and a second instance (F5).

Every crash is real: ``SIGKILL`` to the writer child, or to the whole server's process group,
while a 50,000-triple ``INSERT DATA`` or a 30,000-triple Graph Store ``PUT`` (a bulk load)
is in flight, at offsets spread over the write's measured duration. Afterwards the store
must open (the same server goes on, or a new server starts on it), each write must be
entirely present or entirely absent (its triple count and its marker triple agree), and
every write acknowledged with a 2xx before the crash must be there.

Durability as tested: a *process* crash (``kill -9``; the kernel's page cache survives).
RocksDB writes its log on every commit without ``fsync``, so a power loss may lose the last
acknowledged writes (never half of one): see README "Limits and security".
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.harness import KG, Reply, Server, free_port
from tests.hardening.writes import (AUTH, Writes, big_insert, big_ntriples, kill_group, seed_store, write_settings,
                                    writer_pid)

N = 50_000  # triples of the big update
BULK = 30_000  # triples of the bulk upload
CAP = 20_000_000  # KG_UPDATE_MAX_BYTES for these servers
XSD = "http://www.w3.org/2001/XMLSchema#"


_STARTED: list[Server] = []


def start(store: str, log: Path, *, per_test: bool = True) -> Writes:
    """A server with updates on over ``store``, its store open; stopped after the test if ``per_test``."""
    server = Server(write_settings(store, UPDATE_MAX_BYTES=CAP), log, workers=1)
    if per_test:
        _STARTED.append(server)
    writes = Writes(server)
    writes.open()
    return writes


@pytest.fixture(autouse=True)
def _stop_servers() -> Iterator[None]:
    """Stop every server a test started, even when it fails half-way (stop() is idempotent)."""
    yield
    while _STARTED:
        _STARTED.pop().stop()


def in_background(action: Callable[[], Reply]) -> tuple[threading.Thread, dict[str, Reply]]:
    out: dict[str, Reply] = {}
    thread = threading.Thread(target=lambda: out.setdefault("reply", action()))
    thread.start()
    return thread, out


def big_write(writes: Writes, kind: str, graph: str) -> Callable[[], Reply]:
    """The interrupted write: ``update`` (INSERT DATA of N + marker) or ``bulk`` (PUT of BULK triples)."""
    if kind == "update":
        text = big_insert(graph, N)
        return lambda: writes.update(text, timeout=120)
    body = big_ntriples(graph, BULK) + f'<{graph}#marker> <urn:done> "true"^^<{XSD}boolean> .\n'.encode()
    return lambda: writes.graph_store("PUT", f"?graph={graph}", body, "application/n-triples", timeout=120)


def expected_size(kind: str) -> int:
    return (N if kind == "update" else BULK) + 1


def whole_or_nothing(writes: Writes, kind: str, graph: str, reply: Reply | None) -> bool:
    """Assert the write is entirely present or absent (present if acknowledged); return whether present."""
    count = writes.count(graph)
    marker = writes.ask(f"ASK {{ GRAPH <{graph}> {{ <{graph}#marker> <urn:done> true }} }}")
    assert count in (0, expected_size(kind)), (graph, count)
    assert marker == (count > 0), (graph, count, marker)
    if reply is not None and 200 <= reply.status < 300:
        assert count > 0, f"{graph}: acknowledged ({reply.status}) but lost"
    return count > 0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Writes]:
    directory = tmp_path_factory.mktemp("crash")
    writes = start(seed_store(directory / "store"), directory / "live.log", per_test=False)
    yield writes
    writes.server.stop()


def timed(writes: Writes, kind: str, graph: str) -> float:
    """Run one uninterrupted write of ``kind`` (it must succeed) and return its duration."""
    reply = big_write(writes, kind, graph)()
    assert 200 <= reply.status < 300, reply
    assert whole_or_nothing(writes, kind, graph, reply)
    return reply.seconds


@pytest.mark.parametrize("kind", ["update", "bulk"])
def test_F1_F2_kill_the_writer_mid_write(live: Writes, kind: str) -> None:
    """SIGKILL of the writer child: the client gets a 503, the write is whole or absent, a new
    writer takes over, and every acknowledged write is still there."""
    duration = timed(live, kind, f"urn:{kind}-reference")
    outcomes = []
    for k, fraction in enumerate((0.2, 0.45, 0.7, 0.95)):
        graph = f"urn:{kind}-killed-{k}"
        victim = writer_pid(live.server)
        thread, out = in_background(big_write(live, kind, graph))
        time.sleep(duration * fraction)
        os.kill(victim, signal.SIGKILL)
        thread.join(timeout=120)
        reply = out["reply"]
        assert reply.status in (201, 204, 503), reply
        present = whole_or_nothing(live, kind, graph, reply)
        outcomes.append((round(duration * fraction, 2), reply.status, present))
        if reply.status == 503:
            assert "died" in reply.text and "Traceback" not in reply.text, reply.text
        else:  # the kill landed after the acknowledgement: the idle writer is replaced by the next write
            assert live.update(f"INSERT DATA {{ GRAPH <urn:{kind}-revive-{k}> {{ <urn:s> <urn:p> 1 }} }}").status == 204
    print(f"\n{kind}: {duration:.2f} s uninterrupted; (kill at s, status, present): {outcomes}")
    assert any(status == 503 and not present for _, status, present in outcomes), \
        f"no kill landed inside a write: {outcomes}"
    assert whole_or_nothing(live, kind, f"urn:{kind}-reference", None)  # acknowledged before: kept
    after = live.update("INSERT DATA { GRAPH <urn:after-kill> { <urn:s> <urn:p> 1 } }")
    assert after.status == 204, after
    live.server.health_within(1.0)
    assert "Traceback" not in live.server.log()


def test_F1_F2_F3_kill_the_whole_server(tmp_path: Path) -> None:
    """SIGKILL of every process of the server (master, worker, writer, query workers) during a
    write, and right after an acknowledgement; restart on the same store each time."""
    store = seed_store(tmp_path / "store")
    acked: list[str] = []
    outcomes: list[Any] = []
    plan = [("update", 0.7), ("bulk", 1.0), ("update", None)]  # seconds into the write; None: right after an ack (F3)
    for run, (kind, delay) in enumerate(plan):
        writes = start(store, tmp_path / f"run{run}.log")
        for graph in acked:  # every earlier acknowledged write survived the previous crash
            assert writes.ask(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"), f"{graph} lost"
        for earlier_kind, graph, reply in outcomes:
            whole_or_nothing(writes, earlier_kind, graph, reply)
        for i in range(5):
            graph = f"urn:acked-{run}-{i}"
            reply = writes.update(f"INSERT DATA {{ GRAPH <{graph}> {{ <urn:s> <urn:p> {i} }} }}")
            assert reply.status == 204, reply
            acked.append(graph)
        if delay is None:
            kill_group(writes.server)  # at once after the last 204
            continue
        graph = f"urn:{kind}-crash-{run}"
        thread, out = in_background(big_write(writes, kind, graph))
        time.sleep(delay)  # about half of the write here (1.5 s / 2.5 s uninterrupted, see the test above)
        kill_group(writes.server)
        thread.join(timeout=60)
        assert out["reply"].status in (0, 201, 204), out["reply"]  # 0: the connection died with the server
        outcomes.append((kind, graph, out["reply"]))
    writes = start(store, tmp_path / "final.log")
    try:
        for graph in acked:
            assert writes.ask(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"), f"{graph} lost"
        present = [whole_or_nothing(writes, kind, graph, reply) for kind, graph, reply in outcomes]
        print(f"\nwhole-server kills: {[(k, g, r.status, p) for (k, g, r), p in zip(outcomes, present)]}")
        assert writes.update("INSERT DATA { GRAPH <urn:after> { <urn:s> <urn:p> 1 } }").status == 204
    finally:
        writes.server.stop()


def test_F7_sigterm_during_a_write_drains_it(tmp_path: Path) -> None:
    """SIGTERM to the process group (systemd, docker stop) while a write runs: it completes and is
    acknowledged, or it is neither applied nor acknowledged; the server exits 0; data survives."""
    kind = "update"
    store = seed_store(tmp_path / "store")
    writes = start(store, tmp_path / "drain.log")
    duration = timed(writes, kind, "urn:before-term")
    graph = f"urn:{kind}-during-term"
    thread, out = in_background(big_write(writes, kind, graph))
    time.sleep(duration * 0.4)
    os.killpg(writes.server.proc.pid, signal.SIGTERM)
    thread.join(timeout=60)
    code = writes.server.proc.wait(timeout=60)
    writes.server.stop()
    reply = out["reply"]
    assert code == 0, writes.server.log()[-2000:]
    assert "Traceback" not in writes.server.log()
    after = start(store, tmp_path / "after.log")
    try:
        present = whole_or_nothing(after, kind, graph, reply)
        assert present == (200 <= reply.status < 300), (reply, present)  # never applied without the ack
        assert whole_or_nothing(after, kind, "urn:before-term", None)
        print(f"\nSIGTERM at {duration * 0.4:.2f} s of {duration:.2f} s: {reply.status}, present={present}")
    finally:
        after.server.stop()


def test_F5_second_instance_fails_fast(live: Writes) -> None:
    """A second server with updates on over the same store exits at once (status 1) naming the
    store and the process holding it; the first one keeps serving reads and writes, and its
    store directory gains no log files from the attempt."""
    store = live.server.settings["STORE_PATH"]
    holder = writer_pid(live.server)
    logs_before = sorted(p.name for p in Path(store).glob("LOG*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env.update({f"KG_{k}": str(v) for k, v in live.server.settings.items()})
    started = time.monotonic()
    second = subprocess.run([str(KG), "serve", "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "1"],
                            env=env, capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - started
    assert second.returncode == 1, (second.returncode, second.stderr[-2000:])
    message = second.stderr.strip().splitlines()[-1]
    assert message.startswith("Cannot start: The store ") and store in message and "locked" in message, message
    assert f"pid {holder}: " in message and "service.store.writer" in message, message
    assert "child of pid" in message and "territory-kg serve" in message, message  # the server it belongs to
    assert "Traceback" not in second.stderr and "Listening at" not in second.stderr
    assert seconds < 20, seconds  # interpreter start-up plus a 3 s wait for a predecessor that is exiting
    print(f"\nsecond instance refused in {seconds:.1f} s: {message}")
    assert sorted(p.name for p in Path(store).glob("LOG*")) == logs_before
    assert live.update("INSERT DATA { GRAPH <urn:f5> { <urn:s> <urn:p> 1 } }").status == 204
    assert live.ask("ASK { GRAPH <urn:f5> { <urn:s> <urn:p> 1 } }")
    assert live.graph_store("GET", "?graph=urn:f5", headers={**AUTH, "Accept": "text/turtle"}).status == 200
