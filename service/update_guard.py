"""Pre-flight of every SPARQL update, the sibling of :mod:`service.sparql_guard`.

Three functions, pure in the update text:

:func:`screen_update` (cheap, linear; runs in the web process)
    the size cap (413), an empty update (400), and the nesting-depth check of
    :mod:`service.sparql_guard` (more than 128 levels → 400).

:func:`preflight_update` (``screen_update`` plus the keyword check; runs where the update
    runs, in the killable writer process for the embedded store)
    refuses every ``LOAD`` (any source: the web, ``file:``, a loopback endpoint; pyoxigraph
    would fetch it) and every ``SERVICE`` (an outbound call, ``SILENT`` or not), judged on
    the tokens of :mod:`service.sparql_guard`'s lexer (strings, IRIs, comments, variables and
    prefixed names are tokens of their own, and ``\\u`` escapes are decoded too): in SPARQL a
    bare ``LOAD`` or ``SERVICE`` word can only be that keyword. The check is linear in the
    text, so a 50,000-triple ``INSERT DATA`` costs milliseconds (rdflib's update parser,
    used before, took minutes on it). The engine parses the update itself, and its syntax
    errors say where. Nothing in an update reads local files except ``LOAD``:
    ``USING``/``WITH`` only name graphs of the store in pyoxigraph.

:func:`with_protocol_dataset`
    applies the protocol's ``using-graph-uri``/``using-named-graph-uri`` to the update by
    adding ``USING``/``USING NAMED`` clauses before the ``WHERE`` of each ``DELETE``/``INSERT``
    operation (pyoxigraph's Python API takes no update dataset), and refuses (400) an
    update that names its own dataset (``USING``, ``USING NAMED``, ``WITH``) as well.

>>> with_protocol_dataset("INSERT { ?s a <urn:T> } WHERE { ?s ?p ?o }", ("urn:g",), ())
'INSERT { ?s a <urn:T> }  USING <urn:g> WHERE { ?s ?p ?o }'
>>> preflight_update("LOAD <file:///etc/passwd>", 1000)
Traceback (most recent call last):
...
service.errors.QueryRefused: LOAD is refused on this endpoint: the server never fetches documents (send the data with the Graph Store protocol).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from service.errors import BadQuery, QueryRefused
from service.sparql_guard import _check_size, _expand_escapes, _lex

__all__ = ["screen_update", "preflight_update", "with_protocol_dataset"]

log = logging.getLogger(__name__)

_LOAD = ("LOAD is refused on this endpoint: the server never fetches documents (send the data with the "
         "Graph Store protocol).")
_SERVICE = "SERVICE is refused in updates: an update may not call other endpoints."
_TOKENS = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
      |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_]+)
  | (?P<open>\{)
  | (?P<close>\})
  | (?P<word>[A-Za-z][A-Za-z0-9_-]*(?::[^\s{}()<>;,]*)?)
  | (?P<other>\S)""", re.VERBOSE | re.DOTALL)


def screen_update(text: str, max_bytes: int) -> None:
    """The cheap checks: size, emptiness, nesting depth.

    :raises PayloadTooLarge: over ``max_bytes`` UTF-8 bytes (413).
    :raises BadQuery: empty, or nested deeper than :data:`service.sparql_guard.MAX_DEPTH` (400).

    >>> screen_update("CLEAR ALL", 100)
    >>> screen_update("  ", 100)
    Traceback (most recent call last):
    ...
    service.errors.BadQuery: The update is empty.
    """
    _check_size(text, max_bytes, "update")
    if not text.strip():
        raise BadQuery("The update is empty.")
    _lex(text)


def preflight_update(text: str, max_bytes: int) -> None:
    """All checks, the keyword check included; call it right before handing ``text`` to an engine.

    :raises PayloadTooLarge, BadQuery: as :func:`screen_update`.
    :raises QueryRefused: ``LOAD`` or ``SERVICE`` (422).

    >>> preflight_update("INSERT { ?s a <urn:T> } WHERE { SERVICE SILENT <http://127.0.0.1:9/> { ?s ?p ?o } }", 1000)
    Traceback (most recent call last):
    ...
    service.errors.QueryRefused: SERVICE is refused in updates: an update may not call other endpoints.
    """
    screen_update(text, max_bytes)
    keywords = {word for word, _ in _lex(text).keywords}
    if "\\u" in text or "\\U" in text:
        keywords |= {word for word, _ in _lex(_expand_escapes(text)).keywords}
    if "LOAD" in keywords:
        raise QueryRefused(_LOAD)
    if "SERVICE" in keywords:
        raise QueryRefused(_SERVICE)


def _top_level(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    """The words and braces of ``text`` outside any ``{ }``, with their matches."""
    depth = 0
    for match in _TOKENS.finditer(text):
        kind = str(match.lastgroup)
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif depth == 0 and kind in ("word", "iri", "other"):
            yield kind, match


def with_protocol_dataset(text: str, using: tuple[str, ...], using_named: tuple[str, ...]) -> str:
    """Apply the protocol dataset to every ``DELETE``/``INSERT … WHERE`` operation of ``text``.

    :param using: ``using-graph-uri`` values; ``using_named`` the ``using-named-graph-uri`` ones.
    :raises BadQuery: the update has its own ``USING``/``USING NAMED``/``WITH`` (400).

    >>> with_protocol_dataset("WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", ("urn:h",), ())
    Traceback (most recent call last):
    ...
    service.errors.BadQuery: The update names its own dataset (WITH) and the request gives using-graph-uri/using-named-graph-uri: give one or the other.
    """
    if not using and not using_named:
        return text
    clause = " " + " ".join([f"USING <{g}>" for g in using] + [f"USING NAMED <{g}>" for g in using_named]) + " "
    cuts, previous = [], ""
    for kind, match in _top_level(text):
        word = match.group().upper() if kind == "word" else ""
        if word in ("USING", "WITH"):
            raise BadQuery(f"The update names its own dataset ({word}) and the request gives "
                           "using-graph-uri/using-named-graph-uri: give one or the other.")
        if word == "WHERE" and previous != "DELETE":
            cuts.append(match.start())
        previous = word
    for cut in reversed(cuts):
        text = text[:cut] + clause + text[cut:]
    return text
