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
           "backbone_regions", "remote_graph_prefix"]

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
    # Remote backend: IRI prefix of this dataset's named graphs there ("" = {BASE_URI}graph/); the
    # default graph is their union, and 'build --target remote' replaces only graphs under it.
    "SPARQL_GRAPH_PREFIX": "",
    # Remote backend: seconds to connect, then to wait for data (502 / 504 past them).
    "REMOTE_CONNECT_TIMEOUT": 5,
    "REMOTE_READ_TIMEOUT": 30,
    # Remote backend: largest answer read from the engine, in bytes (502 above).
    "REMOTE_MAX_BYTES": 256 * 1024 * 1024,
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
    # The build/ folder of the npm package @zazuko/yasgui: the query UI's scripts and styles (served locally).
    "YASGUI_DIR": str(PROJECT_ROOT / "node_modules" / "@zazuko" / "yasgui" / "build"),
    # INSEE region codes of the official geography to import, comma-separated, or "all".
    "BACKBONE_REGIONS": "32",
    # Seconds a client has to send a complete request head (request line and headers) once its connection
    # is handed to a server thread; past it the connection is closed (slowloris, see service/serve_worker.py).
    # 0: no limit (plain gunicorn gthread worker).
    "REQUEST_HEAD_TIMEOUT": 10,
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
    # Most resident memory a query worker may use while answering, in MiB (killed and 503 above; 0: no cap).
    "QUERY_MAX_MEMORY_MB": 1024,
    # Response cache for repeated /sparql and /api/queries answers on an unchanged dataset (keyed by the
    # build and the write generation, see service/web/cache.py): most bytes held per process; 0: off.
    "RESPONSE_CACHE_BYTES": 64 * 1024 * 1024,
    # Endpoint/graph IRIs SERVICE and FROM may name beyond the store's graphs (space/comma-separated).
    "SERVICE_ALLOWLIST": "",
    # Fair use (service/web/fairuse.py), per client and server process; 429 + Retry-After past a limit.
    # Requests a client may have in progress at once (0: no limit).
    "FAIRUSE_MAX_CONCURRENT": 8,
    # Seconds of request time a client may use per FAIRUSE_WINDOW seconds, refilled steadily (0: no limit).
    "FAIRUSE_TIME_BUDGET": 120,
    "FAIRUSE_WINDOW": 60,
    # Reverse proxies (addresses, space/comma-separated) whose X-Forwarded-For names the client; "" = none.
    "FAIRUSE_TRUSTED_PROXIES": "",
    # Clients never limited (addresses, space/comma-separated): loopback, for local tools and benchmarks.
    "FAIRUSE_EXEMPT": "127.0.0.1 ::1",
    # Writes: "off" (read-only: /update and Graph Store writes answer 403) or "on" (needs UPDATE_TOKEN;
    # the embedded store is then served by one process with a single writer, see README).
    "UPDATES": "off",
    # The bearer token writes must present (at least 16 characters; required when UPDATES is "on").
    "UPDATE_TOKEN": "",
    # Hard timeout of one write (update or Graph Store upload), in seconds (503 past it, rolled back).
    "UPDATE_TIMEOUT": 60,
    # Largest update text or Graph Store upload, in bytes (413 above).
    "UPDATE_MAX_BYTES": 10_000_000,
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
    prefix = str(cfg.get("SPARQL_GRAPH_PREFIX") or "")
    if prefix and (":" not in prefix or any(c in prefix for c in '<>" {}|^`\\')):
        raise ConfigError(f"KG_SPARQL_GRAPH_PREFIX: not an absolute IRI: {prefix!r}")
    try:
        cfg["QUERY_TIMEOUT"] = float(cfg["QUERY_TIMEOUT"])
    except (TypeError, ValueError):
        raise ConfigError(f"KG_QUERY_TIMEOUT: not a number: {cfg['QUERY_TIMEOUT']!r}") from None
    if cfg["QUERY_TIMEOUT"] <= 0:
        raise ConfigError("KG_QUERY_TIMEOUT: must be positive")
    try:
        cfg["REQUEST_HEAD_TIMEOUT"] = float(cfg["REQUEST_HEAD_TIMEOUT"])
    except (TypeError, ValueError):
        raise ConfigError(f"KG_REQUEST_HEAD_TIMEOUT: not a number: {cfg['REQUEST_HEAD_TIMEOUT']!r}") from None
    if not cfg["REQUEST_HEAD_TIMEOUT"] >= 0:
        raise ConfigError("KG_REQUEST_HEAD_TIMEOUT: must be >= 0")
    _validate_query_limits(cfg)
    _validate_fair_use(cfg)
    _validate_updates(cfg)
    regions = str(cfg["BACKBONE_REGIONS"]).strip()
    if regions != "all" and not all(code.strip().isalnum() for code in regions.split(",")):
        raise ConfigError(f"KG_BACKBONE_REGIONS: expected codes like '32,11' or 'all': {regions!r}")
    if not str(cfg["YASGUI_DIR"]).strip():
        raise ConfigError("KG_YASGUI_DIR: expected the build/ folder of the npm package @zazuko/yasgui")
    if str(cfg["LOG_LEVEL"]).upper() not in logging.getLevelNamesMapping():
        raise ConfigError(f"KG_LOG_LEVEL: unknown level {cfg['LOG_LEVEL']!r}")


