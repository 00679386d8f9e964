"""How an API operation is declared: one decorator routes the view and describes it.

`operation` is the only way a view joins /api/v1. It checks the bearer token and its scope,
parses and validates the query and the body against the declared models (pydantic), turns the
view's return value into JSON, and leaves on the view the `Operation` that the OpenAPI document
is built from, so that the document and the routes cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, get_args, get_origin

from flask import Blueprint, Response, current_app, g, jsonify, request
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, Field, ValidationError, create_model
from werkzeug.exceptions import HTTPException

from perception.db import get_session
from perception.tokens import authenticate, has_scope
from perception.web.api.limits import count_call

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"
MAX_ID = 2**31 - 1  # the largest id an integer column holds on every database
blueprint = Blueprint("api", __name__, url_prefix=PREFIX)


class ApiProblem(Exception):
    """Raised by a view to answer with problem details (RFC 9457)."""

    def __init__(self, status: int, detail: str, errors: Iterable[Mapping[str, str]] = (), **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra


def problem(status: int, detail: str, title: str | None = None, **extra: Any) -> Response:
    """Problem details: one JSON shape for every error the API gives."""
    from werkzeug.http import HTTP_STATUS_CODES

    body = {"type": "about:blank", "title": title or HTTP_STATUS_CODES.get(status, "Error"), "status": status,
            "detail": detail, **{key: value for key, value in extra.items() if value}}  # fmt: skip
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="perception"'
    if extra.get("retry_after"):
        response.headers["Retry-After"] = str(extra["retry_after"])
    return response


def wants_problem() -> bool:
    """Whether the current request is an API call, whose errors are problem details, not pages."""
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


class Problem(BaseModel):
    """The body of every error (RFC 9457 problem details)."""

    type: str = Field(description="A URI naming the kind of problem; `about:blank` when the status says it all.")
    title: str = Field(description="The HTTP status, in words.")
    status: int
    detail: str = Field(description="What went wrong, and where, for a person to read.")
    errors: list[FieldError] | None = Field(default=None, description="Each invalid field (422).")
    retry_after: int | None = Field(default=None, description="Seconds to wait before calling again (429).")


class FieldError(BaseModel):
    field: str = Field(description="Where: `body.items[2].key`, `query.limit`, `path.slug`.")
    message: str


Problem.model_rebuild()


@dataclass(frozen=True)
class Operation:
    """One API operation: what the OpenAPI document says of it, and what its view checks."""

    method: str
    rule: str
    summary: str
    tag: str
    scope: str | None
    description: str = ""
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    response: type[BaseModel] | None = None
    response_media: str | tuple[str, ...] = "application/json"
    status: int = 200
    paginated: bool = False
    extra_statuses: tuple[int, ...] = field(default_factory=tuple)


class PageQuery(BaseModel):
    """Cursor pagination: `limit` items after the `cursor` the previous page gave."""

    cursor: str | None = Field(default=None, max_length=200, description="`next_cursor` of the previous page.")
    limit: int = Field(default=50, ge=1, le=200, description="Items per page.")


def page_of(model: type[BaseModel]) -> type[BaseModel]:
    """The response model of a paginated list of `model`."""
    return create_model(
        f"{model.__name__}Page",
        data=(list[model], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, Field(description="Pass it as `cursor` for the next page; null on the last.")),
    )


def _field_name(location: str, loc: Iterable[Any]) -> str:
    path = location
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _validation_problem(location: str, error: ValidationError) -> ApiProblem:
    errors = [{"field": _field_name(location, item["loc"]), "message": item["msg"]} for item in error.errors()]
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiProblem(422, f"{first['field']}: {first['message']}{more}", errors)


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) in (list, tuple):
        return True
    return any(get_origin(arg) in (list, tuple) for arg in get_args(annotation))


def _unstorable(value: Any, where: str) -> str | None:
    """Where a text holds what no database column takes (a NUL, a lone surrogate), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return where
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return None
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
        for key, inner in items:
            found = _unstorable(key, where) or _unstorable(inner, f"{where}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, inner in enumerate(value):
            found = _unstorable(inner, f"{where}[{index}]")
            if found:
                return found
    return None


def _refuse_unstorable(value: Any, where: str) -> None:
    found = _unstorable(value, where)
    if found:
        message = "holds a NUL character or a lone surrogate, which no text may hold"
        raise ApiProblem(422, f"{found}: {message}", errors=[{"field": found, "message": message}])


def _parse_query(model: type[BaseModel]) -> BaseModel:
    raw: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in request.args:
            raw[name] = request.args.getlist(name) if _is_list(info.annotation) else request.args[name]
    _refuse_unstorable(raw, "query")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise _validation_problem("query", error) from None


def _parse_body(op: Operation) -> Any:
    data = request.get_data(cache=False)
    if op.body_media != "application/json":
        if request.mimetype != op.body_media:
            raise ApiProblem(415, f"Send the body as {op.body_media}, not {request.mimetype or 'nothing'}.")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ApiProblem(400, f"The body is not UTF-8 text (byte {error.start}).") from None
        _refuse_unstorable(text, "body")
        return text
    if request.mimetype != "application/json":
        raise ApiProblem(415, f"Send the body as application/json, not {request.mimetype or 'nothing'}.")
    try:
        raw = json.loads(data)
    except UnicodeDecodeError as error:
        raise ApiProblem(400, f"The body is not UTF-8 text (byte {error.start}).") from None
    except json.JSONDecodeError as error:
        raise ApiProblem(400, f"Malformed JSON: {error.msg} at line {error.lineno}, column {error.colno}.") from None
    _refuse_unstorable(raw, "body")
    assert op.body is not None
    try:
        return op.body.model_validate(raw)
    except ValidationError as error:
        raise _validation_problem("body", error) from None


def _authenticate(scope: str) -> None:
    kind, _, clear = request.headers.get("Authorization", "").partition(" ")
    token = authenticate(get_session(), clear.strip()) if kind.lower() == "bearer" else None
    if token is None:
        raise ApiProblem(401, "Send a live API token: Authorization: Bearer <token>.")
    wait = count_call(current_app, token.id)
    if wait is not None:
        limit = current_app.config["API_RATE_LIMIT"]
        raise ApiProblem(429, f"This token made more than {limit} calls this minute; wait {wait} s.", retry_after=wait)
    if not has_scope(token, scope):
        raise ApiProblem(403, f"This token lacks the scope {scope!r}.")
    g.api_token = token


def _as_response(op: Operation, result: Any) -> Response:
    if isinstance(result, Response):
        return result
    headers: Mapping[str, str] = {}
    if isinstance(result, tuple):
        result, headers = result
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    response = jsonify(result)
    response.status_code = op.status
    response.headers.update(headers)
    return response


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    scope: str | None,
    bp: Blueprint = blueprint,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route `rule` (under /api/v1) to the view and describe it for the OpenAPI document.

    The view gets the path's parts as keyword arguments, plus `query` (a validated instance of
    `query`) and `body` (a validated instance of `body`, or the text for a non-JSON body) when
    declared. It returns a pydantic model, a JSON-able value, or a `Response`; it raises
    `ApiProblem` for errors. `scope=None` makes the operation public.
    """
    op = Operation(method=method.upper(), rule=rule, summary=summary, tag=tag, scope=scope, **options)
    if op.paginated and op.query is None:
        op = Operation(**{**op.__dict__, "query": PageQuery})

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            try:
                if op.scope is not None:
                    _authenticate(op.scope)
                for name, value in kwargs.items():
                    _refuse_unstorable(value, f"path.{name}")
                    if isinstance(value, int) and not 0 <= value <= MAX_ID:  # beyond any row's id
                        raise ApiProblem(404, f"path.{name}: no row has the id {value}")
                if op.query is not None:
                    kwargs["query"] = _parse_query(op.query)
                if op.body is not None or op.body_media != "application/json":
                    kwargs["body"] = _parse_body(op)
                return _as_response(op, view(**kwargs))
            except ApiProblem as error:
                return problem(error.status, error.detail, errors=error.errors, **error.extra)

        wrapper.api_operation = op  # type: ignore[attr-defined]
        bp.add_url_rule(rule, view_func=wrapper, methods=[op.method])
        return wrapper

    return decorate


# Cursors: signed, so that a client can only continue a list from where this API left it.


def _cursor_serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=f"perception.api.cursor.{kind}")


def encode_cursor(kind: str, after: Any) -> str:
    """A cursor to continue the list `kind` after the row whose key is `after`."""
    return str(_cursor_serializer(kind).dumps(after))


def decode_cursor(kind: str, cursor: str | None) -> Any:
    """The key a cursor continues after, or None for the first page; a forged cursor is refused."""
    if cursor is None:
        return None
    try:
        return _cursor_serializer(kind).loads(cursor)
    except BadSignature:
        raise ApiProblem(
            400, "query.cursor: not a cursor this list gave; pass `next_cursor` as it came.",
            errors=[{"field": "query.cursor", "message": "not a cursor this list gave"}],
        ) from None  # fmt: skip


def page(kind: str, rows: list[Any], limit: int, key: Callable[[Any], Any]) -> tuple[list[Any], str | None]:
    """Cut `rows` (fetched with `limit + 1`) to the page and make the next page's cursor."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(kind, key(rows[-1]))


def api_error(error: HTTPException) -> Response:
    """An HTTP error raised under /api/v1 (no such route, a body too large, a plugin's abort) as
    problem details."""
    response = problem(error.code or 500, error.description or error.name)
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


@blueprint.app_errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response | HTTPException:
    return api_error(error) if wants_problem() else error
