"""Surveys, waves, responses and the codebook through the API, as another tool would use them."""

from __future__ import annotations

import copy
import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from perception import create_app, hookimpl
from perception.db import session_scope
from perception.surveys import parse_definition, store_definition
from perception.tokens import create_token
from tests.test_exports import DEFINITION, seed


def token_for(app: Flask, *scopes: str) -> dict[str, str]:
    """The Authorization header of a new token with these scopes."""
    with session_scope(app) as session:
        _token, clear = create_token(session, "integration", list(scopes), None)
    return {"Authorization": f"Bearer {clear}"}


def call(client: FlaskClient, method: str, path: str, headers: dict[str, str], **kw):  # type: ignore[no-untyped-def]
    return client.open("/api/v1" + path, method=method, headers=headers, **kw)


def test_a_survey_definition_goes_out_and_comes_back_in_under_another_slug(app: Flask) -> None:
    seed(app, employees=[])
    client = app.test_client()
    headers = token_for(app, "reports:read", "surveys:manage")
    listed = call(client, "GET", "/surveys", headers).get_json()
    assert [survey["slug"] for survey in listed["data"]] == ["shop"] and listed["next_cursor"] is None
    assert listed["data"][0]["items"] == 2 and listed["data"][0]["waves"] == 1
    definition = call(client, "GET", "/surveys/shop/definition", headers).get_json()
    assert definition["segments"]["customer"] == {"region": ["North", "South"]}
    copied = {**copy.deepcopy(definition), "slug": "shop-copy"}
    made = call(client, "POST", "/surveys", headers, json=copied)
    assert made.status_code == 201 and made.headers["Location"].endswith("/api/v1/surveys/shop-copy")
    assert call(client, "GET", "/surveys/shop-copy/definition", headers).get_json() == copied
    taken = call(client, "POST", "/surveys", headers, json=copied)
    assert taken.status_code == 409 and "exists already" in taken.get_json()["detail"]
    copied["items"][0]["scale"] = "stars"
    wrong = call(client, "POST", "/surveys", headers, json=copied).get_json()
    assert wrong["status"] == 422 and wrong["errors"][0]["field"] == "body.items[0].scale"
    copied["items"][0].update(scale="ces", customer={"fr": "Facile ?"})
    untold = call(client, "POST", "/surveys", headers, json=copied).get_json()
    assert untold["status"] == 422 and "customer needs a wording in the default language" in untold["detail"]
    renamed = call(client, "PUT", "/surveys/shop-copy/definition", headers, json={**definition, "slug": "other"})
    assert renamed.status_code == 422 and renamed.get_json()["errors"][0]["field"] == "body.slug"
    definition["title"] = {"en": "Shop, again"}
    replaced = call(client, "PUT", "/surveys/shop-copy/definition", headers, json={**definition, "slug": "shop-copy"})
    assert replaced.status_code == 200 and replaced.get_json()["title"] == {"en": "Shop, again"}
    assert call(client, "GET", "/surveys/nope", headers).status_code == 404


def test_lists_come_in_pages_with_signed_cursors(app: Flask) -> None:
    models = app.extensions["perception"].registries.scoring_models
    with session_scope(app) as session:
        for slug in ("alpha", "bravo", "charlie"):
            store_definition(session, parse_definition({**DEFINITION, "slug": slug}, models))
    client = app.test_client()
    headers = token_for(app, "reports:read")
    first = call(client, "GET", "/surveys?limit=2", headers).get_json()
    assert [survey["slug"] for survey in first["data"]] == ["alpha", "bravo"]
    second = call(client, "GET", f"/surveys?limit=2&cursor={first['next_cursor']}", headers).get_json()
    assert [survey["slug"] for survey in second["data"]] == ["charlie"] and second["next_cursor"] is None
    forged = call(client, "GET", "/surveys?cursor=ImJyYXZvIg.forged", headers)
    assert forged.status_code == 400 and forged.get_json()["errors"][0]["field"] == "query.cursor"
    too_many = call(client, "GET", "/surveys?limit=5000", headers).get_json()
    assert too_many["status"] == 422 and too_many["errors"][0]["field"] == "query.limit"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    @hookimpl
    def perception_wave_opened(self, app: Flask, event: object) -> None:
        self.events.append(("opened", event))

    @hookimpl
    def perception_wave_closed(self, app: Flask, event: object) -> None:
        self.events.append(("closed", event))


