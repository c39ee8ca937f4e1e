"""Configuration: documented defaults and one validation pass.

Every setting can be given as an environment variable with the ``KG_`` prefix
(``KG_BASE_URI``, ``KG_STORE_PATH``…); tests pass overrides to ``create_app``. No other
module reads ``os.environ``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.iris import DEFAULT_BASE, Namespaces

__all__ = ["DEFAULTS", "PROJECT_ROOT", "ConfigError", "validate", "init_logging", "namespaces", "make_config",
           "backbone_regions"]

#: The checkout the package runs from (the project is installed in editable mode).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    # Canonical base of every IRI the graph mints (must end with "/").
    "BASE_URI": DEFAULT_BASE,
    # Store backend: "oxigraph" (embedded, on disk) or "remote" (a SPARQL 1.1 endpoint).
    "BACKEND": "oxigraph",
    # Remote backend: the query endpoint, http(s) (required when BACKEND is "remote").
    "SPARQL_URL": "",
    # Remote backend: the update endpoint ("" = read-only; 'build --target remote' needs it).
    "SPARQL_UPDATE_URL": "",
    # Remote backend: the Graph Store endpoint for loads ("" = Virtuoso's, next to the update one).
    "SPARQL_GRAPH_STORE_URL": "",
    # Remote backend: credentials, sent as the endpoint asks (Basic or Digest); "" = none.
    "SPARQL_USER": "",
    "SPARQL_PASSWORD": "",
    # Remote backend: seconds to connect, then to wait for data (502 / 504 past them).
    "REMOTE_CONNECT_TIMEOUT": 5,
    "REMOTE_READ_TIMEOUT": 30,
    # Where the embedded store lives.
    "STORE_PATH": str(PROJECT_ROOT / "var" / "store"),
    # Ontology, shapes and alignments (Turtle).
    "ONTOLOGY_DIR": str(PROJECT_ROOT / "ontology"),
    # Curated data: reference vocabularies, source documents and their facts.
    "DATA_DIR": str(PROJECT_ROOT / "graph_data"),
    # Named SPARQL queries (.rq files with a YAML header).
    "QUERIES_DIR": str(PROJECT_ROOT / "queries"),
    # Where the build writes dumps (with .sha256 files).
    "DUMPS_DIR": str(PROJECT_ROOT / "var" / "dumps"),
    # The unpacked npm package @etalab/decoupage-administratif.
    "BACKBONE_PACKAGE_DIR": str(PROJECT_ROOT / "node_modules" / "@etalab" / "decoupage-administratif"),
    # INSEE region codes of the official geography to import, comma-separated, or "all".
    "BACKBONE_REGIONS": "32",
    # Hard timeout of one SPARQL query, in seconds.
    "QUERY_TIMEOUT": 30,
    # Killable query worker processes per server process; 0 runs queries in-process (tests: no hard timeout).
    "QUERY_WORKERS": 2,
    # Seconds a query may wait for a free worker before a 503 "busy" with Retry-After.
    "QUERY_QUEUE_TIMEOUT": 5,
    # Largest query text accepted at /sparql, in bytes (413 above; form bodies may be 3x for %-encoding).
    "QUERY_MAX_BYTES": 1_000_000,
    # Most solutions a SELECT answer may hold (422 above, never a truncated 200).
    "QUERY_MAX_ROWS": 10_000,
    # Most triples a CONSTRUCT/DESCRIBE answer may hold (422 above).
    "QUERY_MAX_TRIPLES": 100_000,
    # Largest serialised query answer, in bytes (422 above).
    "QUERY_MAX_RESULT_BYTES": 50_000_000,
    # Endpoint/graph IRIs SERVICE and FROM may name beyond the store's graphs (space/comma-separated).
    "SERVICE_ALLOWLIST": "",
    # Logging level name.
    "LOG_LEVEL": "INFO",
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the key."""


