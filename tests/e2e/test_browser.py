"""Tested as a person would: Debian's Chromium (headless, via Playwright) on the app served at 127.0.0.1.

The app serves the session's real graph (built under ``http://kg.test/``) from a threaded
werkzeug server. Each page must render with no console error, no uncaught exception and no
failed request. A missing Chromium or Playwright fails these tests with the command that
installs it; they are never skipped.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import PAGES, PageWatch  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture()
def page(context: Any) -> Iterator[Any]:
    tab = context.new_page()
    yield tab
    tab.close()


def open_page(page: Any, url: str) -> PageWatch:
    watch = PageWatch().attach(page)
    resp = page.goto(url, wait_until="networkidle")
    assert resp is not None and resp.status == 200, url
    return watch


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_without_console_errors(page: Any, base_url: str, name: str) -> None:
    path, text = PAGES[name]
    watch = open_page(page, base_url + path)
    assert text in page.inner_text("body")
    assert page.locator("h1").count() >= 1 and page.locator("h1").first.inner_text().strip()
    assert page.get_attribute("html", "lang") == "en"
    assert watch.problems == [], watch.problems


def test_figure_page_quotes_its_sentence(page: Any, base_url: str, kg_store: Any, kg_config: dict[str, Any]) -> None:
    path, _ = PAGES["figure-euratechnologies"]
    iri = kg_config["BASE_URI"] + "id/" + path.split("?")[0].removeprefix("/page/")
    row = kg_store.select(f"SELECT ?quote {{ <{iri}> <http://www.w3.org/ns/prov#wasDerivedFrom>/"
                          "<http://www.w3.org/ns/oa#exact> ?quote }")[0]
    quote = row["quote"][1:row["quote"].rindex('"')]
    open_page(page, base_url + path)
    body = page.inner_text("body")
    assert "more than 300" in body and " ".join(quote.split()) in " ".join(body.split())


def test_links_lead_to_linked_resources(page: Any, base_url: str) -> None:
    watch = open_page(page, base_url + "/page/commune/59350?lang=en")
    link = page.locator('main a[href^="/page/departement/59"], main a[href*="/page/departement/59"]').first
    link.click()
    page.wait_for_load_state("networkidle")
    assert "/page/departement/59" in page.url
    assert "Nord" in page.locator("h1").first.inner_text()
    assert watch.problems == [], watch.problems


def test_links_from_the_home_page(page: Any, base_url: str) -> None:
    watch = open_page(page, base_url + "/?lang=en")
    page.locator('a[href="/class/CompetitivenessCluster"]').first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/class/CompetitivenessCluster")
    page.locator('main a[href^="/page/organization/"]').first.click()
    page.wait_for_load_state("networkidle")
    assert "/page/organization/" in page.url and page.locator("h1").first.inner_text().strip()
    assert watch.problems == [], watch.problems


def test_language_switch(page: Any, base_url: str) -> None:
    watch = open_page(page, base_url + "/page/commune/59350?lang=en")
    assert page.get_attribute("html", "lang") == "en"
    english = page.inner_text("main")
    page.locator('a[href*="lang=fr"]').first.click()
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "fr"
    french = page.inner_text("main")
    assert french != english
    assert re.search(r"directement situé dans|Population légale|Commune", french)
    open_page(page, base_url + "/?lang=en")
    assert "What the graph holds" in page.inner_text("main")
    page.locator('a[href*="lang=fr"]').first.click()
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "fr" and "Ce que contient le graphe" in page.inner_text("main")
    assert watch.problems == [], watch.problems


def test_search_with_autocomplete_then_enter(page: Any, base_url: str) -> None:
    watch = open_page(page, base_url + "/?lang=en")
    box = page.locator("#kg-search-input")
    box.press_sequentially("villeneuve dascq", delay=20)
    suggestion = page.locator(".kg-suggest li", has_text="Villeneuve-d'Ascq").first
    suggestion.wait_for(state="visible")
    assert page.get_attribute("#kg-search-input", "aria-expanded") == "true"
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    page.wait_for_load_state("networkidle")
    result = page.locator('main a[href="/page/commune/59009"]').first
    assert "Villeneuve-d'Ascq" in result.inner_text()
    result.click()
    page.wait_for_url(re.compile(r"/page/commune/59009"))
    assert "Villeneuve-d'Ascq" in page.locator("h1").first.inner_text()
    assert watch.problems == [], watch.problems


def test_autocomplete_keyboard_choice_goes_to_the_page(page: Any, base_url: str) -> None:
    watch = open_page(page, base_url + "/class/Commune?lang=fr")
    box = page.locator("#kg-search-input")
    box.press_sequentially("lievin", delay=20)
    page.locator(".kg-suggest li", has_text="Liévin").first.wait_for(state="visible")
    box.press("ArrowDown")
    assert page.get_attribute(".kg-suggest li >> nth=0", "aria-selected") == "true"
    box.press("Enter")
    page.wait_for_url(re.compile(r"/page/commune/62510"))
    assert "Liévin" in page.locator("h1").first.inner_text()
    box = page.locator("#kg-search-input")
    box.press_sequentially("zzzzqqq", delay=10)
    page.wait_for_timeout(400)
    assert page.locator(".kg-suggest").is_hidden()
    assert watch.problems == [], watch.problems
