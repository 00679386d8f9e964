"""The API's contract: every route is in the OpenAPI document, every error is problem details."""

from __future__ import annotations

import json
import re

import pytest
from flask import Blueprint, Flask
from pydantic import BaseModel, Field

from perception import create_app, hookimpl
from perception.web.api.base import ApiProblem, operation
from perception.web.api.openapi import document
from tests.test_api import make_token

PROBLEM_FIELDS = {"type", "title", "status", "detail"}


class Greeting(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    times: int = Field(default=1, ge=1, le=3)


class EchoPlugin:
    """A plugin with an operation of its own, declared the way the core declares its operations."""

    def __init__(self) -> None:
        self.blueprint = Blueprint("echo", __name__, url_prefix="/api/v1/echo")

        @operation(
            "POST", "/", bp=self.blueprint, summary="Greet", tag="echo", scope="reports:read", body=Greeting, status=201
        )
        def greet(body: Greeting) -> dict:
            if body.name == "nobody":
                raise ApiProblem(409, "nobody cannot be greeted")
            return {"greeting": " ".join([f"hello {body.name}"] * body.times)}

    @hookimpl
    def perception_register_blueprints(self, app: Flask) -> list[Blueprint]:
        return [self.blueprint]


@pytest.fixture
def echo_app(app_config: dict[str, object]) -> Flask:
    app = create_app(app_config, plugins=[EchoPlugin()])
    yield app
    app.extensions["perception"].engine.dispose()


def test_every_api_route_is_in_the_openapi_document(echo_app: Flask) -> None:
    doc = echo_app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    routed = {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule).rstrip("/"), method.lower())
        for rule in echo_app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path.rstrip("/"), method) for path, methods in doc["paths"].items() for method in methods}
    assert routed == documented
    assert ("/api/v1/echo", "post") in documented  # a plugin's operation is documented too
    assert doc["paths"]["/api/v1/surveys/{slug}/waves/{name}/report"]["get"]["x-scope"] == "reports:read"
    with echo_app.app_context():
        assert document(echo_app) == doc


def test_errors_are_problem_details_with_what_and_where(echo_app: Flask) -> None:
    client = echo_app.test_client()
    token = make_token(echo_app, ["reports:read"])
    auth = {"Authorization": f"Bearer {token}"}

    def check(response, status: int) -> dict:  # type: ignore[no-untyped-def]
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert set(body) >= PROBLEM_FIELDS and body["status"] == status
        return body

    ok = client.post("/api/v1/echo/", json={"name": "Ada", "times": 2}, headers=auth)
    assert ok.status_code == 201 and ok.get_json() == {"greeting": "hello Ada hello Ada"}
    check(client.post("/api/v1/echo/", json={"name": "Ada"}), 401)
    malformed = check(client.post("/api/v1/echo/", data='{"name": "Ada",', content_type="application/json",
                                  headers=auth), 400)  # fmt: skip
    assert "Malformed JSON" in malformed["detail"] and "line 1" in malformed["detail"]
    invalid = check(client.post("/api/v1/echo/", json={"name": "Ada", "times": 9}, headers=auth), 422)
    assert invalid["errors"][0]["field"] == "body.times" and "body.times" in invalid["detail"]
    check(client.post("/api/v1/echo/", data="name=Ada", headers=auth), 415)
    huge = json.dumps({"name": "x" * (3 * 1024 * 1024)})
    check(client.post("/api/v1/echo/", data=huge, content_type="application/json", headers=auth), 413)
    assert "nobody" in check(client.post("/api/v1/echo/", json={"name": "nobody"}, headers=auth), 409)["detail"]
    check(client.get("/api/v1/no/such/thing", headers=auth), 404)
    wrong_method = check(client.delete("/api/v1/openapi.json"), 405)
    assert "GET" in client.delete("/api/v1/openapi.json").headers["Allow"] and wrong_method["title"]
    bad_query = check(client.get("/api/v1/surveys/x/waves/y/report?segment=", headers=auth), 404)
    assert "No wave" in bad_query["detail"]
    assert client.get("/no/such/page").mimetype == "text/html"  # pages keep their HTML error


def test_the_reference_page_shows_every_operation_without_outside_resources(app: Flask) -> None:
    page = app.test_client().get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/v1/surveys/{slug}/waves/{name}/report" in html and "reports:read" in html
    assert 'id="schema-Report"' in html and 'id="schema-Problem"' in html
    assert "https://" not in html.split("</head>")[0]  # no stylesheet or script from a CDN