def _addresses(cfg: MutableMapping[str, Any], key: str) -> tuple[str, ...]:
    """A space/comma-separated list of IP addresses, checked."""
    import ipaddress

    value = cfg[key]
    items = tuple(value.replace(",", " ").split()) if isinstance(value, str) else tuple(str(v) for v in value)
    for item in items:
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise ConfigError(f"KG_{key}: not an IP address: {item!r}") from None
    return items


def _validate_fair_use(cfg: MutableMapping[str, Any]) -> None:
    """Fair-use limits: non-negative numbers (0 disables), a positive window, address lists as tuples."""
    for key, cast in (("FAIRUSE_MAX_CONCURRENT", int), ("FAIRUSE_TIME_BUDGET", float), ("FAIRUSE_WINDOW", float),
                      ("QUERY_MAX_MEMORY_MB", int), ("REMOTE_MAX_BYTES", int), ("RESPONSE_CACHE_BYTES", int)):
        try:
            cfg[key] = cast(cfg[key])
        except (TypeError, ValueError):
            raise ConfigError(f"KG_{key}: not a number: {cfg[key]!r}") from None
        if cfg[key] < 0 or (cfg[key] == 0 and key in ("FAIRUSE_WINDOW", "REMOTE_MAX_BYTES")):
            positive = key in ("FAIRUSE_WINDOW", "REMOTE_MAX_BYTES")
            raise ConfigError(f"KG_{key}: must be {'positive' if positive else '>= 0'}")
    for key in ("FAIRUSE_TRUSTED_PROXIES", "FAIRUSE_EXEMPT"):
        cfg[key] = _addresses(cfg, key)


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


def _validate_updates(cfg: MutableMapping[str, Any]) -> None:
    """Normalise ``UPDATES`` to a bool; with updates on, require a token (never echoed) and a way to write."""
    flag = str(cfg["UPDATES"]).strip().lower()
    if flag not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"KG_UPDATES: expected 'on' or 'off', got {cfg['UPDATES']!r}")
    cfg["UPDATES"] = flag in ("on", "true", "1", "yes")
    for key in ("UPDATE_TIMEOUT", "UPDATE_MAX_BYTES"):
        try:
            cfg[key] = float(cfg[key]) if key == "UPDATE_TIMEOUT" else int(cfg[key])
        except (TypeError, ValueError):
            raise ConfigError(f"KG_{key}: not a number: {cfg[key]!r}") from None
        if cfg[key] <= 0:
            raise ConfigError(f"KG_{key}: must be positive")
    token = str(cfg.get("UPDATE_TOKEN") or "")
    if cfg["UPDATES"] and len(token) < 16:
        raise ConfigError("KG_UPDATE_TOKEN: updates are on, so a bearer token of at least 16 characters is "
                          "required (for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if token and (token != token.strip() or any(ord(c) < 0x21 or ord(c) > 0x7E for c in token)):
        raise ConfigError("KG_UPDATE_TOKEN: use printable ASCII without spaces")
    if cfg["UPDATES"] and cfg["BACKEND"] == "remote" and not cfg.get("SPARQL_UPDATE_URL"):
        raise ConfigError("KG_SPARQL_UPDATE_URL: updates are on with the remote backend, so its update endpoint "
                          "is required")


def namespaces(cfg: Mapping[str, Any]) -> Namespaces:
    """The project's namespaces under the configured base."""
    return Namespaces(str(cfg["BASE_URI"]))


def remote_graph_prefix(cfg: Mapping[str, Any]) -> str:
    """The IRI prefix of this dataset's named graphs in a remote store.

    >>> remote_graph_prefix({"BASE_URI": "http://kg.test/", "SPARQL_GRAPH_PREFIX": ""})
    'http://kg.test/graph/'
    """
    return str(cfg.get("SPARQL_GRAPH_PREFIX") or namespaces(cfg).graph(""))


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
