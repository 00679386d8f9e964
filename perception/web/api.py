"""The JSON API under /api/v1: bearer tokens with scopes, errors as RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from perception.db import get_session
from perception.report import gap_report, report_json
from perception.segments import SegmentError, parse_filter, resolve
from perception.surveys import items_of
from perception.tokens import authenticate, has_scope
from perception.waves import find_survey, find_wave

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    response = jsonify({"type": "about:blank", "title": title, "status": status, "detail": detail, **extra})
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def require(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let the call through with a live bearer token that has ``scope``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kind, _, clear = request.headers.get("Authorization", "").partition(" ")
            token = authenticate(get_session(), clear.strip()) if kind.lower() == "bearer" else None
            if token is None:
                response = problem(401, "Unauthorized", "Send a live API token: Authorization: Bearer <token>.")
                response.headers["WWW-Authenticate"] = 'Bearer realm="perception"'
                return response
            if not has_scope(token, scope):
                return problem(403, "Forbidden", f"This token lacks the scope {scope!r}.")
            g.api_token = token
            return view(*args, **kwargs)

        return wrapper

    return decorate


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return problem(error.code or 500, error.name, error.description or error.name)


@blueprint.route("/surveys/<slug>/waves/<name>/report")
@require("reports:read")
def report(slug: str, name: str) -> Response:
    """The wave's gap report, the same JSON as `perception report --format json`."""
    session = get_session()
    survey = find_survey(session, slug)
    wave = find_wave(session, survey, name) if survey else None
    if survey is None or wave is None:
        return problem(404, "Not Found", f"No wave {name!r} in survey {slug!r}.")
    try:
        filters = resolve(session, survey, [parse_filter(text) for text in request.args.getlist("segment")])
        built = gap_report(
            session, survey, wave, items_of(session, survey),
            current_app.extensions["perception"].registries.scoring_models,
            current_app.config["REPORTING_THRESHOLD"], filters,
        )  # fmt: skip
    except SegmentError as error:
        return problem(400, "Bad Request", str(error))
    return jsonify(report_json(built))
