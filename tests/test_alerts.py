"""The closed loop: an unhappy customer's answer opens an alert that a lead follows to its end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from perception import AlertOpened, ResponseSubmitted, create_app, hookimpl, open_alert
from perception import waves as waves_module
from perception.alerts import (
    AlertError,
    alert_figures,
    alert_queue,
    check_callback,
    close,
    measured_loop_inputs,
    set_rule,
)
from perception.db import session_scope, without_transaction
from perception.models import Account, Alert, CallbackRequest, Invitation, Item, Response
from perception.responses import check_answers, record_response
from perception.surveys import items_of, parse_definition, store_definition
from perception.waves import create_wave, find_survey, find_wave, issue_links, open_wave
from tests.conftest import make_account, post_form, sign_in
from tests.mailbox import Mailbox, start_mailbox

SURVEY = {
    "slug": "loop",
    "title": {"en": "After your call", "fr": "Après votre appel"},
    "items": [
        {
            "key": "recommend",
            "dimension": "Empathy",
            "touchpoint": "support call",
            "scale": "nps",
            "customer": {"en": "Would you recommend us?"},
            "employee": {"en": "Would customers recommend us?"},
        },
        {
            "key": "effort",
            "dimension": "Time and Effort",
            "touchpoint": "support call",
            "scale": "ces",
            "customer": {"en": "The company made it easy to handle my issue."},
            "employee": {"en": "Customers find it easy to handle their issue."},
        },
        {
            "key": "satisfaction",
            "dimension": "Resolution",
            "touchpoint": "invoice",
            "scale": "csat",
            "customer": {"en": "How satisfied are you with your invoice?"},
            "employee": {"en": "How satisfied are customers with their invoice?"},
        },
        {
            "key": "comment",
            "dimension": "Empathy",
            "scale": "text",
            "required": False,
            "customer": {"en": "Anything to add?"},
            "employee": {"en": "What would customers add?"},
        },
    ],
}


def loop_wave(app: Flask) -> str:
    """Survey `loop` with an open wave; returns its public customer link token."""
    registries = app.extensions["perception"].registries
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(SURVEY, registries.scoring_models))
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        return wave.public_token


def answer(app: Flask, token: str, recommend: int, effort: int = 6, satisfaction: int = 4, **extra: object) -> int:
    client = app.test_client()
    data = {"item_recommend": recommend, "item_effort": effort, "item_satisfaction": satisfaction, **extra}
    return post_form(client, f"/p/{token}", data).status_code


def record_loop_answers(app: Flask, session: Session, **extra: Any) -> int:
    """A detractor's answers to survey `loop`, recorded by ``record_response`` with ``extra``."""
    survey = find_survey(session, "loop")
    answers = check_answers(list(items_of(session, survey)), {"recommend": 2, "effort": 6, "satisfaction": 4})
    return record_response(app, session, survey, find_wave(session, survey, "w1"), "customer", answers, **extra)


def alerts(app: Flask) -> list[Alert]:
    with session_scope(app) as session:
        return list(session.exec(select(Alert).order_by(Alert.id)).all())


def test_a_detractor_who_agrees_to_be_called_opens_an_alert_with_everything_needed(app: Flask) -> None:
    token = loop_wave(app)
    status = answer(
        app,
        token,
        recommend=3,
        item_comment="Three calls and nobody <b>knew</b> my file.",
        contact_how="phone",
        contact_address="+33 6 12 34 56 78",
    )
    assert status == 302
    (alert,) = alerts(app)
    assert (alert.kind, alert.status, alert.value, alert.touchpoint) == ("answer", "open", 3, "support call")
    assert alert.verbatim == "Three calls and nobody <b>knew</b> my file."
    opened = alert.opened_at.replace(tzinfo=UTC) if alert.opened_at.tzinfo is None else alert.opened_at
    due = alert.due_at.replace(tzinfo=UTC) if alert.due_at.tzinfo is None else alert.due_at
    assert due - opened == timedelta(hours=48)

    lead = sign_in(app, "lead")
    page = lead.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "+33 6 12 34 56 78" in page
    assert "support call" in page
    assert "nobody &lt;b&gt;knew&lt;/b&gt; my file" in page  # the verbatim is shown, never run


