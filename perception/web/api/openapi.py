"""The OpenAPI 3.1 document, built from the routes themselves, and the page that shows it."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Flask, Response, current_app, render_template
from markupsafe import Markup, escape
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from perception.tokens import SCOPES
from perception.web.api.base import MAX_ID, PREFIX, PROBLEM, Operation, Problem, operation

_PART = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<arguments>[^)]*)\))?:)?(?P<name>\w+)>")
_CONVERTER_TYPES = {"int": {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "float": {"type": "number"}}
_STATUS_WORDS = {
    400: "The request cannot be read (malformed JSON, a bad cursor, a bad filter).",
    401: "No live API token.",
    403: "The token lacks the operation's scope.",
    404: "Nothing at this address.",
    409: "The request conflicts with the current state.",
    413: "The body is larger than the server accepts.",
    415: "The body is not of the declared media type.",
    422: "A field is invalid; `errors` names each one.",
    429: "Too many calls for this token; wait `Retry-After` seconds.",
    501: "The server lacks an optional package this call needs.",
}
_TAGS = {
    "api": "This document and its page.",
    "surveys": "Mirrored questionnaires: their definitions as survey files.",
    "waves": "Runs of a survey: list, open, close.",
    "responses": "Import answers gathered elsewhere; export them.",
    "reports": "Gap reports, as the comparison engine computes them.",
    "codebook": "What each exported column means.",
    "alerts": "Cases opened by unhappy customers' answers or widening gaps: list them, update them.",
    "invitations": "Invitations to answer, sent through a channel: one for a hot survey, or a list.",
    "ideas": "The idea box, as employees see it: never a hidden idea, never an anonymous author.",
    "stories": "Best failures, once a lead has published them.",
}


def _version() -> str:
    try:
        return version("perception")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0"


def type_words(schema: dict[str, Any]) -> str:
    """A schema's type in a few words for the reference page: `integer | null`, `array of Item`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(type_words(option) for option in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(f'"{value}"' for value in schema["enum"])
    if "const" in schema:
        return f'"{schema["const"]}"'
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_words(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_words(schema['additionalProperties'])}"
    return str(kind)


def code_spans(text: str | None) -> Markup:
    """Text of the document with its `code` spans set as code, everything else escaped."""
    parts = escape(text or "").split("`")
    return Markup("".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)))


def operations(app: Flask) -> list[tuple[str, Operation]]:
    """Every operation routed under /api/v1, with its OpenAPI path."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        op = getattr(app.view_functions[rule.endpoint], "api_operation", None)
        if op is not None:
            found.append((_PART.sub(r"{\g<name>}", rule.rule), op))
    return sorted(found, key=lambda pair: (pair[0], pair[1].method))


def _path_schema(match: re.Match[str]) -> dict[str, Any]:
    if match["converter"] == "any":
        return {"type": "string", "enum": [word.strip(" '\"") for word in match["arguments"].split(",")]}
    return _CONVERTER_TYPES.get(match["converter"] or "", {"type": "string"})


def _parameters(path: str, rule: str, op: Operation, schemas: dict[Any, Any]) -> list[dict[str, Any]]:
    parameters = [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            "schema": _path_schema(match),
        }
        for match in _PART.finditer(rule)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            prop = {key: value for key, value in prop.items() if key != "title"}
            description = prop.pop("description", None)
            parameter = {"name": name, "in": "query", "required": name in schema.get("required", ()), "schema": prop}
            if description:
                parameter["description"] = description
            if prop.get("type") == "array":
                parameter.update(style="form", explode=True)
            parameters.append(parameter)
    return parameters


def _responses(op: Operation, schemas: dict[Any, Any]) -> dict[str, Any]:
    if op.response is not None:
        ok: dict[str, Any] = {op.response_media: {"schema": schemas[(op.response, "serialization")]}}
    elif op.response_media == "application/json":
        ok = {"application/json": {"schema": {"type": "object"}}}
    elif isinstance(op.response_media, tuple):
        ok = {media: {"schema": {}} for media in op.response_media}
    else:
        ok = {op.response_media: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): {"description": op.summary, "content": ok}}
    statuses = set(op.extra_statuses)
    if op.scope is not None:
        statuses |= {401, 403, 429}
    if op.query is not None or op.body is not None:
        statuses |= {422}
    if op.body is not None or op.body_media != "application/json":
        statuses |= {400, 413, 415}
    if "{" in op.rule or "<" in op.rule:
        statuses |= {404}
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
    responses["default"] = {"$ref": "#/components/responses/default"}
    return responses


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this application's API (plugins' operations included)."""
    found = operations(app)
    models: set[type[BaseModel]] = {Problem}
    for _path, op in found:
        models |= {model for model in (op.body, op.response) if model is not None}
    keyed = [(model, "serialization") for model in models] + [(op.body, "validation") for _, op in found if op.body]
    schemas, definitions = models_json_schema(
        sorted(set(keyed), key=lambda pair: (pair[0].__name__, pair[1])),
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for path, op in found:
        entry: dict[str, Any] = {
            "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path[len(PREFIX) :].lower()).strip('_')}",
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(path, op.rule, op, schemas),
            "responses": _responses(op, schemas),
        }
        if op.description:
            entry["description"] = op.description
        if op.scope is None:
            entry["security"] = []
        else:
            entry["security"] = [{"token": [op.scope]}]
            entry["x-scope"] = op.scope
        if op.body is not None:
            body_schema = schemas[(op.body, "validation")]
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
        elif op.body_media != "application/json":
            entry["requestBody"] = {"required": True, "content": {op.body_media: {"schema": {"type": "string"}}}}
        paths.setdefault(path, {})[op.method.lower()] = entry
    problem_ref = schemas[(Problem, "serialization")]
    problem_content = {PROBLEM: {"schema": problem_ref}}
    responses = {
        str(status): {"description": words, "content": problem_content} for status, words in _STATUS_WORDS.items()
    }
    responses["429"]["headers"] = {
        "Retry-After": {"description": "Seconds until the token may call again.", "schema": {"type": "integer"}}
    }
    responses["default"] = {"description": "Any other error, as problem details.", "content": problem_content}
    used_tags = sorted({op.tag for _, op in found})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "perception API",
            "version": _version(),
            "description": (
                "Mirrored customer and employee surveys, their waves, responses and gap reports. Every call but "
                "this document's needs a bearer token that an admin makes on the API tokens page, with the "
                "operation's scope. Errors are problem details (RFC 9457); lists are paginated with signed "
                "cursors; each token has a rate limit (429 with Retry-After)."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": tag, "description": _TAGS.get(tag, "")} for tag in used_tags],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "responses": responses,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Scopes: " + "; ".join(f"`{name}` ({words})" for name, words in SCOPES.items()),
                }
            },
        },
    }


@operation("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", tag="api", scope=None)
def openapi_json() -> dict[str, Any]:
    return document(current_app)


@operation("GET", "/docs", summary="This API's reference, as a page", tag="api", scope=None, response_media="text/html")
def docs() -> Response:
    page = render_template("api/docs.html", doc=document(current_app), type_words=type_words, words=code_spans)
    return Response(page, mimetype="text/html")
