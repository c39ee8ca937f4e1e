"""hardening.md L1–L3: hostile literals and IRIs in the data, rendered by the real server.

The ``hostile_server`` store (see ``conftest.py``) holds ``<script>`` literals, an ``rdf:HTML``
literal, ``javascript:``/``data:``/``vbscript:`` IRIs, a 5 MB literal, RTL-override and
zero-width characters, and a resource with 10,000 values on one property. Pages must show
them as text (escaped), never as markup or clickable script URLs, stay small, and a real
browser (Debian's Chromium) must see no script run.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.hardening.harness import Guards, Server, assert_harmless

PAGE = "/page/organization/x"
SCRIPT_SCHEMES = ("javascript:", "data:", "vbscript:")


def test_hostile_literals_are_text_and_script_iris_unclickable(hostile_server: Server,
                                                                guard: Callable[[Server], Guards]) -> None:
    """L1 + L2."""
    guards = guard(hostile_server)
    reply = hostile_server.request("GET", PAGE, headers={"Accept": "text/html"})
    assert reply.status == 200
    body = reply.text
    for markup in ("<script>alert", "<img src=x", "<b onmouseover", "</script><script>alert(2)"):
        assert markup not in body, markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;b onmouseover=alert(3)&gt;" in body  # rdf:HTML shown as escaped source
    hrefs = re.findall(r'(?:href|src|action)\s*=\s*"([^"]*)"', body, re.I)
    assert hrefs and not [h for h in hrefs if h.strip().lower().startswith(SCRIPT_SCHEMES)], hrefs
    assert "javascript:alert(4)" in body and "JaVaScRiPt:alert(5)" in body  # shown as text
    assert 'href="https://example.org/ok"' in body
    csp = reply.header("Content-Security-Policy")
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert_harmless(guards, reply)


def test_huge_literals_long_lists_and_bidi_stay_bounded(hostile_server: Server,
                                                        guard: Callable[[Server], Guards]) -> None:
    """L3: a 5 MB literal is cut, 10,000 values are paged, bidi overrides are isolated."""
    guards = guard(hostile_server)
    page = hostile_server.request("GET", PAGE)
    assert page.status == 200 and len(page.body) < 300_000, len(page.body)
    assert "A" * 400 + "…" in page.text and "A" * 20_000 not in page.text
    assert "<bdi>\u202eevil\u202c and zero\u200bwidth</bdi>" in page.text
    many = hostile_server.request("GET", "/page/organization/many")
    assert many.status == 200 and len(many.body) < 300_000, len(many.body)
    assert "value 9999" not in many.text or "value 0" not in many.text  # paged, not all at once
    assert 'rel="next"' in many.text
    last = hostile_server.request("GET", "/page/organization/many?out_page=200")
    assert last.status == 200 and len(last.body) < 300_000
    rdf = hostile_server.request("GET", "/data/organization/many.ttl")
    assert rdf.status == 200 and len(rdf.body) < 1_000_000, len(rdf.body)
    assert page.seconds < 5 and many.seconds < 5
    assert_harmless(guards, page, many, last, rdf)


def test_no_script_runs_in_a_real_browser(hostile_server: Server) -> None:
    """L1: Chromium opens the hostile page: no dialog, no script error, and clicking every link
    goes nowhere near a script URL."""
    from tests.e2e.browser import browser_context

    dialogs: list[str] = []
    with browser_context() as context:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(hostile_server.url + PAGE)
        page.wait_for_load_state("load")
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        assert hrefs and not [h for h in hrefs if h.lower().startswith(SCRIPT_SCHEMES)], hrefs
        texts = page.inner_text("body")
        assert "<script>alert(1)</script>" in texts  # the literal is visible as text
    assert dialogs == [], dialogs
