"""A lead invites a wave's contacts by email, reminds them, and watches the progress; rules keep people from
being over-surveyed, and a failing mail server never makes anyone receive a message twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import func, select

from perception import create_app
from perception.contacts import import_contacts, unsubscribe_token
from perception.db import session_scope
from perception.dispatch import INTERRUPTED, backoff, resume, send_batch
from perception.invitations import InvitationError, Sample, plan_invitations, plan_reminders, progress
from perception.models import (
    Contact,
    ContactInvitation,
    Dispatch,
    DispatchItem,
    Invitation,
    Response,
    ResponseSegment,
    SegmentValue,
    Wave,
)
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, find_survey, find_wave, open_wave
from tests.conftest import post_form, sign_in
from tests.mailbox import Mailbox, silent_server

BASE_URL = "http://perception.test"
DEFINITION = {
    "slug": "bank",
    "title": {"en": "Acme Bank", "fr": "Banque Acme"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?", "fr": "Facile ?"},
               "employee": {"en": "Do customers find it easy?", "fr": "Les clients trouvent-ils cela facile ?"}}],
    "segments": {"customer": {"region": ["North", "South"]}},
}  # fmt: skip
CUSTOMERS = (
    "email,phone,language,region\n"
    "ana@example.com,,fr,North\n"
    "bob@example.com,,en,South\n"
    ",+33612345678,fr,\n"
    "carl@example.com,,en,\n"
)


@pytest.fixture
def sending_config(app_config: dict[str, object], mailbox: Mailbox) -> dict[str, object]:
    return {**app_config, **mailbox.settings, "BASE_URL": BASE_URL}


@pytest.fixture
def sending_app(sending_config: dict[str, object]) -> Iterator[Flask]:
    app = create_app(sending_config)
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
        )
        open_wave(create_wave(session, survey, "w1"))
    yield app
    app.extensions["perception"].engine.dispose()


def add_contacts(app: Flask, text: str, kind: str = "customer") -> None:
    with session_scope(app) as session:
        import_contacts(session, kind, text.encode())


def wave_named(session, name: str = "w1") -> Wave:  # type: ignore[no-untyped-def]
    return find_wave(session, find_survey(session, "bank"), name)


def invite(
    app: Flask, side: str = "customer", wave: str = "w1", sample: Sample | None = None, start: bool = True
) -> int:
    from perception.dispatch import start_dispatch

    channel = app.extensions["perception"].registries.channels["email"]
    with session_scope(app) as session:
        dispatch = plan_invitations(app, session, wave_named(session, wave), side, channel, sample=sample or Sample())
    if start:
        start_dispatch(app, dispatch)
    return dispatch.id


def states(app: Flask, dispatch_id: int) -> dict[tuple[str, str | None], int]:
    with session_scope(app) as session:
        rows = session.exec(
            select(DispatchItem.state, DispatchItem.reason, func.count())
            .where(DispatchItem.dispatch_id == dispatch_id)
            .group_by(DispatchItem.state, DispatchItem.reason)
        ).all()
    return {(state, reason): count for state, reason, count in rows}


def link_in(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(re.escape(BASE_URL) + r"(/r/[A-Za-z0-9_-]+\?lang=(en|fr))", text)
    assert match, text
    return match.group(1)


def test_a_lead_sends_a_wave_by_email_and_watches_the_progress(sending_app: Flask, mailbox: Mailbox) -> None:
    add_contacts(sending_app, CUSTOMERS)
    lead = sign_in(sending_app, "lead")
    page = lead.get("/surveys/bank/waves/w1/sending")
    assert page.status_code == 200 and "Nothing sent yet" in page.get_data(as_text=True)
    sent = post_form(
        lead, "/surveys/bank/waves/w1/sending/invite", {"side": "customer", "channel": "email"},
        token_from="/surveys/bank/waves/w1/sending",
    )  # fmt: skip
    assert sent.status_code == 302
    messages = mailbox.wait_for(3)
    assert sorted(message["To"] for message in messages) == ["ana@example.com", "bob@example.com", "carl@example.com"]
    ana = mailbox.to("ana@example.com")[0]
    assert ana["Subject"] == "Votre avis sur \u2068Banque Acme\u2069"
    assert ana["List-Unsubscribe"].startswith(f"<{BASE_URL}/u/") and ana["List-Unsubscribe-Post"]
    assert "Se désabonner" in ana.get_body(("html",)).get_content()
    assert lead.get(link_in(ana)).status_code == 200
    assert mailbox.connections() == 1  # one batch, one connection
    page = lead.get("/surveys/bank/waves/w1/sending").get_data(as_text=True)
    assert re.search(r"<td>0</td>\s*<td>3</td>\s*<td>0</td>\s*<td>1", page), page  # pending, sent, failed, skipped
    assert "no address for this channel: 1" in page


def test_the_customer_answers_from_the_email_and_the_response_carries_their_segment(
    sending_app: Flask, mailbox: Mailbox
) -> None:
    add_contacts(sending_app, CUSTOMERS)
    invite(sending_app)
    link = link_in(mailbox.wait_for(3) and mailbox.to("ana@example.com")[0])
    client = sending_app.test_client()
    assert post_form(client, link, {"item_easy": "6"}).status_code == 302
    with session_scope(sending_app) as session:
        response = session.exec(select(Response)).one()
        value = session.exec(
            select(SegmentValue.value)
            .join(ResponseSegment, ResponseSegment.value_id == SegmentValue.id)
            .where(ResponseSegment.response_id == response.id)
        ).one()
    assert (response.side, response.language, value) == ("customer", "fr", "North")
    assert client.get(link).status_code == 409  # single use


def test_the_email_answers_the_first_question_in_one_click(sending_app: Flask, mailbox: Mailbox) -> None:
    add_contacts(sending_app, CUSTOMERS)
    invite(sending_app)
    ana = mailbox.wait_for(3) and mailbox.to("ana@example.com")[0]
    text, html = ana.get_body(("plain",)).get_content(), ana.get_body(("html",)).get_content()
    link = link_in(ana)
    # Every value of the first score item (CES, 1 to 7), with its question and end labels, in French.
    clicks = re.findall(re.escape(BASE_URL) + r"(/r/[A-Za-z0-9_-]+\?lang=fr&score=(\d+))", text)
    assert [int(score) for _, score in clicks] == [1, 2, 3, 4, 5, 6, 7]
    assert "Facile ?" in text and "1 = Pas du tout d'accord" in text and "7 = Tout à fait d'accord" in text
    assert all(f'href="{BASE_URL}{path.replace("&", "&amp;")}"' in html for path, _ in clicks)
    # A click opens the page with that score chosen; nothing is stored until the customer sends it.
    client = sending_app.test_client()
    page = client.get(clicks[5][0]).get_data(as_text=True)
    assert re.search(r'name="item_easy" value="6"[^>]*checked', page), page
    with session_scope(sending_app) as session:
        assert session.exec(select(func.count()).select_from(Response)).one() == 0
    assert post_form(client, clicks[5][0], {"item_easy": "6"}).status_code == 302
    assert client.get(link).status_code == 409


def test_an_employee_invitation_is_used_up_without_linking_the_answer_to_it(
    sending_app: Flask, mailbox: Mailbox
) -> None:
    add_contacts(sending_app, "email\nzoe@example.com\n", kind="employee")
    invite(sending_app, side="employee")
    message = mailbox.wait_for(1)[0]
    assert "anonymous" in message.get_body(("plain",)).get_content()
    link = link_in(message)
    client = sending_app.test_client()
    assert post_form(client, link, {"item_easy": "5"}).status_code == 302
    with session_scope(sending_app) as session:
        response = session.exec(select(Response)).one()
        invitation = session.exec(select(Invitation)).one()
    assert response.side == "employee" and response.invitation_id is None and response.language is None
    assert invitation.used
    assert client.get(link).status_code == 409


def test_a_forged_or_expired_link_is_refused(sending_app: Flask, mailbox: Mailbox) -> None:
    add_contacts(sending_app, "email\nana@example.com\n")
    invite(sending_app)
    link = link_in(mailbox.wait_for(1)[0])
    client = sending_app.test_client()
    assert client.get(link.replace("?", "xyz?")).status_code == 404
    with session_scope(sending_app) as session:
        session.execute(update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(days=1)))
    assert client.get(link).status_code == 410


def test_nobody_is_invited_again_within_the_frequency_window(
    sending_app: Flask, sending_config: dict[str, object], mailbox: Mailbox
) -> None:
    add_contacts(sending_app, CUSTOMERS)
    invite(sending_app)
    mailbox.wait_for(3)
    with session_scope(sending_app) as session:
        survey = find_survey(session, "bank")
        open_wave(create_wave(session, survey, "w2"))
    second = invite(sending_app, wave="w2")
    assert states(sending_app, second) == {("skipped", "recent"): 3, ("skipped", "no_address"): 1}
    assert len(mailbox.messages) == 3
    relaxed = create_app({**sending_config, "FREQUENCY_COLD_DAYS": 0})
    with session_scope(relaxed) as session:
        survey = find_survey(session, "bank")
        open_wave(create_wave(session, survey, "w3"))
    third = invite(relaxed, wave="w3")
    assert states(relaxed, third)[("sent", None)] == 3


def test_a_barometer_invites_a_share_or_a_number_of_the_base(sending_app: Flask, mailbox: Mailbox) -> None:
    add_contacts(sending_app, "email\n" + "".join(f"c{n}@example.com\n" for n in range(40)))
    quarter = invite(sending_app, sample=Sample(share=0.25), start=False)
    assert states(sending_app, quarter) == {("pending", None): 10}
    with session_scope(sending_app) as session:
        open_wave(create_wave(session, find_survey(session, "bank"), "w2"))
    seven = invite(sending_app, wave="w2", sample=Sample(size=7), start=False)
    assert states(sending_app, seven) == {("pending", None): 7, ("skipped", "recent"): 10}
    with pytest.raises(InvitationError, match="above 0% and at most 100%"):
        Sample(share=1.5)
    with pytest.raises(InvitationError, match="not both"):
        Sample(share=0.5, size=3)


def test_reminders_skip_those_who_answered_or_unsubscribed_and_stop_at_the_maximum(
    sending_app: Flask, mailbox: Mailbox
) -> None:
    add_contacts(sending_app, "email,language\nana@example.com,fr\nbob@example.com,en\ncarl@example.com,en\n")
    invite(sending_app)
    messages = mailbox.wait_for(3)
    client = sending_app.test_client()
    assert post_form(client, link_in(mailbox.to("bob@example.com")[0]), {"item_easy": "6"}).status_code == 302
    with session_scope(sending_app) as session:
        carl = session.exec(select(Contact).where(Contact.email == "carl@example.com")).one()
    client.post(f"/u/{unsubscribe_token(sending_app.config['SECRET_KEY'], carl.id)}")
    with session_scope(sending_app) as session:
        too_soon = plan_reminders(sending_app, session, wave_named(session), "customer")
    assert states(sending_app, too_soon.id) == {}  # nobody: the invitations went out less than 3 days ago
    later = datetime.now(UTC) + timedelta(days=4)
    for round_number in range(3):
        with session_scope(sending_app) as session:
            dispatch = plan_reminders(sending_app, session, wave_named(session), "customer", now=later)
        send_batch(sending_app, dispatch.id, now=later)
        if round_number < 2:
            assert states(sending_app, dispatch.id) == {
                ("sent", None): 1,
                ("skipped", "answered"): 1,
                ("skipped", "unsubscribed"): 1,
            }
        else:
            assert states(sending_app, dispatch.id) == {  # ana had the most reminders (2): nobody is sent one
                ("skipped", "answered"): 1,
                ("skipped", "unsubscribed"): 1,
            }
        later += timedelta(days=4)
    reminders = mailbox.to("ana@example.com")[1:]
    assert [message["Subject"] for message in reminders] == ["Rappel : votre avis sur \u2068Banque Acme\u2069"] * 2
    assert link_in(reminders[0]) == link_in(
        messages[0] if messages[0]["To"] == "ana@example.com" else mailbox.to("ana@example.com")[0]
    )


def test_an_unsubscription_during_a_sending_is_honoured_at_once(
    sending_app: Flask, sending_config: dict[str, object], mailbox: Mailbox
) -> None:
    add_contacts(sending_app, "email\nana@example.com\nbob@example.com\n")
    dispatch_id = invite(sending_app, start=False)
    with session_scope(sending_app) as session:
        ana = session.exec(select(Contact).where(Contact.email == "ana@example.com")).one()
    sending_app.test_client().post(f"/u/{unsubscribe_token(sending_app.config['SECRET_KEY'], ana.id)}")
    send_batch(sending_app, dispatch_id)
    assert states(sending_app, dispatch_id) == {("sent", None): 1, ("skipped", "unsubscribed"): 1}
    assert [message["To"] for message in mailbox.wait_for(1)] == ["bob@example.com"]
    with session_scope(sending_app) as session:
        next_wave = create_wave(session, find_survey(session, "bank"), "w2")
        open_wave(next_wave)
    relaxed = create_app({**sending_config, "FREQUENCY_COLD_DAYS": 0})
    assert states(relaxed, invite(relaxed, wave="w2", start=False)) == {
        ("pending", None): 1,
        ("skipped", "unsubscribed"): 1,
    }


def test_a_refused_address_fails_and_a_busy_server_is_tried_again_later(sending_app: Flask, mailbox: Mailbox) -> None:
    add_contacts(sending_app, "email\nana@example.com\nbusy@example.com\ngone@example.com\n")
    mailbox.refused.update({"busy@example.com": 451, "gone@example.com": 550})
    dispatch_id = invite(sending_app)
    assert states(sending_app, dispatch_id) == {("sent", None): 1, ("pending", None): 1, ("failed", None): 1}
    with session_scope(sending_app) as session:
        busy = session.exec(select(DispatchItem).where(DispatchItem.state == "pending")).one()
        gone = session.exec(select(DispatchItem).where(DispatchItem.state == "failed")).one()
    assert busy.attempts == 1 and "451" in busy.error and "gone@example.com (550" in gone.error
    assert send_batch(sending_app, dispatch_id).sent == 0  # not due yet: it waits a minute
    del mailbox.refused["busy@example.com"]
    retried = send_batch(sending_app, dispatch_id, now=datetime.now(UTC) + backoff(1) + timedelta(seconds=1))
    assert retried.sent == 1
    assert sorted(message["To"] for message in mailbox.wait_for(2)) == ["ana@example.com", "busy@example.com"]
    assert backoff(1) < backoff(2) < backoff(3)


def test_a_hung_mail_server_delays_the_message_and_a_stuck_one_is_never_resent(
    app_config: dict[str, object], mailbox: Mailbox
) -> None:
    with silent_server() as (host, port):
        app = create_app({**app_config, "SMTP_HOST": host, "SMTP_PORT": port, "SMTP_SECURITY": "none",
                          "SMTP_FROM": "s@example.com", "SMTP_TIMEOUT": 1, "BASE_URL": BASE_URL})  # fmt: skip
        with session_scope(app) as session:
            survey = store_definition(
                session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
            )
            open_wave(create_wave(session, survey, "w1"))
        add_contacts(app, "email\nana@example.com\nbob@example.com\n")
        dispatch_id = invite(app)
        with session_scope(app) as session:
            items = session.exec(select(DispatchItem).where(DispatchItem.dispatch_id == dispatch_id)).all()
        assert {item.state for item in items} == {"pending"}
        assert all("did not answer within 1 s" in item.error for item in items)
        # A worker that stopped after claiming a message leaves it 'sending': it is marked failed, not resent.
        with session_scope(app) as session:
            session.execute(
                update(DispatchItem)
                .where(DispatchItem.id == items[0].id)
                .values(state="sending", claimed_at=datetime.now(UTC) - timedelta(hours=1))
            )
        assert resume(app) == []  # the other message waits for its retry
        assert states(app, dispatch_id) == {("failed", None): 1, ("pending", None): 1}
        with session_scope(app) as session:
            assert session.get(DispatchItem, items[0].id).error == INTERRUPTED
        app.extensions["perception"].engine.dispose()


def test_forgetting_an_invited_person_keeps_their_answer_and_drops_their_traces(
    sending_app: Flask, mailbox: Mailbox
) -> None:
    from perception.contacts import forget_contact

    add_contacts(sending_app, "email\nana@example.com\n")
    mailbox.refused["ana@example.com"] = 451
    dispatch_id = invite(sending_app)
    del mailbox.refused["ana@example.com"]
    send_batch(sending_app, dispatch_id, now=datetime.now(UTC) + timedelta(minutes=2))
    post_form(sending_app.test_client(), link_in(mailbox.wait_for(1)[0]), {"item_easy": "6"})
    with session_scope(sending_app) as session:
        forget_contact(session, session.exec(select(Contact)).one())
    with session_scope(sending_app) as session:
        assert session.exec(select(func.count(Response.id))).one() == 1
        assert session.exec(select(ContactInvitation.contact_id)).one() is None
        assert session.exec(select(DispatchItem.error)).all() == [None]
        rows = progress(session, wave_named(session))
    assert (rows[0].sent, rows[0].failed) == (1, 0)


def test_invitations_need_the_public_address_and_an_addressed_channel(
    sending_app: Flask, sending_config: dict[str, object]
) -> None:
    add_contacts(sending_app, CUSTOMERS)
    channels = sending_app.extensions["perception"].registries.channels
    with session_scope(sending_app) as session:
        with pytest.raises(InvitationError, match="hands a link to the lead"):
            plan_invitations(sending_app, session, wave_named(session), "customer", channels["link"])
        session.rollback()
    without = create_app({**sending_config, "BASE_URL": ""})
    with session_scope(without) as session:
        with pytest.raises(InvitationError, match="set PERCEPTION_BASE_URL"):
            plan_invitations(without, session, wave_named(session), "customer", channels["email"])
        session.rollback()


def test_the_commands_invite_remind_and_show_the_progress(sending_app: Flask, mailbox: Mailbox) -> None:
    add_contacts(sending_app, CUSTOMERS)
    runner = sending_app.test_cli_runner()
    result = runner.invoke(args=["invite", "bank", "w1", "--side", "customer", "--share", "100"])
    assert result.exit_code == 0, result.output
    assert "3 sent, 0 failed, 1 skipped (no_address 1)" in result.output
    reminded = runner.invoke(args=["remind", "bank", "w1", "--side", "customer"])
    assert reminded.exit_code == 0 and "remind customer" in reminded.output
    assert runner.invoke(args=["sending", "bank", "nope"]).exit_code != 0
    assert len(mailbox.wait_for(3)) == 3
    with session_scope(sending_app) as session:
        assert session.exec(select(func.count(Dispatch.id))).one() == 2


def test_the_sending_page_says_when_messages_lack_the_public_address(app_config: dict[str, object]) -> None:
    notice = "nothing can be sent from here"
    for base_url, shown in (("", True), (BASE_URL, False)):  # the same database, served twice
        app = create_app({**app_config, "BASE_URL": base_url})
        try:
            if shown:
                with session_scope(app) as session:
                    survey = store_definition(
                        session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
                    )
                    open_wave(create_wave(session, survey, "w1"))
            page = sign_in(app, "lead").get("/surveys/bank/waves/w1/sending").get_data(as_text=True)
            assert (notice in page) is shown, base_url
            if shown:
                assert "PERCEPTION_BASE_URL" in page
                french = sign_in(app, "lead").get("/surveys/bank/waves/w1/sending?lang=fr").get_data(as_text=True)
                assert "rien ne peut partir de cette page" in french
        finally:
            app.extensions["perception"].engine.dispose()
