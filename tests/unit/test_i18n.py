"""Interface languages: the reader's language, strings in both languages, numbers."""

from __future__ import annotations

import string

import pytest

from service.i18n import LANGS, TERM_LABELS, UI, choose_language, format_number, ordinal, text


@pytest.mark.parametrize(("asked", "cookie", "accept", "expected"), [
    ("fr", "en", "en", "fr"),                  # ?lang= wins
    (None, "fr", "en-GB,en;q=0.9", "fr"),      # then the cookie
    ("de", "xx", "fr-CA, en;q=0.2", "fr"),     # unknown values are ignored
    (None, None, "en;q=0.3, fr;q=0.7", "fr"),  # q-values
    (None, None, "de, it", "en"),              # nothing acceptable: English
    (None, None, None, "en"),
    (" FR ", None, None, "fr"),
])
def test_choose_language(asked: str | None, cookie: str | None, accept: str | None, expected: str) -> None:
    assert choose_language(asked, cookie, accept) == expected


def test_both_languages_have_the_same_strings_and_placeholders() -> None:
    assert set(UI["en"]) == set(UI["fr"])
    fields = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
    for key in UI["en"]:
        assert fields(UI["en"][key]) == fields(UI["fr"][key]), key
    assert set(UI) == set(LANGS)


def test_strings_differ_between_languages() -> None:
    assert text("what_points_here", "en") != text("what_points_here", "fr")
    assert text("figures", "xx") == text("figures", "en")


def test_term_labels_are_bilingual() -> None:
    for iri, entry in TERM_LABELS.items():
        assert iri.startswith("http") and entry["en"] and entry["fr"] and entry["def"], iri


@pytest.mark.parametrize(("lexical", "lang", "expected"), [
    ("230810", "en", "230,810"), ("230810", "fr", "230\u202f810"), ("0.5", "fr", "0,5"),
    ("1234567.25", "en", "1,234,567.25"), ("-7", "fr", "-7"), ("abc", "en", "abc"), ("NaN", "en", "NaN"),
])
def test_format_number(lexical: str, lang: str, expected: str) -> None:
    assert format_number(lexical, lang) == expected


def test_ordinals() -> None:
    assert [ordinal(n, "en") for n in (1, 2, 3, 4, 11, 19, 22)] == ["1st", "2nd", "3rd", "4th", "11th", "19th", "22nd"]
    assert [ordinal(n, "fr") for n in (1, 2, 19)] == ["1er", "2e", "19e"]
