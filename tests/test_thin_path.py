"""The thin path through the pages: a lead sets up a wave, both sides answer, the lead reads gaps."""

from __future__ import annotations

import csv
import io
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import func, select

from perception.db import session_scope
from perception.models import Answer, Invitation, Response
from tests.conftest import csrf_token, post_form, sign_in

GOOD = {"item_recommend": 9, "item_satisfaction": 4, "item_effort": 6, "item_comment": "Clear and quick."}


def stored(app: Flask) -> tuple[int, int]:
    with session_scope(app) as session:
        return (
            session.exec(select(func.count(Response.id))).one(),
            session.exec(select(func.count(Answer.id))).one(),
        )


def links(lead: FlaskClient, side: str, count: int, slug: str = "core", wave: str = "w1") -> list[str]:
    response = post_form(
        lead,
        f"/surveys/{slug}/waves/{wave}/links",
        {"side": side, "count": count},
        token_from=f"/surveys/{slug}/waves/{wave}",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {row["side"] for row in rows} == {side}
    return [row["link"].replace("http://localhost", "") for row in rows]


def test_lead_sets_up_a_wave_and_reads_the_gaps(app: Flask, lead: FlaskClient) -> None:
    response = post_form(lead, "/surveys/new", {"template": "core", "slug": "core", "title_en": "Our barometer"})
    assert response.status_code == 302
    page = lead.get("/surveys/core").get_data(as_text=True)
    assert "Our barometer" in page
    assert "How likely are you to recommend" in page  # customer wording beside...
    assert "How likely do you think" in page  # ...the employee wording
    assert (
        post_form(lead, "/surveys/core/waves", {"name": "w1", "kind": "cold"}, token_from="/surveys/core").status_code
        == 302
    )
    assert post_form(lead, "/surveys/core/waves/w1/open", {}, token_from="/surveys/core/waves/w1").status_code == 302
    assert "open" in lead.get("/surveys/core/waves/w1").get_data(as_text=True)

    customer_links = links(lead, "customer", 5)
    employee_links = links(lead, "employee", 5)
    assert len(set(customer_links + employee_links)) == 10
    respondent = FlaskClient(app, use_cookies=True)
    for link, value in zip(customer_links, (0, 3, 5, 6, 6), strict=True):
        answers = {"item_recommend": value, "item_satisfaction": 2, "item_effort": 3}
        assert post_form(respondent, link, answers).status_code == 302
    for link in employee_links:
        assert (
            post_form(respondent, link, {"item_recommend": 10, "item_satisfaction": 5, "item_effort": 7}).status_code
            == 302
        )

    wave_page = lead.get("/surveys/core/waves/w1").get_data(as_text=True)
    assert re.search(r"Customers</th><td class=\"num\">5</td><td class=\"num\">5</td>", wave_page)
    report = lead.get("/surveys/core/waves/w1/report").get_data(as_text=True)
    assert "5 customer and 5 employee responses" in report
    assert "−100.0 pts" in report or "-100.0 pts" in report  # customers' NPS: five detractors
    assert "100.0 pts" in report  # employees' NPS
    assert "+200.0 pts" in report  # the gap
    assert "+100.0 pts" in report  # CSAT: 0% against 100%
    assert "+4.00" in report  # CES: 3 against 7


def test_a_side_below_the_reporting_threshold_is_hidden(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    token = links(lead, "employee", 4)
    for link in token:
        post_form(app.test_client(), link, GOOD)
    report = lead.get("/surveys/core/waves/w1/report").get_data(as_text=True)
    assert report.count(">hidden<") == 6  # three items, both sides: 4 employees and 0 customers


def test_a_used_link_is_refused_politely_and_stores_nothing(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    [link] = links(lead, "customer", 1)
    respondent = app.test_client()
    assert post_form(respondent, link, GOOD).status_code == 302
    assert respondent.get("/thanks").status_code == 200
    second = post_form(respondent, link, GOOD, token_from="/login")
    assert second.status_code == 409
    assert "This link has been used" in second.get_data(as_text=True)
    assert stored(app) == (1, 4)


def test_an_unknown_link_says_so(client: FlaskClient, core_wave: tuple[str, str]) -> None:
    response = client.get("/r/not-a-real-token")
    assert response.status_code == 404
    assert "This link is not valid" in response.get_data(as_text=True)
    assert client.get("/p/" + "x" * 500).status_code == 404


def test_invalid_answers_are_shown_inline_and_nothing_is_stored(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    [link] = links(lead, "customer", 1)
    respondent = app.test_client()
    cases = [
        ({"item_recommend": 11, "item_satisfaction": 4, "item_effort": 6}, "item_recommend"),
        ({"item_recommend": -1, "item_satisfaction": 4, "item_effort": 6}, "item_recommend"),
        ({"item_recommend": "nine", "item_satisfaction": 4, "item_effort": 6}, "item_recommend"),
        ({"item_recommend": 9, "item_effort": 6}, "item_satisfaction"),
        ({"item_recommend": 9, "item_satisfaction": 4, "item_effort": 8}, "item_effort"),
        ({**GOOD, "item_comment": "x" * 100_000}, "item_comment"),
    ]
    for answers, field in cases:
        response = post_form(respondent, link, answers)
        assert response.status_code == 422, (answers, response.status_code)
        page = response.get_data(as_text=True)
        assert "Please check your answers" in page
        assert f'href="#{field}"' in page  # the summary links to the field in error
        assert f'id="{field}-error"' in page
    assert stored(app) == (0, 0)
    assert post_form(respondent, link, GOOD).status_code == 302
    assert stored(app) == (1, 4)


def test_a_wave_that_is_not_open_answers_a_friendly_page(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    [link] = links(lead, "customer", 1)
    post_form(lead, "/surveys/core/waves/w1/close", {}, token_from="/surveys/core/waves/w1")
    response = app.test_client().get(link)
    assert response.status_code == 200
    assert "This survey is closed" in response.get_data(as_text=True)
    assert post_form(app.test_client(), link, GOOD, token_from="/login").status_code == 200
    assert stored(app) == (0, 0)


def test_the_public_link_takes_customer_answers_without_a_token(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    page = lead.get("/surveys/core/waves/w1").get_data(as_text=True)
    public = page.split('readonly value="')[1].split('"')[0].replace("http://localhost", "")
    respondent = app.test_client()
    assert post_form(respondent, public, GOOD).status_code == 302
    assert post_form(respondent, public, GOOD).status_code == 302
    with session_scope(app) as session:
        sides = session.exec(select(Response.side)).all()
    assert sides == ["customer", "customer"]


def test_respondent_page_speaks_the_browsers_language(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    [link] = links(lead, "customer", 1)
    french = app.test_client().get(link, headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert '<html lang="fr">' in french
    assert "Envoyer mes réponses" in french
    assert "que vous recommandiez notre entreprise" in french
    english = app.test_client().get(link + "?lang=en", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Send my answers" in english


def test_a_form_without_its_csrf_token_is_refused(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    [link] = links(lead, "customer", 1)
    response = app.test_client().post(link, data=GOOD)
    assert response.status_code == 422
    assert stored(app) == (0, 0)
    assert lead.post("/surveys/core/waves/w1/close", data={}).status_code == 400
    assert lead.post("/surveys/new", data={"template": "core", "slug": "sneaky"}).status_code == 400
    with session_scope(app) as session:
        assert session.exec(select(func.count(Invitation.id))).one() == 1


def test_a_wrong_password_is_refused_with_one_message(app: Flask, client: FlaskClient) -> None:
    from tests.conftest import make_account

    email = make_account(app, "lead")
    wrong_password = post_form(client, "/login", {"email": email, "password": "not the password"})
    unknown_email = post_form(client, "/login", {"email": "nobody@example.com", "password": "whatever!!"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert "Wrong email or password." in wrong_password.get_data(as_text=True)
    assert "Wrong email or password." in unknown_email.get_data(as_text=True)
    assert client.get("/surveys/").status_code == 302


def test_each_role_sees_only_its_pages(app: Flask, core_wave: tuple[str, str]) -> None:
    anonymous = app.test_client()
    leader, employee, lead, admin = (sign_in(app, role) for role in ("leader", "employee", "lead", "admin"))
    report = "/surveys/core/waves/w1/report"
    assert anonymous.get(report).status_code == 302
    assert anonymous.get(report).headers["Location"].startswith("/login")
    assert employee.get(report).status_code == 403
    assert employee.get("/surveys/").status_code == 403
    assert employee.get("/").status_code == 200
    for reader in (leader, lead, admin):
        assert reader.get(report).status_code == 200
    assert leader.get("/surveys/new").status_code == 403
    assert leader.get("/surveys/core/waves/w1").status_code == 403
    assert post_form(leader, "/surveys/core/waves/w1/close", {}, token_from="/surveys/core").status_code == 403
    assert admin.get("/surveys/new").status_code == 200


def test_signing_in_only_redirects_within_the_site(app: Flask, client: FlaskClient) -> None:
    from tests.conftest import PASSWORD, make_account

    email = make_account(app, "lead")
    token = post_form
    response = token(client, "/login?next=https://evil.example/", {"email": email, "password": PASSWORD})
    assert response.headers["Location"] == "/"


CHOICES = {"action": "open", "side": "customer"}  # URL parts that take one of a few words
PUBLIC_ENDPOINTS = {"static", "auth.login", "respond.invitation", "respond.public", "respond.thanks"}
PUBLIC_ENDPOINTS |= {"contacts.unsubscribe_page"}  # the link in every message is its own proof
PUBLIC_ENDPOINTS |= {"api.openapi_json", "api.docs"}  # the API's contract and its reference page are public
# A kiosk's pages: its signed address is its own proof (the tablet holds no session).
PUBLIC_ENDPOINTS |= {"kiosk.start", "kiosk.answer", "kiosk.thanks", "kiosk.manifest"}


def test_every_page_but_the_public_ones_asks_for_a_sign_in(app: Flask) -> None:
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = rule.build({argument: CHOICES.get(argument, "1") for argument in rule.arguments})[1]
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        response = client.open(url, method=method, data={"csrf_token": csrf_token(client)})
        if rule.endpoint.startswith("api."):  # the API asks for a token instead
            assert response.status_code == 401, rule.endpoint
            continue
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), rule.endpoint


def test_an_admin_creates_and_switches_off_accounts(app: Flask) -> None:
    from tests.conftest import PASSWORD

    admin = sign_in(app, "admin")
    assert sign_in(app, "lead").get("/accounts/").status_code == 403
    created = post_form(
        admin,
        "/accounts/",
        {"email": "Nadia@Example.com", "name": "Nadia", "role": "leader", "language": "fr", "password": PASSWORD},
    )
    assert created.status_code == 302
    page = admin.get("/accounts/").get_data(as_text=True)
    assert "nadia@example.com" in page
    duplicate = post_form(
        admin, "/accounts/", {"email": "nadia@example.com", "role": "lead", "language": "fr", "password": PASSWORD}
    )
    assert duplicate.status_code == 422 and "exists already" in duplicate.get_data(as_text=True)
    short = post_form(
        admin, "/accounts/", {"email": "x@example.com", "role": "lead", "language": "fr", "password": "short"}
    )
    assert short.status_code == 422 and "At least 10 characters." in short.get_data(as_text=True)
    with session_scope(app) as session:
        from perception.models import Account

        nadia = session.exec(select(Account).where(Account.email == "nadia@example.com")).one()
    nadia_client = app.test_client()
    assert post_form(nadia_client, "/login", {"email": "nadia@example.com", "password": PASSWORD}).status_code == 302
    assert post_form(admin, f"/accounts/{nadia.id}/active", {}, token_from="/accounts/").status_code == 302
    assert nadia_client.get("/surveys/").status_code == 302  # signed out at once: the account is off
    refused = post_form(app.test_client(), "/login", {"email": "nadia@example.com", "password": PASSWORD})
    assert refused.status_code == 401
