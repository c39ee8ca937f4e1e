"""The project's errors, mapped to HTTP in one place.

::

    KGError                 500  base class
    ├── NotFound            404  unknown resource IRI or query name
    ├── BadQuery            400  SPARQL syntax error, bad parameter
    ├── NotAcceptable       406  no representation matches Accept
    ├── StoreUnavailable    503  the store is missing, locked or not built
    └── ReadOnly            403  a write on a read-only service

Each class carries its HTTP ``status`` and a default message. Library errors are
translated into this family at the boundary (the store modules); anything else is a
bug: it is logged with its traceback and the client gets a plain 500 without details.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask, Response

__all__ = ["KGError", "NotFound", "BadQuery", "NotAcceptable", "StoreUnavailable", "ReadOnly",
           "register_error_handlers"]

log = logging.getLogger(__name__)


class KGError(Exception):
    """Base of the family."""

    status = 500
    default = "Internal error."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default)
        self.message = message or self.default


class NotFound(KGError):
    status = 404
    default = "Not found."


class BadQuery(KGError):
    status = 400
    default = "Bad query."


class NotAcceptable(KGError):
    status = 406
    default = "None of the acceptable media types can be produced."


class StoreUnavailable(KGError):
    status = 503
    default = "The store is unavailable."


class ReadOnly(KGError):
    status = 403
    default = "The server is read-only."


def register_error_handlers(app: Flask) -> None:
    """Render the family (and stray HTTP errors) as short plain-text bodies."""
    from flask import Response
    from werkzeug.exceptions import HTTPException

    def plain(message: str, status: int) -> Response:
        resp = Response(message.rstrip("\n") + "\n", status=status, mimetype="text/plain")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    @app.errorhandler(KGError)
    def on_kg_error(exc: KGError) -> Response:
        return plain(exc.message, exc.status)

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        resp = plain(f"{exc.code} {exc.name}: {exc.description}", exc.code or 500)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def on_bug(exc: Exception) -> Response:
        log.exception("unhandled error")
        return plain("Internal server error.", 500)
