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

from service.iris import DEFAULT_BASE, Namespaces

__all__ = ["DEFAULTS", "PROJECT_ROOT", "ConfigError", "validate", "init_logging", "namespaces", "make_config",
           "backbone_regions"]

#: The checkout the package runs from (the project is installed in editable mode).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    # Canonical base of every IRI the graph mints (must end with "/").
    "BASE_URI": DEFAULT_BASE,
    # Store backend: "oxigraph" (embedded, on disk).
    "BACKEND": "oxigraph",
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
    if cfg["BACKEND"] not in ("oxigraph",):
        raise ConfigError(f"KG_BACKEND: unknown backend {cfg['BACKEND']!r} (known: oxigraph)")
    try:
        cfg["QUERY_TIMEOUT"] = float(cfg["QUERY_TIMEOUT"])
    except (TypeError, ValueError):
        raise ConfigError(f"KG_QUERY_TIMEOUT: not a number: {cfg['QUERY_TIMEOUT']!r}") from None
    if cfg["QUERY_TIMEOUT"] <= 0:
        raise ConfigError("KG_QUERY_TIMEOUT: must be positive")
    regions = str(cfg["BACKBONE_REGIONS"]).strip()
    if regions != "all" and not all(code.strip().isalnum() for code in regions.split(",")):
        raise ConfigError(f"KG_BACKBONE_REGIONS: expected codes like '32,11' or 'all': {regions!r}")
    if str(cfg["LOG_LEVEL"]).upper() not in logging.getLevelNamesMapping():
        raise ConfigError(f"KG_LOG_LEVEL: unknown level {cfg['LOG_LEVEL']!r}")


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
