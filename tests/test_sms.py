"""Invitations by SMS through an HTTP gateway (a loopback server standing in for it), GSM-7 aware."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import select

from perception import create_app
from perception.contacts import import_contacts
from perception.db import session_scope
from perception.dispatch import send_batch, start_dispatch
from perception.invitations import plan_invitations
from perception.models import DispatchItem
from perception.settings import SettingsError
from perception.sms import SmsError, plain, send_sms, sms_length
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, open_wave
from tests.gateway import Gateway, start_gateway

DEFINITION = {
    "slug": "shop",
    "title": {"en": "Corner Shop", "fr": "L’Épicerie du coin"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}}],
}  # fmt: skip
BODY = '{"messages": [{"destination": "{to}", "content": "{text}", "source": "{sender}"}], "note": "a {curly} brace"}'


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with start_gateway() as running:
        yield running


@pytest.fixture
def sms_app(app_config: dict[str, object], gateway: Gateway) -> Iterator[Flask]:
    app = create_app({**app_config, "BASE_URL": "http://perception.test", "SMS_BACKEND": "http",
                      "SMS_URL": gateway.url, "SMS_AUTH_HEADER": "Authorization: Bearer k3y", "SMS_BODY": BODY,
                      "SMS_SENDER": "Epicerie", "SMS_TIMEOUT": 1})  # fmt: skip
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
        )
        open_wave(create_wave(session, survey, "w1"))
        import_contacts(session, "customer", b"phone,language\n+33 6 12 34 56 78,fr\n+44 7700 900123,en\n")
    yield app
    app.extensions["perception"].engine.dispose()


def send_wave(app: Flask) -> int:
    channel = app.extensions["perception"].registries.channels["sms"]
    with session_scope(app) as session:
        from perception.waves import find_survey, find_wave

        dispatch = plan_invitations(
            app, session, find_wave(session, find_survey(session, "shop"), "w1"), "customer", channel
        )
    start_dispatch(app, dispatch)
    return dispatch.id


def item_states(app: Flask, dispatch_id: int) -> list[tuple[str, str | None]]:
    with session_scope(app) as session:
        return [
            (item.state, item.error)
            for item in session.exec(select(DispatchItem).where(DispatchItem.dispatch_id == dispatch_id))
        ]


def test_gsm7_text_counts_160_per_sms_and_anything_else_70() -> None:
    assert (sms_length("a" * 160).encoding, sms_length("a" * 160).segments) == ("GSM-7", 1)
    assert sms_length("a" * 161).segments == 2 and sms_length("a" * 306).segments == 2
    assert sms_length("€" * 80).units == 160 and sms_length("€" * 81).segments == 2  # extended: two septets
    assert sms_length("Répondez à l'enquête").encoding == "UCS-2"  # ê is not in GSM-7
    assert sms_length("Répondez à l'enquete").encoding == "GSM-7"  # é and à are
    assert sms_length("ê" * 70).segments == 1 and sms_length("ê" * 71).segments == 2
    assert sms_length("😀" * 35).units == 70
    assert plain("L’avis « vite »") == 'L\'avis " vite "'


def test_a_lead_invites_customers_by_sms(sms_app: Flask, gateway: Gateway) -> None:
    dispatch_id = send_wave(sms_app)
    assert [state for state, _ in item_states(sms_app, dispatch_id)] == ["sent", "sent"]
    assert len(gateway.requests) == 2
    first = gateway.requests[0]
    assert first["path"] == "/v1/sms" and first["headers"]["Authorization"] == "Bearer k3y"
    message = first["json"]["messages"][0]
    assert message["destination"] == "+33612345678" and message["source"] == "Epicerie"
    assert first["json"]["note"] == "a {curly} brace"
    text = message["content"]
    assert text.startswith("L'Épicerie du coin : votre avis compte")  # the curly apostrophe made plain
    assert "http://perception.test/r/" in text and "STOP : http://perception.test/u/" in text
    assert sms_length(text).encoding == "GSM-7"
    assert gateway.requests[1]["json"]["messages"][0]["content"].startswith("Corner Shop: your opinion counts")


def test_a_gateway_error_is_retried_and_a_refusal_is_final(sms_app: Flask, gateway: Gateway) -> None:
    gateway.status = 500
    dispatch_id = send_wave(sms_app)
    states = item_states(sms_app, dispatch_id)
    assert [state for state, _ in states] == ["pending", "pending"]
    assert "answered 500" in states[0][1] and "gateway trouble" in states[0][1]
    gateway.status = 400
    send_batch(sms_app, dispatch_id, now=datetime.now(UTC) + timedelta(minutes=2))
    assert [state for state, _ in item_states(sms_app, dispatch_id)] == ["failed", "failed"]


def test_a_gateway_that_hangs_is_given_up_after_the_timeout(sms_app: Flask, gateway: Gateway) -> None:
    gateway.hang = True
    dispatch_id = send_wave(sms_app)
    states = item_states(sms_app, dispatch_id)
    assert [state for state, _ in states] == ["pending", "pending"]
    assert "did not answer within 1 s" in states[0][1]


def test_a_message_longer_than_three_sms_is_refused(tmp_path, gateway: Gateway) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SMS_BACKEND": "http", "SMS_URL": gateway.url})
    with pytest.raises(SmsError, match="takes 4 SMS") as refused:
        send_sms(app, "+33612345678", "x" * 460)
    assert refused.value.permanent and gateway.requests == []
    with pytest.raises(SmsError, match="no SMS gateway is configured"):
        send_sms(create_app({"INSTANCE_PATH": str(tmp_path)}), "+33612345678", "hello")


def test_the_console_backend_writes_messages_to_the_log(tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SMS_BACKEND": "console"})
    with caplog.at_level(logging.INFO, logger="perception.sms"):
        assert send_sms(app, "+33612345678", "Bonjour") == "console"
    assert "SMS to +33612345678 (GSM-7, 1 SMS): Bonjour" in caplog.text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SMS_BACKEND": "http"}, "set PERCEPTION_SMS_URL"),
        ({"SMS_BACKEND": "pigeon"}, "PERCEPTION_SMS_BACKEND must be one of"),
        ({"SMS_URL": "gateway.example.com"}, "PERCEPTION_SMS_URL must start with http"),
        ({"SMS_AUTH_HEADER": "Bearer k3y"}, "must read 'Name: value'"),
        ({"SMS_BODY": '{"to": "{to}"'}, "PERCEPTION_SMS_BODY is not JSON"),
        ({"SMS_BODY": '["{to}", "{text}"]'}, "must be a JSON object"),
        ({"SMS_BODY": '{"to": "{to}"}'}, "must place {text}"),
    ],
)
def test_a_bad_sms_setting_stops_the_start(tmp_path, settings: dict[str, str], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match=message.replace("{", "\\{").replace("}", "\\}")):
        create_app({"INSTANCE_PATH": str(tmp_path), **settings})