def validate(cfg: MutableMapping[str, Any]) -> None:
    """Check and normalise settings in place.

    :raises ConfigError: naming the first bad key.
    """
    try:
        Namespaces(str(cfg["BASE_URI"]))
    except ValueError as exc:
        raise ConfigError(f"KG_BASE_URI: {exc}") from None
    if cfg["BACKEND"] not in ("oxigraph", "remote"):
        raise ConfigError(f"KG_BACKEND: unknown backend {cfg['BACKEND']!r} (known: oxigraph, remote)")
    for key in ("REMOTE_CONNECT_TIMEOUT", "REMOTE_READ_TIMEOUT"):
        try:
            cfg[key] = float(cfg[key])
        except (TypeError, ValueError):
            raise ConfigError(f"KG_{key}: not a number: {cfg[key]!r}") from None
        if cfg[key] <= 0:
            raise ConfigError(f"KG_{key}: must be positive")
    if cfg["BACKEND"] == "remote":
        for key in ("SPARQL_URL", "SPARQL_UPDATE_URL", "SPARQL_GRAPH_STORE_URL"):
            url = urlsplit(str(cfg.get(key) or ""))
            if (url.geturl() or key == "SPARQL_URL") and (url.scheme not in ("http", "https") or not url.hostname):
                raise ConfigError(f"KG_{key}: expected an http(s) URL, got {url.geturl()!r}")
    try:
        cfg["QUERY_TIMEOUT"] = float(cfg["QUERY_TIMEOUT"])
    except (TypeError, ValueError):
        raise ConfigError(f"KG_QUERY_TIMEOUT: not a number: {cfg['QUERY_TIMEOUT']!r}") from None
    if cfg["QUERY_TIMEOUT"] <= 0:
        raise ConfigError("KG_QUERY_TIMEOUT: must be positive")
    _validate_query_limits(cfg)
    regions = str(cfg["BACKBONE_REGIONS"]).strip()
    if regions != "all" and not all(code.strip().isalnum() for code in regions.split(",")):
        raise ConfigError(f"KG_BACKBONE_REGIONS: expected codes like '32,11' or 'all': {regions!r}")
    if str(cfg["LOG_LEVEL"]).upper() not in logging.getLevelNamesMapping():
        raise ConfigError(f"KG_LOG_LEVEL: unknown level {cfg['LOG_LEVEL']!r}")


def _validate_query_limits(cfg: MutableMapping[str, Any]) -> None:
    """Normalise the /sparql limits: integers (``QUERY_WORKERS`` may be 0) and the allow-list as a tuple."""
    for key in ("QUERY_WORKERS", "QUERY_MAX_BYTES", "QUERY_MAX_ROWS", "QUERY_MAX_TRIPLES",
                "QUERY_MAX_RESULT_BYTES"):
        try:
            cfg[key] = int(cfg[key])
        except (TypeError, ValueError):
            raise ConfigError(f"KG_{key}: not an integer: {cfg[key]!r}") from None
        if cfg[key] < (0 if key == "QUERY_WORKERS" else 1):
            raise ConfigError(f"KG_{key}: must be {'>= 0' if key == 'QUERY_WORKERS' else 'positive'}")
    try:
        cfg["QUERY_QUEUE_TIMEOUT"] = float(cfg["QUERY_QUEUE_TIMEOUT"])
    except (TypeError, ValueError):
        raise ConfigError(f"KG_QUERY_QUEUE_TIMEOUT: not a number: {cfg['QUERY_QUEUE_TIMEOUT']!r}") from None
    allow = cfg["SERVICE_ALLOWLIST"]
    iris = tuple(allow.replace(",", " ").split()) if isinstance(allow, str) else tuple(str(i) for i in allow)
    for iri in iris:
        if ":" not in iri or any(c in iri for c in '<>"{}|^`\\'):
            raise ConfigError(f"KG_SERVICE_ALLOWLIST: not an absolute IRI: {iri!r}")
    cfg["SERVICE_ALLOWLIST"] = iris


def namespaces(cfg: Mapping[str, Any]) -> Namespaces:
    """The project's namespaces under the configured base."""
    return Namespaces(str(cfg["BASE_URI"]))


def backbone_regions(cfg: Mapping[str, Any]) -> frozenset[str] | None:
    """The region codes to import, or ``None`` for all of France."""
    regions = str(cfg["BACKBONE_REGIONS"]).strip()
    return None if regions == "all" else frozenset(c.strip() for c in regions.split(","))


def init_logging(cfg: Mapping[str, Any]) -> None:
    """Set the level of the project's loggers."""
    logging.getLogger("service").setLevel(str(cfg["LOG_LEVEL"]).upper())


def make_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults plus ``overrides``, validated: configuration outside a Flask app (tests, tools).

    :raises ConfigError: naming the first bad key.
    """
    cfg = {**DEFAULTS, **(overrides or {})}
    validate(cfg)
    return cfg
