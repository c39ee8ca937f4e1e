"""Realistic traffic for the load test and the soak: keep-alive clients and a mix of targets."""

from __future__ import annotations

import http.client
import statistics
import threading
from urllib.parse import quote

from tests.hardening.harness import Server

__all__ = ["ECO", "cheap_queries", "Client", "p99", "targets", "warm"]

ECO = "http://kg.test/def/eco#"


def cheap_queries(base: str) -> list[str]:
    eco = f"{base}def/eco#"
    return ["ASK { ?s ?p ?o }", f"SELECT ?c {{ ?c a <{eco}Departement> }} LIMIT 10",
            f"SELECT (COUNT(*) AS ?n) {{ ?c a <{eco}Intercommunality> }}"]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else max(values)


class Client:
    """One keep-alive HTTP client with its own forwarded address (loopback is a trusted proxy)."""

    def __init__(self, port: int, address: str, timeout: float = 30) -> None:
        self.port, self.address, self.timeout = port, address, timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> int:
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile is retried once
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path, headers={"X-Forwarded-For": self.address, "Accept-Encoding": "gzip"})
                resp = self.conn.getresponse()
                resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                return resp.status
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def targets(server: Server, base: str = "http://kg.test/") -> list[tuple[str, str]]:
    """Pages (HTML, redirects, Turtle), named queries and cheap SPARQL about 30 communes."""
    rows = server.sparql(f"SELECT ?c {{ ?c a <{base}def/eco#Commune> }} ORDER BY ?c LIMIT 30",
                         Accept="application/sparql-results+json").json()["results"]["bindings"]
    paths = [row["c"]["value"].removeprefix(f"{base}id/") for row in rows]
    cheap = cheap_queries(base)
    assert len(paths) == 30
    targets: list[tuple[str, str]] = []
    for i, path in enumerate(paths):
        targets += [("page", f"/page/{path}"), ("page", f"/id/{path}"), ("page", f"/data/{path}.ttl"),
                    ("page", f"/page/{path}?lang=fr")]
        query = "territory-breadcrumbs?place=" if i % 2 else "statements-about?resource="
        targets.append(("api", f"/api/queries/{query}{quote(path, safe='')}"))
        if i % 5 == 0:
            targets.append(("api", "/api/queries/counts-per-class?format=csv"))
        targets.append(("sparql", "/sparql?query=" + quote(cheap[i % len(cheap)])))
    return targets


def warm(server: Server, targets: list[tuple[str, str]]) -> None:
    """Each target once per server process (caches fill as they would after a minute of traffic)."""
    def visit(part: list[tuple[str, str]], n: int) -> None:
        client = Client(server.port, f"10.9.0.{n}")
        for _, path in part:
            client.get(path)
        client.close()

    threads = [threading.Thread(target=visit, args=(targets[n % 4::4], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
