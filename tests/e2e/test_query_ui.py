"""The query UI as a person uses it: Debian's Chromium (headless, Playwright) on /sparql at 127.0.0.1.

The app serves the session's real graph (built under ``http://kg.test/``). Every request each
page makes is recorded, and none may leave 127.0.0.1: YASGUI, its styles, the prefixes and the
queries all come from this server. A missing Chromium or Playwright fails these tests.
"""

from __future__ import annotations

import csv
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import PageWatch  # noqa: E402

from service.catalogue import load_catalogue  # noqa: E402
from service.config import DEFAULTS  # noqa: E402

pytestmark = pytest.mark.slow

QUERIES = load_catalogue(DEFAULTS["QUERIES_DIR"], "http://kg.test/")
BREADCRUMBS = QUERIES.get("territory-breadcrumbs")
#: The places above Lille in the seed graph's official geography.
ABOVE_LILLE = ("France", "Hauts-de-France", "Nord", "Métropole Européenne de Lille")


class Traffic:
    """Every request the pages of a test make, and what went wrong in them."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.watch = PageWatch()

    def attach(self, page: Any) -> Any:
        page.on("request", lambda req: self.urls.append(req.url))
        self.watch.attach(page)
        return page

    def outside(self) -> list[str]:
        """Requests to anything but 127.0.0.1 (``blob:`` downloads and ``data:`` stay in the page)."""
        return [u for u in self.urls if urlsplit(u).scheme not in ("blob", "data")
                and urlsplit(u).hostname != "127.0.0.1"]


@pytest.fixture()
def traffic(context: Any) -> Iterator[Traffic]:
    seen = Traffic()
    yield seen
    for page in context.pages:
        page.close()


def open_ui(context: Any, traffic: Traffic, url: str) -> Any:
    page = traffic.attach(context.new_page())
    page.bring_to_front()  # a background tab gets no animation frames: YASR would not draw its table
    resp = page.goto(url, wait_until="networkidle")
    assert resp is not None and resp.status == 200, url
    page.wait_for_function("() => window.kgQueryUI !== undefined")
    return page


def tab_titles(page: Any) -> list[str]:
    return page.locator("#kg-queryui .tabsList .tab a").evaluate_all("els => els.map(e => e.title)")


def api_rows(base_url: str) -> list[dict[str, Any]]:
    url = f"{base_url}/api/queries/{BREADCRUMBS.name}?" + urlencode({**BREADCRUMBS.example, "format": "json"})
    with urllib.request.urlopen(url, timeout=30) as resp:
        return list(json.load(resp)["results"]["bindings"])


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_one_tab_per_curated_query(context: Any, traffic: Traffic, base_url: str, lang: str) -> None:
    page = open_ui(context, traffic, f"{base_url}/sparql?lang={lang}")
    titles = [" ".join(q.summary[lang].split()) for q in QUERIES]
    assert tab_titles(page) == titles
    first = next(iter(QUERIES))
    assert page.evaluate("() => window.kgQueryUI.getTab().getId()") == first.name
    assert page.evaluate("() => window.kgQueryUI.getTab().getQuery()").startswith(f"# {titles[0]}\n")
    assert page.locator(f"#{first.name} .CodeMirror").is_visible()
    assert traffic.outside() == [] and traffic.watch.problems == [], (traffic.outside(), traffic.watch.problems)


def test_run_download_and_share_a_curated_query(context: Any, traffic: Traffic, base_url: str) -> None:
    page = open_ui(context, traffic, f"{base_url}/sparql?lang=en")
    title = " ".join(BREADCRUMBS.summary["en"].split())
    page.locator(f'#kg-queryui .tabsList .tab a[title="{title}"]').click()
    panel = page.locator(f"#{BREADCRUMBS.name}")
    query = page.evaluate("() => window.kgQueryUI.getTab().getQuery()")
    assert "VALUES ($place) { (<http://kg.test/id/commune/59350>) }" in query
    panel.locator(".yasqe_queryButton").click()
    rows = panel.locator(".yasr tbody tr")
    expected = api_rows(base_url)
    assert len(expected) >= len(ABOVE_LILLE)
    rows.nth(len(expected) - 1).wait_for()
    assert rows.count() == len(expected)
    table = panel.locator(".yasr tbody").inner_text()
    for name in ABOVE_LILLE:
        assert name in table

    with page.expect_download() as download:
        panel.locator(".yasr_downloadIcon").click()
    assert download.value.suggested_filename.endswith(".csv")
    with open(download.value.path(), encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == len(expected)
    assert list(records[0]) == list(BREADCRUMBS.variables)
    assert {r["territoryLabel"] for r in records} >= set(ABOVE_LILLE)
    assert {r["territory"] for r in records} == {b["territory"]["value"] for b in expected}

    panel.locator(".yasr .select_response").click()
    with page.expect_download() as download:
        panel.locator(".yasr_downloadIcon").click()
    assert download.value.suggested_filename.endswith(".json")
    doc = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert doc["head"]["vars"] == list(BREADCRUMBS.variables) and len(doc["results"]["bindings"]) == len(expected)

    panel.locator(".yasqe_share").click()
    link = panel.locator(".yasqe_sharePopup input").input_value()
    assert link.startswith(f"{base_url}/sparql") and "#query=" in link
    shared = open_ui(context, traffic, link)
    assert shared.evaluate("() => window.kgQueryUI.getTab().getQuery()") == query
    assert shared.evaluate("() => window.kgQueryUI.getTab().getName()") == title
    assert len(tab_titles(shared)) == len(QUERIES) + 1  # the shared query, then the curated ones
    # The link runs its query and keeps the view it was shared from (the response), then the table.
    results = shared.locator(".tabPanel:visible .yasr")
    results.locator(".yasr_response_chip", has_text=f"{len(expected)} results").wait_for()
    assert results.locator(".select_response.selected").count() == 1
    results.locator(".select_table").click()
    results.locator("tbody tr").nth(len(expected) - 1).wait_for()
    assert results.locator("tbody tr").count() == len(expected)
    assert traffic.outside() == [], traffic.outside()
    assert traffic.watch.problems == [], traffic.watch.problems


def test_a_shared_link_always_queries_this_server(context: Any, traffic: Traffic, base_url: str) -> None:
    evil = "http://192.0.2.1:9/sparql"  # TEST-NET-1: never reached, the page must not even try
    link = f"{base_url}/sparql#" + urlencode({"query": "ASK {}", "endpoint": evil, "tabTitle": "ask",
                                             "headers": json.dumps({"Authorization": "x"}), "extra": "1"})
    page = open_ui(context, traffic, link)
    page.locator(".tabPanel:visible .yasr .yasr_response_chip").wait_for()
    assert page.evaluate("() => window.kgQueryUI.getTab().getEndpoint()") == f"{base_url}/sparql"
    assert "true" in page.locator(".tabPanel:visible .yasr").inner_text().lower()
    assert traffic.outside() == [], traffic.outside()


def test_a_new_tab_has_the_prefixes_and_runs(context: Any, traffic: Traffic, base_url: str) -> None:
    page = open_ui(context, traffic, f"{base_url}/sparql?lang=en")
    page.locator("#kg-queryui .tabsList .addTab").click()
    query = page.evaluate("() => window.kgQueryUI.getTab().getQuery()")
    assert "PREFIX eco: <http://kg.test/def/eco#>" in query and "PREFIX id: <http://kg.test/id/>" in query
    panel = page.locator(".tabPanel:visible")
    panel.locator(".yasqe_queryButton").click()
    panel.locator(".yasr tbody tr").nth(9).wait_for()
    assert panel.locator(".yasr tbody tr").count() == 10
    # Prefix autocompletion offers the dataset's prefixes (from the page, never prefix.cc).
    page.evaluate("() => { const y = window.kgQueryUI.getTab().getYasqe(); y.setValue('PREFIX ec'); "
                  "y.setCursor({line: 0, ch: 9}); y.focus(); }")
    page.keyboard.press("Control+Space")
    hints = page.locator(".CodeMirror-hints li")
    hints.first.wait_for()
    assert "eco: <http://kg.test/def/eco#>" in hints.all_inner_texts()
    assert traffic.outside() == [] and traffic.watch.problems == [], (traffic.outside(), traffic.watch.problems)