def test_a_helpdesk_creates_opens_and_closes_a_hot_wave_and_plugins_hear_of_it(app_config: dict) -> None:
    recorder = Recorder()
    app = create_app(app_config, plugins=[recorder])
    try:
        seed(app, employees=[])
        client = app.test_client()
        headers = token_for(app, "reports:read", "surveys:manage")
        made = call(client, "POST", "/surveys/shop/waves", headers, json={"name": "after-call", "kind": "hot"})
        assert made.status_code == 201 and made.get_json()["state"] == "draft"
        assert call(client, "POST", "/surveys/shop/waves", headers, json={"name": "after-call"}).status_code == 409
        opened = call(client, "POST", "/surveys/shop/waves/after-call/open", headers)
        assert opened.status_code == 200 and opened.get_json()["state"] == "open"
        closed = call(client, "POST", "/surveys/shop/waves/after-call/close", headers)
        assert closed.get_json()["state"] == "closed"
        again = call(client, "POST", "/surveys/shop/waves/after-call/close", headers)
        assert again.status_code == 409 and "is not open" in again.get_json()["detail"]
        assert [(kind, event.wave_name, event.kind) for kind, event in recorder.events] == [
            ("opened", "after-call", "hot"),
            ("closed", "after-call", "hot"),
        ]
        waves = call(client, "GET", "/surveys/shop/waves", headers).get_json()["data"]
        assert [(wave["name"], wave["state"]) for wave in waves] == [("w1", "open"), ("after-call", "closed")]
        reader = token_for(app, "reports:read")
        assert call(client, "POST", "/surveys/shop/waves/w1/close", reader).status_code == 403
    finally:
        app.extensions["perception"].engine.dispose()


def test_responses_are_imported_from_csv_and_exported_keeping_employees_anonymous(app: Flask) -> None:
    seed(app, employees=["Counter", "Phone"], customers=0)
    client = app.test_client()
    importer = token_for(app, "responses:import")
    csv_text = "easy,why,segment:region,submitted_at\n6,Quick,North,2026-02-03\n2,Slow,South,2026-02-04\n"
    imported = call(client, "POST", "/surveys/shop/waves/w1/responses/customer", importer, data=csv_text.encode(),
                    content_type="text/csv")  # fmt: skip
    assert imported.status_code == 201 and imported.get_json() == {"imported": 2}, imported.get_json()
    refused = call(client, "POST", "/surveys/shop/waves/w1/responses/customer", importer, data=b"easy\n9\n",
                   content_type="text/csv").get_json()  # fmt: skip
    assert refused["status"] == 422 and "line 2" in refused["detail"] and "easy" in refused["detail"]
    as_json = call(client, "POST", "/surveys/shop/waves/w1/responses/customer", importer, json={"easy": 3})
    assert as_json.status_code == 415
    exporter = token_for(app, "responses:export")
    exported = call(client, "GET", "/surveys/shop/waves/w1/responses/customer", exporter)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(row["easy"], row["segment:region"]) for row in rows] == [("6", "North"), ("2", "South")]
    few = call(client, "GET", "/surveys/shop/waves/w1/responses/employee", exporter)
    assert few.status_code == 409 and "fewer than 5 employee responses" in few.get_json()["detail"]
    assert call(client, "GET", "/surveys/shop/waves/w1/responses/customer", importer).status_code == 403
    assert call(client, "GET", "/surveys/shop/waves/w1/responses/nobody", exporter).status_code == 404


def test_the_codebook_says_what_every_column_holds(app: Flask) -> None:
    seed(app, employees=[])
    book = call(app.test_client(), "GET", "/surveys/shop/codebook", token_for(app, "reports:read")).get_json()
    easy = book["items"][0]
    assert easy["key"] == "easy" and easy["scale"] == "ces"
    assert easy["values"][0] == {"value": 1, "label": {"en": "Strongly disagree", "fr": "Pas du tout d'accord"}}
    assert [value["value"] for value in easy["values"]] == [1, 2, 3, 4, 5, 6, 7]
    assert easy["wording"]["employee"]["en"] == "Easy for customers?"
    assert book["items"][1]["values"] == []
    assert book["columns"]["employee"] == ["submitted_on", "segment:team", "easy", "why"]
    assert {"side": "customer", "column": "segment:region", "name": "region", "values": ["North", "South"]} in book[
        "segments"
    ]


def test_each_token_has_a_rate_limit_shared_by_every_process(app_config: dict) -> None:
    first = create_app({**app_config, "API_RATE_LIMIT": 3})
    second = create_app({**app_config, "API_RATE_LIMIT": 3})  # another process on the same database
    try:
        headers = token_for(first, "reports:read")
        other = token_for(first, "reports:read")
        for client in (first.test_client(), second.test_client(), first.test_client()):
            assert call(client, "GET", "/surveys", headers).status_code == 200
        limited = call(second.test_client(), "GET", "/surveys", headers)
        assert limited.status_code == 429 and limited.mimetype == "application/problem+json"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.get_json()["retry_after"] == int(limited.headers["Retry-After"])
        assert call(first.test_client(), "GET", "/surveys", other).status_code == 200
    finally:
        first.extensions["perception"].engine.dispose()
        second.extensions["perception"].engine.dispose()


@pytest.mark.parametrize("bad", ["%00", "a%00b"])
def test_text_no_database_stores_is_refused_where_it_is(app: Flask, bad: str) -> None:
    headers = token_for(app, "reports:read", "surveys:manage")
    response = call(app.test_client(), "GET", f"/surveys/{bad}", headers)
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "path.slug"
    body = {**DEFINITION, "title": {"en": "Shop\x00"}}
    refused = call(app.test_client(), "POST", "/surveys", headers, json=body).get_json()
    assert refused["status"] == 422 and refused["errors"][0]["field"] == "body.title.en"
