"""A signed-in employee answers the open staff surveys from the home page; the account keeps only
that it answered a wave, never which response is its."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, text
from sqlmodel import select

from perception.db import engine_of, session_scope
from perception.models import Account
from perception.waves import create_wave, find_survey, find_wave
from tests.conftest import make_account, post_form, sign_in

ANSWERS = {"item_recommend": 6, "item_satisfaction": 3, "item_effort": 4, "item_comment": "Slow replies."}


def _wave_id(app: Flask, name: str = "w1") -> int:
    with session_scope(app) as session:
        return find_wave(session, find_survey(session, "core"), name).id


def test_an_employee_answers_from_the_home_page_once(app: Flask, core_wave: tuple[str, str]) -> None:
    employee = sign_in(app, "employee")
    with session_scope(app) as session:
        create_wave(session, find_survey(session, "core"), "draft")  # not open: not listed
    home = employee.get("/").get_data(as_text=True)
    wave_id = _wave_id(app)
    assert f'href="/answer/{wave_id}"' in home
    assert f'href="/answer/{_wave_id(app, "draft")}"' not in home
    page = employee.get(f"/answer/{wave_id}").get_data(as_text=True)
    assert "How likely do you think our customers are to recommend us" in page  # the staff wording
    assert post_form(employee, f"/answer/{wave_id}", ANSWERS).status_code == 302
    home = employee.get("/").get_data(as_text=True)
    assert "answered, thank you" in home and f'href="/answer/{wave_id}"' not in home
    again = employee.get(f"/answer/{wave_id}")
    assert again.status_code == 409 and "You have answered this survey" in again.get_data(as_text=True)
    assert post_form(employee, f"/answer/{wave_id}", ANSWERS, token_from="/").status_code == 409


def test_staff_who_answered_from_home_are_shown_the_way_back_and_other_respondents_are_not(
    app: Flask, core_wave: tuple[str, str]
) -> None:
    home_link = '<a href="/">Back to the home page</a>'
    employee = sign_in(app, "employee")
    wave_id = _wave_id(app)
    sent = post_form(employee, f"/answer/{wave_id}", ANSWERS)
    assert sent.status_code == 302 and sent.headers["Location"] == "/thanks?lang=en&home=1"
    assert home_link in employee.get(sent.headers["Location"]).get_data(as_text=True)
    french = employee.get("/thanks?lang=fr&home=1").get_data(as_text=True)
    assert '<a href="/">Retour à la page d\'accueil</a>' in french
    again = employee.get(f"/answer/{wave_id}")
    assert again.status_code == 409 and home_link in again.get_data(as_text=True)
    # A customer (signed in nowhere) thanked after a public link, or anyone sent to the page with the
    # flag but not signed in, is not pointed into the application.
    with session_scope(app) as session:
        public = find_wave(session, find_survey(session, "core"), "w1").public_token
    customer = app.test_client()
    thanked = post_form(customer, f"/p/{public}", {"item_recommend": 7, "item_satisfaction": 4, "item_effort": 5})
    assert thanked.status_code == 302 and thanked.headers["Location"] == "/thanks?lang=en"
    assert "Back to the home page" not in customer.get("/thanks?lang=en&home=1").get_data(as_text=True)


def test_the_database_keeps_that_an_account_answered_never_which_response(
    app: Flask, core_wave: tuple[str, str]
) -> None:
    wave_id = _wave_id(app)
    clients: list[FlaskClient] = []
    for number in range(3):
        email = make_account(app, "employee", email=f"staff{number}@example.com")
        client = app.test_client()
        post_form(client, "/login", {"email": email, "password": "correct horse battery"})
        clients.append(client)
    for client, score in zip(clients, (2, 9, 5), strict=True):
        assert post_form(client, f"/answer/{wave_id}", {**ANSWERS, "item_recommend": score}).status_code == 302

    engine = engine_of(app)
    columns = {column["name"] for column in inspect(engine).get_columns("wave_participation")}
    assert columns == {"wave_id", "account_id"}  # no response, no time, no id to order by
    response_columns = {column["name"] for column in inspect(engine).get_columns("response")}
    assert not {"account_id", "participation_id", "created_at"} & response_columns
    with engine.connect() as connection:
        participations = connection.execute(text("SELECT wave_id, account_id FROM wave_participation")).all()
        responses = connection.execute(
            text("SELECT side, invitation_id, language FROM response WHERE wave_id = :wave"), {"wave": wave_id}
        ).all()
        foreign = [key["referred_table"] for key in inspect(engine).get_foreign_keys("response")] + [
            key["referred_table"] for key in inspect(engine).get_foreign_keys("answer")
        ]
    with session_scope(app) as session:
        accounts = set(session.exec(select(Account.id).where(Account.email.like("staff%"))).all())
    assert {(wave, account) for wave, account in participations} == {(wave_id, account) for account in accounts}
    assert responses == [("employee", None, None)] * 3
    assert "account" not in foreign and "wave_participation" not in foreign


def test_a_closed_wave_is_not_offered_and_answers_a_friendly_page(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    post_form(lead, "/surveys/core/waves/w1/close", {}, token_from="/surveys/core/waves/w1")
    employee = sign_in(app, "employee")
    assert "No staff survey is open right now." in employee.get("/").get_data(as_text=True)
    page = employee.get(f"/answer/{_wave_id(app)}")
    assert page.status_code == 200 and "This survey is closed" in page.get_data(as_text=True)
    assert '<a href="/">Back to the home page</a>' in page.get_data(as_text=True)
