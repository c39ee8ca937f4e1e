"""Blueprint ``sparql``: the SPARQL 1.1 query endpoint at ``/sparql``."""

from __future__ import annotations

from flask import Blueprint, Response, request

from service.errors import BadQuery, NotAcceptable
from service.store import get_store

bp = Blueprint("sparql", __name__)

RESULT_TYPES = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"]
GRAPH_TYPES = ["text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json",
               "application/n-quads", "application/trig"]


def _query_text() -> str:
    if request.method == "GET":
        queries = request.args.getlist("query")
    elif request.mimetype == "application/sparql-query":
        queries = [request.get_data(as_text=True)]
    elif request.mimetype == "application/x-www-form-urlencoded":
        queries = request.form.getlist("query")
    else:
        raise BadQuery("POST needs application/sparql-query or application/x-www-form-urlencoded.")
    if len(queries) != 1 or not queries[0].strip():
        raise BadQuery("Give exactly one non-empty 'query'.")
    return queries[0]


@bp.route("/sparql", methods=["GET", "POST"])
def query() -> Response:
    """Run one query; the answer's format follows ``Accept``."""
    text = _query_text()
    accept = request.accept_mimetypes
    result_type = accept.best_match(RESULT_TYPES, default=None) if accept else RESULT_TYPES[0]
    graph_type = accept.best_match(GRAPH_TYPES, default=None) if accept else GRAPH_TYPES[0]
    if result_type is None and graph_type is None:
        raise NotAcceptable()
    out = get_store().execute(text, result_format=result_type or RESULT_TYPES[0],
                              graph_format=graph_type or GRAPH_TYPES[0])
    if (out.kind == "graph" and graph_type is None) or (out.kind != "graph" and result_type is None):
        raise NotAcceptable()
    resp = Response(out.body, mimetype=out.media_type)
    resp.headers["Vary"] = "Accept"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
