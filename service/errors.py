"""The project's errors, mapped to HTTP in one place.

::

    KGError                 500  base class
    ├── NotFound            404  unknown resource IRI or query name
    ├── BadQuery            400  SPARQL syntax error, bad parameter
    │   └── BadParameter    400  a named query's parameter is wrong, missing or unknown
    ├── NotAcceptable       406  no representation matches Accept
    ├── UnsupportedMediaType 415 a POST body of a wrong or missing media type
    ├── QueryRefused        422  a feature the endpoint refuses (SERVICE, FROM naming no local graph)
    ├── ResultTooLarge      422  an answer over the row/triple/byte caps (never truncated)
    ├── StoreUnavailable    503  the store is missing, locked or not built
    │   ├── QueryTimeout    503  a query ran past its hard timeout (its worker was killed)
    │   ├── Busy            503  no free query worker in time (sends Retry-After)
    │   ├── UpstreamError   502  the remote engine is unreachable, failed or answered incompletely
    │   ├── UpstreamTimeout 504  the remote engine did not answer within the read timeout
    │   └── InsufficientStorage 507  a write found the store's disk full (reads go on)
    ├── Unauthorized        401  a write without a valid bearer token (sends WWW-Authenticate)
    ├── ReadOnly            403  a write on a read-only service
    ├── PayloadTooLarge     413  a parameter, query or body beyond the size limit
    └── TooManyRequests     429  a client over its fair-use limits (sends Retry-After)

Each class carries its HTTP ``status`` and a default message; ``retry_after`` (seconds), when
set on a class or an instance, becomes a ``Retry-After`` header. Library errors are
translated into this family at the boundary (the store modules); anything else is a
bug: it is logged with its traceback and the client gets a plain 500 without details.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask, Response

__all__ = ["KGError", "NotFound", "BadQuery", "BadParameter", "NotAcceptable", "StoreUnavailable",
           "UpstreamError", "UpstreamTimeout", "ReadOnly", "register_error_handlers", "PayloadTooLarge",
           "UnsupportedMediaType", "QueryRefused", "ResultTooLarge", "QueryTimeout", "Busy", "Unauthorized",
           "TooManyRequests", "InsufficientStorage"]

log = logging.getLogger(__name__)


class KGError(Exception):
    """Base of the family."""

    status = 500
    default = "Internal error."
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message or self.default)
        self.message = message or self.default
        if retry_after is not None:
            self.retry_after = retry_after


class NotFound(KGError):
    status = 404
    default = "Not found."


class BadQuery(KGError):
    status = 400
    default = "Bad query."


class BadParameter(BadQuery):
    """A named query's parameters do not fit its declaration.

    :param code: a stable machine-readable reason (``invalid-parameter``,
        ``missing-parameters``, ``unknown-parameters``).
    :param details: what the client needs to fix it (the parameter, the allowed values…).
    """

    default = "Bad parameter."

    def __init__(self, message: str | None = None, *, code: str = "invalid-parameter",
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}


class NotAcceptable(KGError):
    status = 406
    default = "None of the acceptable media types can be produced."


class UnsupportedMediaType(KGError):
    status = 415
    default = "Unsupported media type."


class QueryRefused(KGError):
    status = 422
    default = "The query uses a feature this endpoint refuses."


class ResultTooLarge(KGError):
    status = 422
    default = "The result is too large."


class StoreUnavailable(KGError):
    status = 503
    default = "The store is unavailable."


class QueryTimeout(StoreUnavailable):
    default = "The query exceeded its time limit."


class Busy(StoreUnavailable):
    default = "All query workers are busy; retry later."
    retry_after = 5


class UpstreamError(StoreUnavailable):
    status = 502
    default = "The remote SPARQL engine is unreachable or gave an unusable answer."


class UpstreamTimeout(StoreUnavailable):
    status = 504
    default = "The remote SPARQL engine did not answer in time."


class InsufficientStorage(StoreUnavailable):
    status = 507
    default = ("The server's storage is full: the write was not applied. Reads go on; writes resume once "
               "space is freed.")


class Unauthorized(KGError):
    """A write without a valid bearer token; ``challenge`` is the ``WWW-Authenticate`` value."""

    status = 401
    default = "A bearer token is required."
    challenge = 'Bearer realm="territory-kg"'

    def __init__(self, message: str | None = None, *, challenge: str | None = None) -> None:
        super().__init__(message)
        if challenge is not None:
            self.challenge = challenge


class ReadOnly(KGError):
    status = 403
    default = "The server is read-only."


class PayloadTooLarge(KGError):
    status = 413
    default = "The request is too large."


class TooManyRequests(KGError):
    status = 429
    default = "Too many requests from this client; retry later."
    retry_after = 1


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
        resp = plain(exc.message, exc.status)
        if exc.retry_after is not None:
            resp.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthorized):
            resp.headers["WWW-Authenticate"] = exc.challenge
        return resp

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