def test_each_scale_has_its_default_limit(app: Flask) -> None:
    token = loop_wave(app)
    assert answer(app, token, recommend=7, effort=3, satisfaction=2) == 302  # nothing crosses a limit
    assert alerts(app) == []
    assert answer(app, token, recommend=7, effort=2, satisfaction=1) == 302  # CES 2 and CSAT 1 do
    assert sorted(alert.value for alert in alerts(app)) == [1, 2]


def test_a_customer_who_gives_no_contact_is_not_contacted(app: Flask) -> None:
    token = loop_wave(app)
    assert answer(app, token, recommend=0) == 302
    with session_scope(app) as session:
        assert session.exec(select(CallbackRequest)).all() == []
    lead = sign_in(app, "lead")
    page = lead.get(f"/alerts/{alerts(app)[0].id}").get_data(as_text=True)
    assert "The customer did not ask to be contacted." in page


def test_a_public_link_s_answers_and_consent_to_be_contacted_are_stored_whole_or_not_at_all(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = loop_wave(app)
    # On PostgreSQL a public link's page opens no transaction: the lookup and the one statement
    # that writes the answers each commit as they end.
    open_during_lookup: list[bool] = []
    run = waves_module._DriverStatement.run

    def watched(statement: waves_module._DriverStatement, connection, hashed: str):  # type: ignore[no-untyped-def]
        found = run(statement, connection, hashed)
        driver = connection.connection.driver_connection
        if connection.dialect.name == "postgresql":
            open_during_lookup.append(driver.info.transaction_status != driver.info.transaction_status.IDLE)
        return found

    monkeypatch.setattr(waves_module._DriverStatement, "run", watched)
    assert answer(app, token, recommend=3, contact_how="email", contact_address="ana@example.com") == 302
    with session_scope(app) as session:
        (response,) = session.exec(select(Response)).all()
        (callback,) = session.exec(select(CallbackRequest)).all()
        assert (callback.response_id, callback.how, callback.address) == (response.id, "email", "ana@example.com")
        dialect = session.get_bind().dialect.name
    assert open_during_lookup == ([False, False] if dialect == "postgresql" else [])  # the form's page, the answer

    # A consent the database refuses takes the answers down with it.
    with pytest.raises(IntegrityError), session_scope(app) as session:
        without_transaction(session)
        record_loop_answers(app, session, callback=("fax", "1"))
    with session_scope(app) as session:
        assert len(session.exec(select(Response)).all()) == 1
        assert len(session.exec(select(CallbackRequest)).all()) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite keeps its transaction
def test_a_link_used_up_needs_a_transaction_around_its_response(app: Flask) -> None:
    loop_wave(app)
    with session_scope(app) as session:
        survey = find_survey(session, "loop")
        issue_links(session, find_wave(session, survey, "w1"), "customer", 1, 30)
    with pytest.raises(RuntimeError, match="needs a transaction"), session_scope(app) as session:
        without_transaction(session)
        record_loop_answers(app, session, invitation=session.exec(select(Invitation)).one())
    with session_scope(app) as session:
        assert session.exec(select(Response)).all() == [] and not session.exec(select(Invitation)).one().used


def test_a_bad_contact_address_is_refused_on_the_page(app: Flask) -> None:
    token = loop_wave(app)
    client = app.test_client()
    data = {"item_recommend": 2, "item_effort": 6, "item_satisfaction": 4, "contact_how": "email"}
    response = post_form(client, f"/p/{token}", {**data, "contact_address": "not an address"})
    assert response.status_code == 422
    assert "such as name@example.com" in response.get_data(as_text=True)
    with session_scope(app) as session:
        assert session.exec(select(Response)).all() == []


@pytest.mark.parametrize(
    ("how", "address", "expected"),
    [
        ("no", "ignored@example.com", None),
        ("", "", None),
        ("email", " Ana@Example.com ", ("email", "Ana@Example.com")),
        ("phone", "06 12 34 56 78", ("phone", "06 12 34 56 78")),
    ],
)
def test_contact_answers_are_checked(how: str, address: str, expected: tuple[str, str] | None) -> None:
    assert check_callback(how, address) == expected


@pytest.mark.parametrize(("how", "address"), [("phone", "call me"), ("phone", "12"), ("email", "x@"), ("fax", "1")])
def test_contact_answers_that_cannot_be_used_are_refused(how: str, address: str) -> None:
    with pytest.raises(AlertError):
        check_callback(how, address)


def test_employees_never_open_alerts_nor_leave_a_contact(app: Flask) -> None:
    loop_wave(app)
    with session_scope(app) as session:
        wave = find_wave(session, find_survey(session, "loop"), "w1")
        link = issue_links(session, wave, "employee", 1, 30)[0].token
    client = app.test_client()
    data = {"item_recommend": 0, "item_effort": 1, "item_satisfaction": 1, "contact_how": "email"}
    page = client.get(f"/r/{link}").get_data(as_text=True)
    assert "May we contact you" not in page
    assert post_form(client, f"/r/{link}", {**data, "contact_address": "me@example.com"}).status_code == 302
    assert alerts(app) == []
    with session_scope(app) as session:
        assert session.exec(select(CallbackRequest)).all() == []


def test_a_lead_sets_the_limit_and_the_owner_of_an_item(app: Flask) -> None:
    token = loop_wave(app)
    lead = sign_in(app, "lead")
    with session_scope(app) as session:
        owner_id = session.exec(select(Account.id).where(Account.role == "lead")).one()
    form = {"at_most_recommend": "8", "owner_recommend": str(owner_id), "at_most_effort": "off"}
    form |= {"at_most_satisfaction": "1", "owner_satisfaction": "", "owner_effort": ""}
    response = post_form(lead, "/alerts/rules/loop", form)
    assert response.status_code == 302
    assert answer(app, token, recommend=8, effort=1) == 302  # 8 now opens one; effort opens none
    (alert,) = alerts(app)
    assert (alert.value, alert.owner_id) == (8, owner_id)


def test_a_limit_outside_the_scale_is_refused_and_nothing_saved(app: Flask) -> None:
    loop_wave(app)
    lead = sign_in(app, "lead")
    form = {"at_most_recommend": "6", "at_most_effort": "9", "at_most_satisfaction": "1"}
    response = post_form(lead, "/alerts/rules/loop", form)
    assert response.status_code == 422
    assert "outside its scale (1 to 7)" in response.get_data(as_text=True)


def test_the_queue_shows_overdue_alerts_first(app: Flask) -> None:
    token = loop_wave(app)
    for _ in range(3):
        assert answer(app, token, recommend=1) == 302
    first, second, third = alerts(app)
    with session_scope(app) as session:
        late = session.get(Alert, third.id)
        late.due_at = datetime.now(UTC) - timedelta(hours=1)
        session.add(late)
    with session_scope(app) as session:
        assert [alert.id for alert in alert_queue(session)] == [third.id, first.id, second.id]
    lead = sign_in(app, "lead")
    page = lead.get("/alerts/").get_data(as_text=True)
    assert "3 to handle, 1 overdue." in page
    assert page.index(f"#{third.id}") < page.index(f"#{first.id}")


def test_an_alert_is_resolved_once_with_a_note(app: Flask) -> None:
    token = loop_wave(app)
    assert answer(app, token, recommend=2) == 302
    (alert,) = alerts(app)
    lead = sign_in(app, "lead")
    path = f"/alerts/{alert.id}"
    assert post_form(lead, path, {"action": "start"}).status_code == 302
    refused = post_form(lead, path, {"action": "close", "close-status": "resolved", "close-note": " "})
    assert refused.status_code == 422
    done = {"action": "close", "close-status": "resolved", "close-note": "Called back, refunded.", "close-kept": "y"}
    assert post_form(lead, path, done).status_code == 302
    (closed,) = alerts(app)
    assert (closed.status, closed.resolution, closed.customer_kept) == ("resolved", "Called back, refunded.", True)
    assert closed.minutes_to_close is not None
    # A second resolution is refused and the first one stays as written.
    with session_scope(app) as session, pytest.raises(AlertError, match="closed already"):
        close(session, session.get(Alert, alert.id), "resolved", "Something else")
    page = lead.get(path).get_data(as_text=True)
    assert "Called back, refunded." in page and "Close the alert" not in page
    assert alerts(app)[0].resolution == "Called back, refunded."


def test_only_leads_and_the_owner_see_an_alert(app: Flask) -> None:
    token = loop_wave(app)
    assert answer(app, token, recommend=2, contact_how="email", contact_address="ana@example.com") == 302
    (alert,) = alerts(app)
    assert sign_in(app, "employee").get(f"/alerts/{alert.id}").status_code == 403
    assert sign_in(app, "leader").get("/alerts/").status_code == 403


def test_figures_per_touchpoint_and_the_median_time_to_close(app: Flask) -> None:
    token = loop_wave(app)
    for _ in range(3):
        assert answer(app, token, recommend=1, satisfaction=1) == 302
    opened = alerts(app)
    support = [alert for alert in opened if alert.touchpoint == "support call"]
    with session_scope(app) as session:
        for alert, hours in zip(support, (1, 3, 100), strict=True):
            stored = session.get(Alert, alert.id)
            start = stored.opened_at.replace(tzinfo=UTC) if stored.opened_at.tzinfo is None else stored.opened_at
            close(session, stored, "resolved", "Called.", customer_kept=hours < 50, at=start + timedelta(hours=hours))
    with session_scope(app) as session:
        rows, total = alert_figures(session)
        by_touchpoint = {row.touchpoint: row for row in rows}
        assert by_touchpoint["support call"].opened == 3
        assert by_touchpoint["support call"].closed == 3
        assert by_touchpoint["support call"].on_time == 2  # 100 hours is past the 48-hour deadline
        assert by_touchpoint["support call"].median_minutes == 180
        assert by_touchpoint["invoice"].still_open == 3
        assert by_touchpoint["invoice"].median_minutes is None
        assert (total.opened, total.closed, total.median_minutes) == (6, 3, 180)
        measured = measured_loop_inputs(session)
        assert measured.very_dissatisfied == 1.0  # every response opened an alert
        assert measured.kept == pytest.approx(2 / 3)
    lead = sign_in(app, "lead")
    page = lead.get("/alerts/figures").get_data(as_text=True)
    assert "3.0 h" in page
    worth = lead.get(
        "/alerts/figures?calculate=1&contacts=1000&response_rate=20&very_dissatisfied=10&kept=50&acquisition_cost=300"
    ).get_data(as_text=True)
    assert "Customers kept: 10.00." in worth  # 1000 x 20% x 10% x 50%
    assert "Worth: 3,000.00." in worth


class ChatPlugin:
    """A plugin of one's own: opens an alert on a word in a verbatim and hears every alert."""

    def __init__(self) -> None:
        self.opened: list[AlertOpened] = []

    @hookimpl
    def perception_response_submitted(self, app: Flask, event: ResponseSubmitted) -> None:
        if "lawyer" in str(event.answers.get("comment", "")):
            open_alert(app, event, "recommend", reason="mentions a lawyer")

    @hookimpl
    def perception_alert_opened(self, app: Flask, event: AlertOpened) -> None:
        self.opened.append(event)


def test_hook_perception_alert_opened(app_config: dict) -> None:
    chat = ChatPlugin()
    app = create_app(app_config, plugins=[chat])
    try:
        token = loop_wave(app)
        assert answer(app, token, recommend=9, item_comment="My lawyer will call you.") == 302
        assert answer(app, token, recommend=9, item_comment="Lovely.") == 302
        (alert,) = alerts(app)
        assert alert.reason == "mentions a lawyer"
        (event,) = chat.opened
        assert (event.alert_id, event.kind, event.survey_slug, event.item_key) == (
            alert.id,
            "answer",
            "loop",
            "recommend",
        )
        assert (event.value, event.touchpoint, event.reason) == (9, "support call", "mentions a lawyer")
        assert "address" not in vars(event)  # contact details stay in the application
    finally:
        app.extensions["perception"].engine.dispose()


def test_opening_twice_for_the_same_answer_gives_the_first_alert(app_config: dict) -> None:
    chat = ChatPlugin()
    app = create_app(app_config, plugins=[chat])
    try:
        token = loop_wave(app)
        assert answer(app, token, recommend=3, item_comment="lawyer") == 302  # the rule and the plugin both open it
        assert len(alerts(app)) == 1
        assert len(chat.opened) == 1
    finally:
        app.extensions["perception"].engine.dispose()


def test_the_owner_is_emailed_in_their_language_when_an_alert_opens(app_config: dict, mailbox: Mailbox) -> None:
    app = create_app({**app_config, **mailbox.settings, "BASE_URL": "https://cx.example"})
    try:
        token = loop_wave(app)
        owner_email = make_account(app, "lead", "claire@example.com", language="fr")
        with session_scope(app) as session:
            owner_id = session.exec(select(Account.id).where(Account.email == owner_email)).one()
            item = session.exec(select(Item).where(Item.key == "recommend")).one()
            set_rule(session, item, 6, owner_id)
        assert answer(app, token, recommend=4, contact_how="email", contact_address="ana@example.com") == 302
        (message,) = mailbox.wait_for(1)
        (alert,) = alerts(app)
        assert message["To"] == "claire@example.com"
        assert message["Subject"] == f"Alerte n° {alert.id} : un client a répondu 4 à « recommend »"
        text = message.get_body(("plain",)).get_content()
        assert "ana@example.com" in text
        assert f"https://cx.example/alerts/{alert.id}" in text
        # A lead hands the next one to a colleague, who is told too.
        lead = sign_in(app, "lead")
        colleague = make_account(app, "lead", "sami@example.com")
        with session_scope(app) as session:
            colleague_id = session.exec(select(Account.id).where(Account.email == colleague)).one()
            set_rule(session, item, 6, None)
        assert answer(app, token, recommend=1) == 302
        second = alerts(app)[1]
        response = post_form(lead, f"/alerts/{second.id}", {"action": "assign", "assign-owner": str(colleague_id)})
        assert response.status_code == 302
        assert mailbox.wait_for(2)[1]["To"] == "sami@example.com"
    finally:
        app.extensions["perception"].engine.dispose()


def test_an_alert_opens_even_when_the_mail_server_refuses(app_config: dict) -> None:
    with start_mailbox(refused={"claire@example.com": 550}) as box:
        app = create_app({**app_config, **box.settings})
        try:
            token = loop_wave(app)
            owner_email = make_account(app, "lead", "claire@example.com")
            with session_scope(app) as session:
                owner_id = session.exec(select(Account.id).where(Account.email == owner_email)).one()
                set_rule(session, session.exec(select(Item).where(Item.key == "recommend")).one(), 6, owner_id)
            assert answer(app, token, recommend=4) == 302
            assert len(alerts(app)) == 1
            assert box.messages == []
        finally:
            app.extensions["perception"].engine.dispose()
