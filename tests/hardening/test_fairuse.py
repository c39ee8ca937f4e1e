"""Per-client fair use (service/web/fairuse.py): unit tests, the app hook, and a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import ConfigError, make_config
from service.errors import TooManyRequests
from service.web.fairuse import MIN_CHARGE, FairUse, client_address
from tests.hardening.conftest import kg_settings
from tests.hardening.harness import Server

SLOW = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- unit -------------------------------------------------------------------------------------------------


def test_concurrency_limit_is_per_client() -> None:
    fair = FairUse(max_concurrent=2, budget=0, window=60)
    fair.admit("a")
    fair.admit("a")
    with pytest.raises(TooManyRequests) as refused:
        fair.admit("a")
    assert refused.value.retry_after == 1 and refused.value.status == 429
    fair.admit("b")  # another client is not affected
    fair.release("a", 0.1)
    fair.admit("a")


def test_time_budget_drains_and_says_when_to_retry() -> None:
    clock = Clock()
    fair = FairUse(max_concurrent=0, budget=6, window=60, clock=clock)  # 0.1 s of credit per second
    fair.admit("a")
    fair.release("a", 7.0)
    with pytest.raises(TooManyRequests) as refused:
        fair.admit("a")
    assert refused.value.retry_after == 10  # 1 s over budget at 0.1 s/s
    clock.now += 9
    with pytest.raises(TooManyRequests):
        fair.admit("a")
    clock.now += 1.01
    fair.admit("a")
    assert fair.usage("a")[0] == 1


def test_cheap_requests_are_charged_too() -> None:
    clock = Clock()
    fair = FairUse(max_concurrent=0, budget=1, window=1000, clock=clock)
    for _ in range(int(1 / MIN_CHARGE)):
        fair.admit("a")
        fair.release("a", 0.0)
    with pytest.raises(TooManyRequests):
        fair.admit("a")


def test_disabled_limits_never_refuse() -> None:
    fair = FairUse(max_concurrent=0, budget=0, window=60)
    for _ in range(1000):
        fair.admit("a")
    assert fair.usage("a") == (1000, 0.0)


@pytest.mark.parametrize(("peer", "header", "trusted", "client"), [
    ("203.0.113.9", "198.51.100.1", (), "203.0.113.9"),  # no proxy configured: the header is ignored
    ("203.0.113.9", "198.51.100.1", ("127.0.0.1",), "203.0.113.9"),  # not from the proxy: ignored
    ("127.0.0.1", "198.51.100.1", ("127.0.0.1",), "198.51.100.1"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.1", ("127.0.0.1",), "198.51.100.1"),  # the client's own header is not believed
    ("127.0.0.1", "198.51.100.1, 10.0.0.2", ("127.0.0.1", "10.0.0.2"), "198.51.100.1"),  # two proxies
    ("127.0.0.1", "", ("127.0.0.1",), "127.0.0.1"),
    ("127.0.0.1", "garbage", ("127.0.0.1",), "127.0.0.1"),
    ("::1", "2001:db8::7", ("::1",), "2001:db8::7"),
])
def test_client_address(peer: str, header: str, trusted: tuple[str, ...], client: str) -> None:
    assert client_address(peer, header, trusted) == client


@pytest.mark.parametrize(("key", "value"), [("FAIRUSE_MAX_CONCURRENT", -1), ("FAIRUSE_TIME_BUDGET", "lots"),
                                            ("FAIRUSE_WINDOW", 0), ("FAIRUSE_TRUSTED_PROXIES", "proxy.lan"),
                                            ("FAIRUSE_EXEMPT", "10.0.0.300"), ("QUERY_MAX_MEMORY_MB", -5)])
def test_bad_settings_are_refused(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"KG_{key}"):
        make_config({key: value})


def test_defaults_spare_loopback_and_are_generous() -> None:
    cfg = make_config()
    assert cfg["FAIRUSE_EXEMPT"] == ("127.0.0.1", "::1") and cfg["FAIRUSE_TRUSTED_PROXIES"] == ()
    assert cfg["FAIRUSE_MAX_CONCURRENT"] >= 6  # a browser opens about six connections per host
    assert cfg["FAIRUSE_TIME_BUDGET"] >= cfg["FAIRUSE_WINDOW"]


# --- the app hook -----------------------------------------------------------------------------------------


def test_app_answers_429_with_retry_after(tmp_path: Path) -> None:
    from service import create_app

    app = create_app({"TESTING": True, "QUERY_WORKERS": 0, "STORE_PATH": str(tmp_path / "none"),
                      "FAIRUSE_TIME_BUDGET": 1, "FAIRUSE_WINDOW": 60, "FAIRUSE_EXEMPT": ""})
    fair = app.extensions["kg_fairuse"]
    fair.admit("192.0.2.5")
    fair.release("192.0.2.5", 5.0)
    client = app.test_client()
    env = {"REMOTE_ADDR": "192.0.2.5"}
    api = client.get("/api/queries", environ_base=env)
    assert api.status_code == 429 and api.headers["Retry-After"] == "240"
    assert api.mimetype == "application/problem+json" and api.json["code"] == "too-many-requests"
    page = client.get("/", environ_base=env)
    assert page.status_code == 429 and page.mimetype == "text/plain" and page.headers["Retry-After"] == "240"
    assert client.get("/health", environ_base=env).status_code == 200  # never limited
    assert client.get("/api/queries", environ_base={"REMOTE_ADDR": "192.0.2.6"}).status_code == 200


def test_app_without_limits_has_no_hook(tmp_path: Path) -> None:
    from service import create_app

    app = create_app({"TESTING": True, "QUERY_WORKERS": 0, "STORE_PATH": str(tmp_path / "none"),
                      "FAIRUSE_TIME_BUDGET": 0, "FAIRUSE_MAX_CONCURRENT": 0})
    assert "kg_fairuse" not in app.extensions


# --- live ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fair_server(built_kg: Any, kg_config: dict[str, Any], hardening_dir: Path) -> Iterator[Server]:
    """One gunicorn worker (the accounting is per process), loopback as a trusted proxy, nobody exempt."""
    server = Server(kg_settings(kg_config, QUERY_WORKERS=3, QUERY_TIMEOUT=2, FAIRUSE_MAX_CONCURRENT=2,
                                FAIRUSE_TIME_BUDGET=3, FAIRUSE_WINDOW=30, FAIRUSE_TRUSTED_PROXIES="127.0.0.1",
                                FAIRUSE_EXEMPT=""),
                    hardening_dir / "fair-server.log", workers=1)
    yield server
    server.stop()


def test_live_concurrency_and_budget_per_client(fair_server: Server) -> None:
    alice, bob = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    assert fair_server.sparql("ASK {}", **bob).status == 200
    slow: list[Any] = []
    threads = [threading.Thread(target=lambda: slow.append(fair_server.sparql(SLOW, **alice))) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    third = fair_server.sparql("ASK {}", **alice)
    assert third.status == 429 and third.header("Retry-After") == "1", third
    assert "in progress" in third.text
    other = fair_server.sparql("ASK {}", **bob)
    assert other.status == 200, other  # another client is served meanwhile
    for thread in threads:
        thread.join()
    assert [r.status for r in slow] == [503, 503]
    over = fair_server.sparql("ASK {}", **alice)  # 2 × 2 s used: over the 3 s budget
    assert over.status == 429 and int(over.header("Retry-After")) >= 1, over
    assert "request time" in over.text
    assert fair_server.sparql("ASK {}", **bob).status == 200
    assert fair_server.request("GET", "/health", headers=alice).status == 200
    forged = fair_server.sparql("ASK {}", **{"X-Forwarded-For": "198.51.100.1, 198.51.100.3"})
    assert forged.status == 200  # the right-most address the proxy saw is the client: 198.51.100.3
