"""The whole of reaching people, as a lead does it: contacts imported from a file, a wave sent by email
and by SMS, a reminder, and the progress watched, with a real task-queue consumer (Huey on SQLite, and on
Redis when one is reachable), a real SMTP server and a gateway on loopback."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import func, select, update

from perception import create_app
from perception.db import session_scope
from perception.models import ContactInvitation, DispatchItem
from perception.surveys import parse_definition, store_definition
from perception.tasks import start_consumer
from perception.waves import create_wave, open_wave
from tests.conftest import post_form, sign_in
from tests.gateway import Gateway, start_gateway
from tests.mailbox import Mailbox
from tests.test_dispatch_worker import DEFINITION, queue_url, wait_until  # noqa: F401 (queue_url is a fixture)
from tests.test_sms import BODY

CONTACTS = (
    "email,phone,language\n"
    "ana@example.com,,fr\n"
    "bob@example.com,,en\n"
    ",+33 6 12 34 56 78,fr\n"
    ",+44 7700 900123,en\n"
    "not-an-address,,en\n"
)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with start_gateway() as running:
        yield running


@pytest.fixture
def lead_app(app_config: dict[str, object], mailbox: Mailbox, gateway: Gateway, queue_url: str) -> Iterator[Flask]:  # noqa: F811
    app = create_app({**app_config, **mailbox.settings, "BASE_URL": "http://perception.test",
                      "QUEUE_IMMEDIATE": False, "QUEUE_URL": queue_url, "QUEUE_NAME": f"test-{uuid.uuid4().hex}",
                      "SMS_BACKEND": "http", "SMS_URL": gateway.url, "SMS_AUTH_HEADER": "Authorization: Bearer k3y",
                      "SMS_BODY": BODY, "SMS_SENDER": "Acme", "SMS_TIMEOUT": 5})  # fmt: skip
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
        )
        open_wave(create_wave(session, survey, "w1"))
    consumer = start_consumer(app, workers=2)
    try:
        yield app
    finally:
        consumer.stop(graceful=True)
        if queue_url != "sqlite":
            app.extensions["perception"].queue.storage.flush_all()
        app.extensions["perception"].engine.dispose()


def import_file(lead: FlaskClient, text: str):  # type: ignore[no-untyped-def]
    form = {"kind": "customer", "survey": "", "language": "en", "file": (io.BytesIO(text.encode()), "customers.csv")}
    return post_form(lead, "/contacts/import", form, token_from="/contacts", content_type="multipart/form-data")


def sent(app: Flask) -> int:
    with session_scope(app) as session:
        return session.exec(select(func.count()).select_from(DispatchItem).where(DispatchItem.state == "sent")).one()


def test_a_lead_imports_sends_by_email_and_sms_reminds_and_watches_the_progress(
    lead_app: Flask, mailbox: Mailbox, gateway: Gateway
) -> None:
    lead = sign_in(lead_app, "lead")
    # A bad line refuses the whole file, saying where; the corrected file goes in.
    refused = import_file(lead, CONTACTS)
    assert refused.status_code == 422 and "line 6" in refused.get_data(as_text=True)
    good = CONTACTS.replace("not-an-address,,en\n", "")
    imported = import_file(lead, good)
    assert imported.status_code in (200, 302)

    sending = "/surveys/bank/waves/w1/sending"
    for channel in ("email", "sms"):
        response = post_form(lead, f"{sending}/invite", {"side": "customer", "channel": channel}, token_from=sending)
        assert response.status_code == 302, response.get_data(as_text=True)
    wait_until(lambda: sent(lead_app) == 4, "two emails and two text messages sent by the consumer")
    assert sorted(message["To"] for message in mailbox.wait_for(2)) == ["ana@example.com", "bob@example.com"]
    assert sorted(request["json"]["messages"][0]["destination"] for request in gateway.requests) == [
        "+33612345678",
        "+447700900123",
    ]
    # Bob answers from his email; four days later the lead sends a reminder: only the others get one.
    bob = mailbox.to("bob@example.com")[0].get_body(("plain",)).get_content()
    link = re.search(r"http://perception\.test(/r/[A-Za-z0-9_-]+\?lang=en)", bob).group(1)  # type: ignore[union-attr]
    assert post_form(lead_app.test_client(), link, {"item_easy": "6"}).status_code == 302
    with session_scope(lead_app) as session:
        session.exec(update(ContactInvitation).values(last_sent_at=datetime.now(UTC) - timedelta(days=4)))  # type: ignore[call-overload]
    response = post_form(lead, f"{sending}/remind", {"side": "customer"}, token_from=sending)
    assert response.status_code == 302, response.get_data(as_text=True)
    wait_until(lambda: sent(lead_app) == 7, "three reminders sent")
    reminders = [message for message in mailbox.wait_for(3) if message["Subject"].startswith(("Rappel", "Reminder"))]
    assert [message["To"] for message in reminders] == ["ana@example.com"]
    assert len(gateway.requests) == 4
    # The lead watches it all on the sending page.
    page = lead.get(sending).get_data(as_text=True)
    assert page.count("<tr") >= 4 and "answered" in page
