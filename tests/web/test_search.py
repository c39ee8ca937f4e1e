"""Label search: normalisation and ranking on tiny data, then /search, /search.json and /search/suggest on the real graph."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.search import MAX_QUERY_LENGTH, SearchIndex, normalise, words
from service.store import executor
from tests.web.backends import BACKENDS, backend_config
from service.web import meta

LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
ALT = "http://www.w3.org/2004/02/skos/core#altLabel"


# ---- unit: keys and ranking ---------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key"), [
    ("Villeneuve-d'Ascq", "villeneuvedascq"), ("villeneuve dascq", "villeneuvedascq"),
    ("Villeneuve d’Ascq", "villeneuvedascq"), ("LIÉVIN", "lievin"), ("Liévin", "lievin"),
    ("Béthune", "bethune"), ("EuraTechnologies", "euratechnologies"), ("Cœur", "coeur"), ("Team²", "team2"),
    ("Saint-Omer  (62)", "saintomer62"), ("", ""), ("'‑–—…", ""),
])
def test_normalise_forgives_case_accents_and_punctuation(text: str, key: str) -> None:
    assert normalise(text) == key


def test_words_split_on_punctuation() -> None:
    assert words("Lens – Liévin") == ["lens", "lievin"]


@pytest.fixture()
def tiny() -> SearchIndex:
    labels = [
        ("x:lille", LABEL, "Lille", "fr"),
        ("x:lillers", LABEL, "Lillers", "fr"),
        ("x:mel", LABEL, "Métropole Européenne de Lille", "fr"),
        ("x:obs", LABEL, "Population of Lille", "en"),
        ("x:obs-short", LABEL, "Lille jobs", "en"),
        ("x:team2", LABEL, "TEAM2", "en"),
        ("x:team2", ALT, "Team squared", "en"),
        ("x:vda", LABEL, "Villeneuve-d'Ascq", "fr"),
    ]
    types = [("x:lille", "Commune"), ("x:lillers", "Commune"), ("x:mel", "Intercommunality"),
             ("x:obs", "Observation"), ("x:obs-short", "Observation"), ("x:team2", "CompetitivenessCluster"),
             ("x:vda", "Commune"), ("x:lille", "Territory"), ("x:lillers", "Territory"), ("x:vda", "Territory"),
             ("x:mel", "Territory")]
    return SearchIndex.from_labels(labels, types)


def test_ranking_exact_then_prefix_then_substring_then_class_then_length(tiny: SearchIndex) -> None:
    hits, total = tiny.search("lille")
    assert [h.entry.iri for h in hits] == ["x:lille", "x:lillers", "x:obs-short", "x:mel", "x:obs"]
    assert [h.match for h in hits] == ["exact", "prefix", "prefix", "substring", "substring"]
    assert total == 5


def test_most_specific_class_and_display_label(tiny: SearchIndex) -> None:
    assert tiny.entries["x:lille"].cls == "Commune"
    hit = tiny.search("squared")[0][0]
    assert hit.entry.label("fr") == "TEAM2" and hit.matched == "Team squared" and hit.match == "substring"


def test_words_in_any_order_match_last(tiny: SearchIndex) -> None:
    hits, _ = tiny.search("ascq villeneuve")
    assert [(h.entry.iri, h.match) for h in hits] == [("x:vda", "words")]


@pytest.mark.parametrize("q", ["", "   ", "'''", "zzzz"])
def test_nothing_found(tiny: SearchIndex, q: str) -> None:
    assert tiny.search(q) == ([], 0)


def test_paging(tiny: SearchIndex) -> None:
    assert [h.entry.iri for h in tiny.search("lille", limit=2, offset=1)[0]] == ["x:lillers", "x:obs-short"]


# ---- the real graph -----------------------------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, built_kg: Any, kg_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(backend_config(request, kg_config))
    yield application
    executor.shutdown(application)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.mark.parametrize(("q", "first"), [
    ("villeneuve dascq", "id/commune/59009"), ("Villeneuve-d'Ascq", "id/commune/59009"),
    ("VILLENEUVE D ASCQ", "id/commune/59009"), ("lievin", "id/commune/62510"), ("Liévin", "id/commune/62510"),
    ("euratech", "id/organization/euratechnologies"), ("lille", "id/commune/59350"), ("59350", "id/commune/59350"),
    ("bethune", "id/commune/62119"), ("hauts de france", "id/region/32"), ("team²", "id/organization/team2"),
    ("ascq villeneuve", "id/commune/59009"),
])
def test_search_finds_names_from_plain_typing(client: FlaskClient, kg_config: dict[str, Any], q: str,
                                              first: str) -> None:
    data = client.get("/search.json", query_string={"q": q}).json
    assert data["results"], q
    assert data["results"][0]["iri"] == kg_config["BASE_URI"] + first
    assert data["results"][0]["url"] == "/page/" + first.removeprefix("id/")


def test_search_json_shape_and_languages(client: FlaskClient) -> None:
    en = client.get("/search.json?q=textile&lang=en").json
    fr = client.get("/search.json?q=textile&lang=fr").json
    assert en["total"] == fr["total"] >= 2 and en["lang"] == "en" and fr["lang"] == "fr"
    assert {"iri", "url", "label", "matched", "match", "class", "classLabel"} <= set(en["results"][0])
    assert [r["iri"] for r in en["results"]] == [r["iri"] for r in fr["results"]]
    assert [r["label"] for r in en["results"]] != [r["label"] for r in fr["results"]]


def test_search_json_by_accept_and_paging(client: FlaskClient) -> None:
    resp = client.get("/search?q=lille", headers={"Accept": "application/json"})
    assert resp.mimetype == "application/json" and resp.json["total"] > 20
    page2 = client.get("/search.json?q=lille&limit=5&offset=5").json
    assert [r["iri"] for r in page2["results"]] == [r["iri"] for r in resp.json["results"][5:10]]


def test_search_html_results_link_to_pages(client: FlaskClient) -> None:
    resp = client.get("/search?q=villeneuve+dascq&lang=en")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    body = resp.get_data(as_text=True)
    assert 'href="/page/commune/59009"' in body and "Villeneuve-d&#39;Ascq" in body
    assert 'value="villeneuve dascq"' in body


def test_search_html_escapes_the_query(client: FlaskClient) -> None:
    body = client.get("/search", query_string={"q": '<script>alert(1)</script>"'}).get_data(as_text=True)
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body


def test_suggest_gives_at_most_ten(client: FlaskClient) -> None:
    data = client.get("/search/suggest?q=la").json
    assert data["total"] > meta.SUGGEST_SIZE and len(data["results"]) == meta.SUGGEST_SIZE
    first = client.get("/search/suggest?q=villeneuve dascq").json["results"][0]
    assert first["label"] == "Villeneuve-d'Ascq" and first["url"] == "/page/commune/59009"


@pytest.mark.parametrize("url", ["/search?q=", "/search", "/search.json?q=", "/search/suggest?q=", "/search/suggest",
                                 "/search.json?q=%20%20"])
def test_empty_queries_find_nothing_without_error(client: FlaskClient, url: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 200
    if resp.mimetype == "application/json":
        assert resp.json["results"] == [] and resp.json["total"] == 0


@pytest.mark.parametrize("url", ["/search", "/search.json", "/search/suggest"])
def test_too_long_queries_are_400(client: FlaskClient, url: str) -> None:
    assert client.get(url, query_string={"q": "a" * (MAX_QUERY_LENGTH + 1)}).status_code == 400
    assert client.get(url, query_string={"q": "a" * MAX_QUERY_LENGTH}).status_code == 200


@pytest.mark.parametrize("query", ["limit=101", "limit=-1", "offset=x", "page=0"])
def test_bad_paging_is_400(client: FlaskClient, query: str) -> None:
    url = "/search?q=lille&" + query if query.startswith("page") else "/search.json?q=lille&" + query
    assert client.get(url).status_code == 400


# ---- the search box on every page -----------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/class/Commune", "/def/eco", "/search?q=lille", "/dumps/",
                                 "/page/commune/59350", "/page/organization/euratechnologies"])
def test_every_page_has_the_search_box_and_no_inline_script(client: FlaskClient, url: str) -> None:
    resp = client.get(url, headers={"Accept": "text/html"})
    assert resp.status_code == 200, url
    body = resp.get_data(as_text=True)
    assert 'class="kg-search"' in body and 'action="/search"' in body and 'src="/static/search.js"' in body
    assert body.count('class="kg-search"') == 1
    inline = [m for m in re.findall(r"<script\b[^>]*>", body) if "src=" not in m and "application/ld+json" not in m]
    assert inline == []


@pytest.mark.parametrize(("path", "mimetype"), [("/static/search.js", "text/javascript"), ("/static/meta.css", "text/css")])
def test_static_assets(client: FlaskClient, path: str, mimetype: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 200 and resp.mimetype == mimetype
    resp.close()
