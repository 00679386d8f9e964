"""A helpdesk plays the whole loop through the API: it asks for a hot-survey invitation after each
call, the customers answer, its webhook receiver gets each answer signed, and the report moves."""

from __future__ import annotations

import re

from flask import Flask

from perception import create_app
from perception.db import session_scope
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, open_wave
from perception.webhooks import create_endpoint
from tests.conftest import post_form
from tests.mailbox import Mailbox
from tests.receiver import receiver
from tests.test_api import make_token
from tests.test_api_invitations import DEFINITION


def test_a_helpdesk_invites_after_calls_hears_the_answers_and_reads_the_report(
    app_config: dict[str, object], mailbox: Mailbox
) -> None:
    app: Flask = create_app(
        {**app_config, **mailbox.settings, "BASE_URL": "http://perception.test", "REPORTING_THRESHOLD": 2}
    )
    try:
        with session_scope(app) as session:
            survey = store_definition(
                session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
            )
            wave = create_wave(session, survey, "after-call", kind="hot")
            open_wave(wave)
            wave_id = wave.id
        token = make_token(app, ["invitations:send", "reports:read"], "Helpdesk")
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()
        with receiver() as hook:
            with session_scope(app) as session:
                hook.secret = create_endpoint(session, hook.url, ["response.submitted"], "Helpdesk", None).secret
            for email, answer in (("ana@example.com", "6"), ("bob@example.com", "4")):
                sent = client.post(f"/api/v1/waves/{wave_id}/invitations", headers=headers, json={
                    "contact": {"email": email, "language": "en"}, "channel": "email", "touchpoint": "support call",
                })  # fmt: skip
                assert sent.status_code == 202 and sent.get_json()["state"] == "pending", sent.get_json()
                message = next(m for m in mailbox.wait_for(1 if email.startswith("ana") else 2) if m["To"] == email)
                link = re.search(r"http://perception\.test(/r/[^\s]+)", message.get_body(("plain",)).get_content())
                assert post_form(app.test_client(), link.group(1), {"item_easy": answer}).status_code == 302
            events = hook.wait_for(2)
        assert [event["body"]["type"] for event in events] == ["response.submitted"] * 2
        assert sorted(event["body"]["data"]["answers"]["easy"] for event in events) == [4, 6]
        assert all(event["headers"]["webhook-signature"].startswith("v1,") for event in events)
        assert hook.refused == []  # each one verified against the endpoint's secret
        report = client.get("/api/v1/surveys/care/waves/after-call/report", headers=headers).get_json()
        assert report["responses"]["customer"] == 2
        easy = report["items"][0]
        assert easy["customer"]["n"] == 2 and easy["customer"]["score"] == 5.0
    finally:
        app.extensions["perception"].engine.dispose()
