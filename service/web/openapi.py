"""The named-query catalogue described for machines (OpenAPI 3.0) and for the catalogue JSON.

Everything here is generated from :class:`service.catalogue.Catalogue`: one operation per
query, with its parameters (types, enums, defaults, examples), the shared ``format``,
``limit`` and ``offset`` parameters, and the media types each query answers in.
"""

from __future__ import annotations

from typing import Any

from service.catalogue import DEFAULT_LIMIT, MAX_LIMIT, MAX_VALUE_LENGTH, Catalogue, NamedQuery, Param

__all__ = ["query_summary", "openapi_document", "param_schema", "MEDIA_TYPES"]

#: Media types per ``returns``, in the order of the ``format=`` names of :mod:`service.web.api`.
MEDIA_TYPES: dict[str, dict[str, str]] = {
    "table": {"json": "application/sparql-results+json", "records": "application/json", "csv": "text/csv",
              "tsv": "text/tab-separated-values"},
    "graph": {"turtle": "text/turtle", "jsonld": "application/ld+json", "ntriples": "application/n-triples",
              "csv": "text/csv", "tsv": "text/tab-separated-values"},
}

_SCHEMAS: dict[str, dict[str, Any]] = {
    "iri": {"type": "string", "maxLength": MAX_VALUE_LENGTH,
            "description": "An absolute http(s) IRI, a short form like commune/59350 (under {BASE}id/) "
                           "or a CURIE like eco:areaInferred"},
    "string": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "year": {"type": "integer", "minimum": 1000, "maximum": 9999},
    "language": {"type": "string", "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"},
}


def param_schema(param: Param) -> dict[str, Any]:
    """The JSON schema of one parameter.

    >>> param_schema(Param("lang", "language", default="en", enum=("en", "fr")))["enum"]
    ['en', 'fr']
    """
    schema = dict(_SCHEMAS[param.type])
    cast = {"integer": int, "year": int, "decimal": float}.get(param.type, str)
    if param.enum:
        schema["enum"] = [cast(v) for v in param.enum]
    if param.default is not None:
        schema["default"] = cast(param.default)
    return schema


def query_summary(query: NamedQuery) -> dict[str, Any]:
    """One catalogue entry, as ``GET /api/queries`` lists it."""
    return {
        "name": query.name,
        "summary": dict(query.summary),
        "description": dict(query.description),
        "tags": list(query.tags),
        "returns": query.returns,
        "params": [{"name": p.name, "type": p.type, "required": p.required, "default": p.default,
                    "example": query.example.get(p.name), "enum": list(p.enum) or None,
                    "description": dict(p.description)} for p in query.params],
        "example": dict(query.example),
        "formats": list(MEDIA_TYPES[query.returns]),
        "media_types": list(MEDIA_TYPES[query.returns].values()),
        "url": f"/api/queries/{query.name}",
    }


def _operation(query: NamedQuery) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    for p in query.params:
        spec: dict[str, Any] = {"name": p.name, "in": "query", "required": p.required,
                                "description": " / ".join(p.description.values()) or p.name,
                                "schema": param_schema(p)}
        if p.name in query.example:
            spec["example"] = query.example[p.name]
        params.append(spec)
    formats = list(MEDIA_TYPES[query.returns])
    params += [{"name": "format", "in": "query", "required": False,
                "description": "Answer format; overrides Accept", "schema": {"type": "string", "enum": formats}},
               {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/offset"}]
    content: dict[str, Any] = {}
    for media in MEDIA_TYPES[query.returns].values():
        schema: dict[str, Any] = {"type": "string"}
        if media == "application/sparql-results+json":
            schema = {"$ref": "#/components/schemas/SparqlResults"}
        elif media == "application/json":
            schema = {"type": "array", "items": {"type": "object", "additionalProperties": True}}
        elif media == "application/ld+json":
            schema = {"type": "object", "additionalProperties": True}
        content[media] = {"schema": schema}
    return {
        "operationId": "query_" + query.name.replace("-", "_"),
        "summary": query.summary["en"],
        "description": f"{query.description['en']}\n\n*{query.summary['fr']}.* {query.description['fr']}",
        "tags": list(query.tags),
        "parameters": params,
        "responses": {
            "200": {"description": f"One page of the answer ({query.returns})", "content": content,
                    "headers": {"Link": {"description": 'rel="next" / rel="prev" pages',
                                         "schema": {"type": "string"}}}},
            **{code: {"$ref": f"#/components/responses/{name}"} for code, name in
               (("400", "BadRequest"), ("404", "NotFound"), ("406", "NotAcceptable"), ("413", "TooLarge"),
                ("503", "Unavailable"))},
        },
    }


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def openapi_document(catalogue: Catalogue, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the API (every named query one ``GET`` operation)."""
    paths: dict[str, Any] = {
        "/api/queries": {"get": {"operationId": "list_queries", "summary": "The catalogue of named queries",
                                 "tags": ["catalogue"],
                                 "responses": {"200": {"description": "Every named query", "content": {
                                     "application/json": {"schema": {"type": "array",
                                                                     "items": {"type": "object"}}}}}}}},
        "/api/openapi.json": {"get": {"operationId": "openapi", "summary": "This document", "tags": ["catalogue"],
                                      "responses": {"200": {"description": "OpenAPI 3.0 document", "content": {
                                          "application/json": {"schema": {"type": "object"}}}}}}},
    }
    for query in catalogue:
        paths[f"/api/queries/{query.name}"] = {"get": _operation(query)}
    tags = sorted({t for q in catalogue for t in q.tags} | {"catalogue"})
    return {
        "openapi": "3.0.3",
        "info": {"title": "territory-kg named queries", "version": version,
                 "description": "Curated, parameterised questions on the Hauts-de-France economy knowledge graph. "
                                "Parameters are bound as typed RDF terms, never pasted into SPARQL.",
                 "license": {"name": "MIT (code), CC BY 4.0 (data)"}},
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in tags],
        "paths": paths,
        "components": {
            "parameters": {
                "limit": {"name": "limit", "in": "query", "required": False,
                          "description": f"Page size (larger values are clamped to {MAX_LIMIT})",
                          "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}},
                "offset": {"name": "offset", "in": "query", "required": False, "description": "Rows to skip",
                           "schema": {"type": "integer", "minimum": 0, "default": 0}},
            },
            "schemas": {
                "SparqlResults": {"type": "object", "required": ["head", "results"], "properties": {
                    "head": {"type": "object", "properties": {"vars": {"type": "array", "items": {"type": "string"}}}},
                    "results": {"type": "object", "properties": {"bindings": {"type": "array", "items": {
                        "type": "object", "additionalProperties": {"type": "object"}}}}}}},
                "Problem": {"type": "object", "required": ["status", "detail", "code"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "code": {"type": "string"}}, "additionalProperties": True},
            },
            "responses": {
                "BadRequest": _problem("A parameter is invalid, missing or unknown"),
                "NotFound": _problem("No such named query"),
                "NotAcceptable": _problem("No offered media type matches Accept"),
                "TooLarge": _problem("A parameter value is too long"),
                "Unavailable": _problem("The store cannot answer"),
            },
        },
    }
