"""territory-kg: a knowledge graph and linked-open-data service about regional economies.

Importing this package does nothing heavy: :func:`create_app` builds the Flask app.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["create_app", "__version__"]


def create_app(overrides: dict[str, Any] | None = None) -> Any:
    """Build the Flask application.

    Configuration comes from :mod:`service.config` defaults, then ``KG_*`` environment
    variables, then ``overrides`` (tests). The store is opened lazily, on first use.

    :param overrides: configuration values that win over everything else.
    :raises service.config.ConfigError: if a setting is missing or malformed.
    """
    from flask import Flask

    from service import catalogue, config, errors, store, writes
    from service.store import executor
    from service.web import api, fairuse, frontcache, graphstore, meta, pages, queryui, sparql, update

    app = Flask(__name__)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_prefixed_env("KG")
    if overrides:
        app.config.from_mapping(overrides)
    config.validate(app.config)
    config.init_logging(app.config)
    store.init_app(app)
    executor.init_app(app)
    errors.register_error_handlers(app)
    fairuse.init_app(app)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(queryui.bp)
    writes.init_app(app)
    app.register_blueprint(update.bp)
    app.register_blueprint(graphstore.bp)
    catalogue.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(meta.bp)
    pages.init_app(app)
    frontcache.init_app(app)  # after fair use and the page settings it reads

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    from service import cli

    cli.init_app(app)
    return app
