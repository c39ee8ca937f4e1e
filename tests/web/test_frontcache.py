"""The front cache (service/web/frontcache.py): whole page answers replayed before Flask.

The real graph for "a replay is the answer Flask gives" (compared with an app without the
front cache); a counting WSGI app for the rules (what is kept, what is bypassed, when
everything is dropped).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from service import create_app
from service.web.frontcache import FLAG, FrontCache

PAGE = "/page/commune/59350"
VARIANTS: list[tuple[str, dict[str, str]]] = [
    (PAGE, {"Accept": "text/html"}),
    (PAGE, {"Accept": "text/html", "Accept-Language": "fr"}),
    (PAGE, {"Accept": "text/html", "Accept-Encoding": "gzip"}),
    (PAGE + "?fig_page=2", {"Accept": "text/html"}),
    ("/data/commune/59350", {"Accept": "text/turtle"}),
    ("/data/commune/59350.jsonld", {}),
    ("/data/commune/59350", {"Accept": "application/n-triples", "Accept-Encoding": "gzip"}),
    ("/page/industry/technical-textiles", {"Accept": "text/html", "Cookie": "lang=en"}),
]


@pytest.fixture(scope="module")
def apps(kg_config: dict[str, Any], built_kg: Any) -> tuple[Any, Any]:
    """(with the front cache, without it: page cache off too, so every answer is made afresh)."""
    return create_app(dict(kg_config)), create_app({**kg_config, "PAGES_CACHE_BYTES": 0})


def _headers(resp: Any) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in resp.headers.items() if k != "X-Cache")


@pytest.mark.parametrize(("path", "headers"), VARIANTS)
def test_a_replay_is_the_answer_flask_gives(apps: tuple[Any, Any], path: str, headers: dict[str, str]) -> None:
    cached, plain = apps[0].test_client(), apps[1].test_client()
    first, second = cached.get(path, headers=headers), cached.get(path, headers=headers)
    reference = plain.get(path, headers=headers)
    assert first.status_code == second.status_code == reference.status_code == 200
    assert second.headers.get("X-Cache") == "hit"
    assert "X-Cache" not in reference.headers
    assert first.data == second.data == reference.data
    assert _headers(first) == _headers(second) == _headers(reference)


def test_variants_never_answer_for_each_other(apps: tuple[Any, Any]) -> None:
    client = apps[0].test_client()
    bodies = {}
    for _ in range(2):
        for path, headers in VARIANTS:
            resp = client.get(path, headers=headers)
            bodies.setdefault((path, tuple(headers.items())), set()).add((resp.data, resp.headers["Content-Type"]))
    assert all(len(seen) == 1 for seen in bodies.values())
    assert len({next(iter(seen)) for seen in bodies.values()}) == len(VARIANTS)
    en = client.get(PAGE, headers={"Accept": "text/html", "Accept-Language": "en"})
    fr = client.get(PAGE, headers={"Accept": "text/html", "Accept-Language": "fr"})
    assert b'lang="en"' in en.data and b'lang="fr"' in fr.data


def test_conditional_requests_get_their_304(apps: tuple[Any, Any]) -> None:
    client = apps[0].test_client()
    first = client.get(PAGE, headers={"Accept": "text/html"})
    client.get(PAGE, headers={"Accept": "text/html"})
    again = client.get(PAGE, headers={"Accept": "text/html", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_an_answer_setting_the_language_cookie_is_not_replayed(apps: tuple[Any, Any]) -> None:
    client = apps[0].test_client(use_cookies=False)
    for _ in range(2):
        resp = client.get(PAGE + "?lang=fr", headers={"Accept": "text/html"})
        assert resp.status_code == 200 and "lang=fr" in resp.headers["Set-Cookie"]
        assert "X-Cache" not in resp.headers


def test_unknown_resources_are_not_replayed(apps: tuple[Any, Any]) -> None:
    client = apps[0].test_client()
    for _ in range(2):
        resp = client.get("/page/commune/00000", headers={"Accept": "text/html"})
        assert resp.status_code == 404 and "X-Cache" not in resp.headers


def test_fair_use_charges_replays(kg_config: dict[str, Any], built_kg: Any) -> None:
    """A client out of budget gets its 429 even for a page the cache holds."""
    app = create_app({**kg_config, "FAIRUSE_EXEMPT": "127.0.0.1", "FAIRUSE_TIME_BUDGET": 0.02,
                      "FAIRUSE_WINDOW": 3600})
    client = app.test_client()
    assert client.get(PAGE, headers={"Accept": "text/html"}).status_code == 200  # exempt: fills the cache
    seen = [client.get(PAGE, headers={"Accept": "text/html"}, environ_base={"REMOTE_ADDR": "192.0.2.7"})
            for _ in range(40)]
    statuses = [r.status_code for r in seen]
    assert statuses[0] == 200 and seen[0].headers.get("X-Cache") == "hit", statuses
    assert statuses[-1] == 429 and "Retry-After" in seen[-1].headers, statuses  # each replay charged 2 ms


def test_only_the_embedded_backend_with_a_page_cache_gets_it(kg_config: dict[str, Any], built_kg: Any) -> None:
    assert isinstance(create_app(dict(kg_config)).wsgi_app, FrontCache)
    assert not isinstance(create_app({**kg_config, "PAGES_CACHE_BYTES": 0}).wsgi_app, FrontCache)
    remote = {**kg_config, "BACKEND": "remote", "SPARQL_URL": "http://127.0.0.1:9/sparql"}
    assert not isinstance(create_app(remote).wsgi_app, FrontCache)


# --- the rules, on a counting WSGI app -------------------------------------------------------


class Counting:
    """A WSGI app answering ``body`` with ``headers``, marking its answers, counting calls."""

    def __init__(self, status: str = "200 OK", headers: list[tuple[str, str]] | None = None,
                 mark: bool = True) -> None:
        self.calls, self.status, self.mark = 0, status, mark
        self.headers = headers if headers is not None else [("Cache-Control", "public, max-age=300")]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        if self.mark:
            environ[FLAG] = True
        start_response(self.status, list(self.headers))
        return [b"answer %d" % self.calls]


def _get(app: Any, path: str = "/page/x", method: str = "GET", **headers: str) -> tuple[str, dict[str, str], bytes]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "wsgi.input": io.BytesIO(),
               "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "192.0.2.1",
               **{"HTTP_" + k.upper(): v for k, v in headers.items()}}
    seen: list[Any] = []
    body = b"".join(app(environ, lambda status, hdrs, exc=None: seen.extend([status, dict(hdrs)])))
    return seen[0], seen[1], body


def test_kept_then_replayed_until_the_version_changes() -> None:
    inner, version = Counting(), [1]
    front = FrontCache(inner, limit=1000, stamp=lambda: version[0])
    assert _get(front)[2] == b"answer 1"
    status, headers, body = _get(front)
    assert (status, body, headers["X-Cache"], inner.calls) == ("200 OK", b"answer 1", "hit", 1)
    version[0] = 2  # a new build or a write
    assert _get(front)[2] == b"answer 2" and _get(front)[2] == b"answer 2" and inner.calls == 2


@pytest.mark.parametrize(("inner", "request_headers", "method"), [
    (Counting(mark=False), {}, "GET"),                                             # the view did not offer it
    (Counting(status="404 NOT FOUND"), {}, "GET"),                                 # not a 200
    (Counting(headers=[("Cache-Control", "public"), ("Set-Cookie", "lang=fr")]), {}, "GET"),
    (Counting(headers=[("Cache-Control", "private")]), {}, "GET"),
    (Counting(), {"If_None_Match": '"x"'}, "GET"),                                  # conditional: Flask decides
    (Counting(), {"Range": "bytes=0-1"}, "GET"),
    (Counting(), {"Cache_Control": "no-cache"}, "GET"),                             # a reload
    (Counting(), {}, "HEAD"),
    (Counting(), {}, "POST"),
])
def test_never_replayed(inner: Counting, request_headers: dict[str, str], method: str) -> None:
    front = FrontCache(inner, limit=1000, stamp=lambda: 1)
    bodies = [_get(front, method=method, **request_headers)[2] for _ in range(2)]
    assert bodies == [b"answer 1", b"answer 2"] and inner.calls == 2


def test_key_holds_every_header_the_answer_depends_on() -> None:
    inner = Counting()
    front = FrontCache(inner, limit=10_000, stamp=lambda: 1)
    variants = [{}, {"Accept": "text/turtle"}, {"Accept_Encoding": "gzip"}, {"Accept_Language": "fr"},
                {"Cookie": "lang=fr"}, {"Origin": "http://example.org"}, {"Host": "other.test"}]
    for variant in variants:
        _get(front, **variant)
    assert inner.calls == len(variants)
    for variant in variants:
        _get(front, **variant)
    assert inner.calls == len(variants)
    _get(front, path="/page/y")
    assert inner.calls == len(variants) + 1


def test_bounded_least_recently_used_out_first() -> None:
    inner = Counting()
    front = FrontCache(inner, limit=80, stamp=lambda: 1)  # bodies of 8-9 bytes: 8 fit
    for i in range(12):
        _get(front, path=f"/page/{i}")
    assert front.size <= 80
    calls = inner.calls
    _get(front, path="/page/11")
    assert inner.calls == calls  # recent: kept
    _get(front, path="/page/0")
    assert inner.calls == calls + 1  # oldest: evicted


def test_a_refused_client_goes_to_the_app() -> None:
    inner, released = Counting(), []
    allow = [True]

    def admit(environ: dict[str, Any]) -> Callable[[], None] | None:
        return (lambda: released.append(1)) if allow[0] else None

    front = FrontCache(inner, limit=1000, stamp=lambda: 1, admit=admit)
    _get(front)
    _get(front)
    assert inner.calls == 1 and released == [1]  # the replay was charged and released
    allow[0] = False
    _get(front)
    assert inner.calls == 2  # the app answers (with its 429, in the service)
