"""The early warning: a gap that widens from one wave to the next, or a blind spot that appears,
opens an alert when the wave closes, and the leads and leaders who follow its dimension hear of it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from perception import create_app
from perception.db import session_scope
from perception.gap_watch import compare, followed, open_gap_alerts
from perception.models import Account, Alert, Item
from perception.waves import close_wave, find_survey, find_wave
from tests.conftest import PASSWORD, make_account, post_form, sign_in
from tests.mailbox import Mailbox
from tests.test_report import report_for, seed

# "easy" (Time and Effort): a blind spot that widens (customers find it harder, staff don't see it).
# "fair" (Integrity): aligned, then staff think better of it while customers don't: a blind spot appears.
# "caring" (Empathy): the same in both waves.
FIRST = {
    "easy": {"customer": [3] * 100 + [5] * 100, "employee": [6] * 20 + [5] * 20},
    "fair": {"customer": [3] * 100 + [4] * 100, "employee": [3] * 20 + [4] * 20},
    "caring": {"customer": [3] * 100 + [4] * 100, "employee": [3] * 20 + [4] * 20},
}
SECOND = {
    "easy": {"customer": [2] * 100 + [4] * 100, "employee": [6] * 20 + [5] * 20},
    "fair": {"customer": [3] * 100 + [4] * 100, "employee": [4] * 20 + [5] * 20},
    "caring": {"customer": [3] * 100 + [4] * 100, "employee": [3] * 20 + [4] * 20},
}


def two_waves(app: Flask) -> None:
    seed(app, FIRST, "2027-Q1")
    seed(app, SECOND, "2027-Q2")


def gap_alerts(app: Flask) -> dict[str, Alert]:
    with session_scope(app) as session:
        rows = session.exec(select(Alert, Item.key).join(Item, Item.id == Alert.item_id).where(Alert.kind == "gap"))
        return {key: alert for alert, key in rows}


def test_a_widening_gap_and_an_appearing_blind_spot_are_found_and_nothing_else(app: Flask) -> None:
    two_waves(app)
    changes = {change.item.key: change for change in compare(report_for(app, "2027-Q2"), report_for(app, "2027-Q1"))}
    assert set(changes) == {"easy", "fair"}
    easy, fair = changes["easy"], changes["fair"]
    assert easy.reason == "gap_widened"
    assert (easy.before, easy.now) == (1.5, 2.5)
    assert easy.q is not None and easy.q < 0.05
    assert fair.reason == "blind_spot_appeared"
    assert (fair.before, fair.now) == (0.0, 1.0)
    # The first wave has no wave before it: nothing to compare.
    assert compare(report_for(app, "2027-Q1"), None) == []


def test_a_change_that_is_noise_opens_nothing(app: Flask) -> None:
    seed(app, {"easy": {"customer": [3] * 100 + [5] * 100, "employee": [6] * 20 + [5] * 20}}, "2027-Q1")
    seed(app, {"easy": {"customer": [3] * 101 + [5] * 99, "employee": [6] * 20 + [5] * 20}}, "2027-Q2")
    assert compare(report_for(app, "2027-Q2"), report_for(app, "2027-Q1")) == []


def test_closing_the_wave_opens_one_alert_per_item_once(app: Flask) -> None:
    two_waves(app)
    result = app.test_cli_runner().invoke(args=["wave", "close", "gaps", "2027-Q2"])
    assert result.exit_code == 0, result.output
    alerts = gap_alerts(app)
    assert set(alerts) == {"easy", "fair"}
    assert alerts["easy"].reason == "gap_widened" and alerts["easy"].dimension == "Time and Effort"
    assert (alerts["easy"].gap_before, alerts["easy"].gap_now) == (1.5, 2.5)
    assert alerts["fair"].reason == "blind_spot_appeared" and alerts["fair"].status == "open"
    # Told again (a retried task, a plugin of its own): no second alert.
    assert open_gap_alerts(app, "gaps", "2027-Q2") == []
    assert len(gap_alerts(app)) == 2
    # The first wave closing opens nothing: there is no wave before it.
    assert open_gap_alerts(app, "gaps", "2027-Q1") == []
    assert open_gap_alerts(app, "nope", "2027-Q2") == []


def test_the_alert_queue_shows_a_gap_alert(app: Flask) -> None:
    two_waves(app)
    open_gap_alerts(app, "gaps", "2027-Q2")
    lead = sign_in(app, "lead")
    queue = lead.get("/alerts/").get_data(as_text=True)
    assert "a blind spot appeared · Integrity" in queue and "the gap widened · Time and Effort" in queue
    alert = gap_alerts(app)["easy"]
    page = lead.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "gap +1.50 before, +2.50 now" in page


def test_followers_of_the_dimension_are_emailed_in_their_language(app_config: dict, mailbox: Mailbox) -> None:
    app = create_app({**app_config, **mailbox.settings, "BASE_URL": "https://cx.example"})
    try:
        two_waves(app)
        leader = sign_in(app, "leader")
        french = app.test_client()
        lea = make_account(app, "leader", "lea@example.com", language="fr")
        assert post_form(french, "/login", {"email": lea, "password": PASSWORD}).status_code == 302
        make_account(app, "lead", "quiet@example.com")  # follows nothing: hears nothing
        assert post_form(leader, "/surveys/gaps/following", {"dimension": ["Time and Effort"], "wave": "2027-Q2"},
                         token_from="/surveys/gaps/waves/2027-Q2/report").status_code == 302  # fmt: skip
        post_form(french, "/surveys/gaps/following", {"dimension": ["Integrity", "Time and Effort"]},
                  token_from="/surveys/gaps/waves/2027-Q2/report")  # fmt: skip
        with session_scope(app) as session:
            close_wave(find_wave(session, find_survey(session, "gaps"), "2027-Q2"))
        open_gap_alerts(app, "gaps", "2027-Q2")
        messages = mailbox.wait_for(3)
        to = sorted((message["To"], message["Subject"]) for message in messages)
        assert to == [
            ("lea@example.com", "L'écart s'est creusé : \u2068Time and Effort\u2069 (vague 2027-Q2)"),
            ("lea@example.com", "Un angle mort est apparu : \u2068Integrity\u2069 (vague 2027-Q2)"),
            ("leader@example.com", "The gap widened in \u2068Time and Effort\u2069 (wave 2027-Q2)"),
        ]
        english = next(message for message in messages if message["To"] == "leader@example.com")
        text = english.get_body(("plain",)).get_content()
        assert "Staff minus customers: +1.50 in the wave before, +2.50 now." in text
        assert "https://cx.example/surveys/gaps/waves/2027-Q2/report" in text
        assert all(message["To"] != "quiet@example.com" for message in messages)
    finally:
        app.extensions["perception"].engine.dispose()


def test_following_dimensions_from_the_report(app: Flask) -> None:
    two_waves(app)
    leader: FlaskClient = sign_in(app, "leader")
    page = leader.get("/surveys/gaps/waves/2027-Q2/report").get_data(as_text=True)
    assert "Dimensions you follow" in page and 'value="Integrity">' in page
    response = post_form(leader, "/surveys/gaps/following", {"dimension": ["Integrity"], "wave": "2027-Q2"},
                         token_from="/surveys/gaps/waves/2027-Q2/report")  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"].endswith("/report#following")
    assert 'value="Integrity" checked>' in leader.get("/surveys/gaps/waves/2027-Q2/report").get_data(as_text=True)
    refused = post_form(leader, "/surveys/gaps/following", {"dimension": ["Nope"]},
                        token_from="/surveys/gaps/waves/2027-Q2/report")  # fmt: skip
    assert refused.status_code == 400
    with session_scope(app) as session:
        account = session.exec(select(Account).where(Account.email == "leader@example.com")).one()
        assert followed(session, account.id, find_survey(session, "gaps")) == {"Integrity"}
    # Unfollowing everything.
    post_form(leader, "/surveys/gaps/following", {"wave": "2027-Q2"}, token_from="/surveys/gaps/waves/2027-Q2/report")
    with session_scope(app) as session:
        assert followed(session, account.id, find_survey(session, "gaps")) == set()
    employee = sign_in(app, "employee")
    assert post_form(employee, "/surveys/gaps/following", {"dimension": ["Integrity"]},
                     token_from="/").status_code == 403  # fmt: skip
