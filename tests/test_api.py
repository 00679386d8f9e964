"""The report through the API: a token made by an admin, with the right scope, gives the CLI's JSON."""

from __future__ import annotations

import json
import re

from flask import Flask
from sqlalchemy import text

from perception.db import engine_of
from tests.conftest import post_form, sign_in
from tests.test_report import ALL, seed


def make_token(app: Flask, scopes: list[str], name: str = "BI dashboard") -> str:
    admin = sign_in(app, "admin")
    page = post_form(admin, "/accounts/tokens", {"name": name, "scopes": scopes}).get_data(as_text=True)
    return re.search(r'readonly value="(pct_[^"]+)"', page).group(1)


def test_a_token_with_reports_read_gets_the_same_json_as_the_command(app: Flask) -> None:
    seed(app, ALL)
    token = make_token(app, ["reports:read"])
    response = app.test_client().get(
        "/api/v1/surveys/gaps/waves/w1/report", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.mimetype == "application/json"
    from_cli = json.loads(app.test_cli_runner().invoke(args=["report", "--survey", "gaps", "--wave", "w1"]).output)
    assert response.get_json() == from_cli
    with engine_of(app).connect() as connection:
        stored = connection.execute(text("SELECT token_hash, last_used_on FROM api_token")).one()
    assert token not in stored[0] and len(stored[0]) == 64  # only a hash is kept
    assert stored[1] is not None  # last use is shown
    page = sign_in(app, "admin").get("/accounts/tokens").get_data(as_text=True)
    assert "BI dashboard" in page and token not in page  # shown once, when made


def test_missing_wrong_revoked_or_narrow_tokens_get_problem_details(app: Flask) -> None:
    seed(app, ALL)
    client = app.test_client()
    url = "/api/v1/surveys/gaps/waves/w1/report"
    missing = client.get(url)
    assert missing.status_code == 401 and missing.mimetype == "application/problem+json"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(missing.get_json()) >= {"type", "title", "status", "detail"}
    assert client.get(url, headers={"Authorization": "Bearer pct_not-a-token"}).status_code == 401
    narrow = make_token(app, ["responses:import"], "importer")
    forbidden = client.get(url, headers={"Authorization": f"Bearer {narrow}"})
    assert forbidden.status_code == 403 and "reports:read" in forbidden.get_json()["detail"]
    token = make_token(app, ["reports:read"], "reader")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/surveys/gaps/waves/nope/report", headers=headers).status_code == 404
    bad = client.get(url + "?segment=employee:team=Blue", headers=headers)
    assert bad.status_code == 400 and "no employee segment 'team'" in bad.get_json()["detail"]
    admin = sign_in(app, "admin")
    page = admin.get("/accounts/tokens").get_data(as_text=True)
    token_id = re.findall(r"/accounts/tokens/(\d+)/revoke", page)[0]  # newest first: "reader"
    assert post_form(admin, f"/accounts/tokens/{token_id}/revoke", {}, token_from="/accounts/tokens").status_code == 302
    assert client.get(url, headers=headers).status_code == 401


def test_a_token_needs_a_name_and_a_known_scope(app: Flask) -> None:
    admin = sign_in(app, "admin")
    assert post_form(admin, "/accounts/tokens", {"name": "x", "scopes": ["root"]}).status_code == 422
    assert post_form(admin, "/accounts/tokens", {"name": "", "scopes": ["reports:read"]}).status_code == 422
    assert sign_in(app, "lead").get("/accounts/tokens").status_code == 403
