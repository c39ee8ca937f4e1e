"""hardening.md X1–X2: the remote backend when its engine fails, through the real server.

``remote_server`` runs the service with ``KG_BACKEND=remote`` against :class:`FakeEngine`
(1 s to connect, 2 s to read, 1 MB answers). For each failure mode the SPARQL endpoint, a
page and a named query must answer with the documented status quickly, say nothing of the
engine's internals, and leave the server answering ``/health`` within a second; the engine
must not be hammered with retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.hardening.fakes import FakeEngine
from tests.hardening.harness import Guards, Server, assert_harmless

INTERNALS = ["db-internal.corp", "10.20.30.40", "8890", "SPARQL query:", "define input"]
# mode → (allowed statuses, seconds allowed, words in the body)
MODES = {
    "down": ((502,), 3.0, "reach"),
    "silent": ((504,), 5.0, "did not answer"),
    "drip": ((504,), 5.0, "did not answer"),
    "partial-time": ((504,), 2.0, "incomplete"),
    "partial-rows": ((502,), 2.0, "incomplete"),
    "huge": ((502,), 4.0, "exceeds"),
    "error400": ((400,), 2.0, "syntax error"),
    "xmlbomb": ((502,), 2.0, "unusable"),
}
PATHS = {"sparql": "/sparql?query=SELECT%20*%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D%20LIMIT%201",
         "page": "/page/commune/59350",
         "api": "/api/queries/counts-per-class"}


@pytest.fixture()
def engine(fake_engine: FakeEngine) -> Iterator[FakeEngine]:
    yield fake_engine
    fake_engine.set_mode("ok")


@pytest.mark.parametrize("mode", sorted(MODES))
def test_remote_engine_failure(mode: str, engine: FakeEngine, remote_server: Server,
                               guard: Callable[[Server], Guards]) -> None:
    statuses, seconds, words = MODES[mode]
    guards = guard(remote_server)
    engine.set_mode(mode)
    replies = []
    for where, path in PATHS.items():
        reply = remote_server.request("GET", path, timeout=30)
        replies.append(reply)
        if where == "sparql" or mode not in ("error400",):
            assert reply.status in statuses, (where, reply)
        else:  # the engine's "syntax error" to a query of ours is the engine failing: still no 500
            assert reply.status in (400, 502), (where, reply)
        assert reply.seconds < seconds, (where, reply.seconds)
        if where == "sparql":
            assert words in reply.text, reply.text
        assert engine.connections <= 2 * len(replies), f"{engine.connections} connections: retries?"
    assert_harmless(guards, *replies, extra_leaks=INTERNALS)


def test_recovers_when_the_engine_comes_back(engine: FakeEngine, remote_server: Server) -> None:
    engine.set_mode("down")
    assert remote_server.request("GET", PATHS["sparql"]).status == 502
    engine.set_mode("ok")
    reply = remote_server.request("GET", PATHS["sparql"])
    assert reply.status == 200 and reply.json()["results"]["bindings"] == [], reply
