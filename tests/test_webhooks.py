"""Webhooks: registered by admins, signed the Standard Webhooks way, retried, logged, anonymous."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from perception.db import session_scope
from perception.models import WebhookDelivery, WebhookEndpoint
from perception.waves import find_survey, find_wave, issue_links
from perception.webhooks import RETRY_DELAYS, attempt, create_endpoint, signed_headers
from tests.conftest import open_core_wave, post_form, sign_in
from tests.receiver import receiver


def register(app: Flask, url: str, events: list[str]) -> tuple[int, str]:
    with session_scope(app) as session:
        endpoint = create_endpoint(session, url, events, "helpdesk", None)
        return endpoint.id, endpoint.secret


def deliveries(app: Flask) -> list[WebhookDelivery]:
    with session_scope(app) as session:
        found = session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        session.expunge_all()
        return list(found)


def answer(app: Flask, side: str, answers: dict[str, object]) -> None:
    with session_scope(app) as session:
        wave = find_wave(session, find_survey(session, "core"), "w1")
        token = issue_links(session, wave, side, 1, 30)[0].token
    assert post_form(app.test_client(), f"/r/{token}", answers).status_code == 302


ANSWERS = {"item_recommend": 3, "item_satisfaction": 2, "item_effort": 6, "item_comment": "I am Jo from Legal"}


def test_an_admin_registers_an_endpoint_and_the_test_event_arrives_signed(app: Flask) -> None:
    admin = sign_in(app, "admin")
    with receiver() as hook:
        page = post_form(admin, "/accounts/webhooks/", {"url": hook.url, "description": "Helpdesk",
                                                        "events": ["response.submitted", "wave.closed"]})  # fmt: skip
        assert page.status_code == 302
        endpoint_page = admin.get(page.headers["Location"]).get_data(as_text=True)
        hook.secret = re.search(r'id="secret" type="text" readonly value="(whsec_[^"]+)"', endpoint_page).group(1)
        endpoint_id = int(page.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        sent = post_form(admin, f"/accounts/webhooks/{endpoint_id}/test", {}, token_from=page.headers["Location"])
        assert sent.status_code == 302
        [delivery] = hook.wait_for(1)
    assert delivery["body"]["type"] == "webhook.test" and delivery["body"]["data"]["endpoint"] == endpoint_id
    assert delivery["headers"]["webhook-id"].startswith("msg_")
    assert delivery["headers"]["webhook-signature"].startswith("v1,")
    log = admin.get(f"/accounts/webhooks/{endpoint_id}").get_data(as_text=True)
    assert "webhook.test" in log and "delivered" in log and "HTTP 204" in log
    assert sign_in(app, "lead").get("/accounts/webhooks/").status_code == 403
    bad = post_form(admin, "/accounts/webhooks/", {"url": "ftp://example.com", "events": ["wave.closed"]})
    assert bad.status_code == 422 and "http:// or https://" in bad.get_data(as_text=True)


def test_a_customer_answer_goes_out_with_its_answers_and_an_employee_answer_without_them(app: Flask) -> None:
    open_core_wave(app)
    with receiver() as hook:
        _endpoint_id, hook.secret = register(app, hook.url, ["response.submitted"])
        answer(app, "customer", ANSWERS)
        answer(app, "employee", ANSWERS)
        customer, employee = (delivery["body"] for delivery in hook.wait_for(2))
    assert customer["type"] == "response.submitted"
    assert customer["data"]["side"] == "customer" and customer["data"]["answers"]["recommend"] == 3
    assert employee["data"] == {"survey": "core", "wave": "w1", "side": "employee",
                                "submitted_on": employee["data"]["submitted_on"]}  # fmt: skip
    assert "Jo from Legal" not in json.dumps(employee)
    assert [d.state for d in deliveries(app)] == ["delivered", "delivered"]


def test_closing_a_wave_reaches_the_endpoints_registered_for_it_only(app: Flask) -> None:
    open_core_wave(app)
    with receiver() as hook, receiver() as other:
        _, hook.secret = register(app, hook.url, ["wave.closed"])
        _, other.secret = register(app, other.url, ["wave.opened"])
        assert app.test_cli_runner().invoke(args=["wave", "close", "core", "w1"]).exit_code == 0
        [closed] = hook.wait_for(1)
    assert closed["body"]["type"] == "wave.closed" and closed["body"]["data"] == {
        "survey": "core",
        "wave": "w1",
        "kind": "cold",
    }
    assert other.received == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_endpoint_is_tried_again_later_and_later_then_given_up(app: Flask) -> None:
    endpoint_id, _secret = register(app, f"http://127.0.0.1:{_closed_port()}/hooks", ["wave.opened"])
    from perception.webhooks import send_test_event

    delivery_id = send_test_event(app, endpoint_id)
    [delivery] = deliveries(app)
    assert delivery.state == "pending" and delivery.attempts == 1
    assert delivery.last_status is None and "Connection" in (delivery.last_error or "")
    assert delivery.next_attempt_at is not None
    waits = [RETRY_DELAYS[0]]
    while (wait := attempt(app, delivery_id)) is not None:
        waits.append(wait)
    assert waits == sorted(waits) and len(set(waits)) == len(waits)  # each wait longer than the last
    [delivery] = deliveries(app)
    assert delivery.state == "failed" and delivery.attempts == len(RETRY_DELAYS) + 1
    assert attempt(app, delivery_id) is None  # a failed delivery is not sent again


def test_an_endpoint_answering_an_error_is_retried_and_its_answer_logged(app: Flask) -> None:
    with receiver(status=503) as hook:
        endpoint_id, hook.secret = register(app, hook.url, ["wave.opened"])
        from perception.webhooks import send_test_event

        delivery_id = send_test_event(app, endpoint_id)
        hook.wait_for(1)
        [delivery] = deliveries(app)
        assert (delivery.state, delivery.last_status, delivery.last_response) == ("pending", 503, "thanks")
        hook.status = 200
        assert attempt(app, delivery_id) is None
    [delivery] = deliveries(app)
    assert delivery.state == "delivered" and delivery.attempts == 2
    assert hook.duplicates == [delivery.message_id] and hook.refused == []  # one message, sent twice, same id


def test_a_receiver_refuses_a_tampered_a_replayed_late_or_unsigned_delivery(app: Flask) -> None:
    secret = Webhook  # the verification recipe of docs/webhooks.md
    with session_scope(app) as session:
        endpoint = create_endpoint(session, "https://example.com/hooks", ["wave.opened"], "", None)
        key = endpoint.secret
    body = '{"type":"wave.opened","data":{}}'
    headers = signed_headers(key, "msg_1", body)
    assert secret(key).verify(body, headers) == {"type": "wave.opened", "data": {}}
    with pytest.raises(WebhookVerificationError):
        secret(key).verify(body.replace("opened", "closed"), headers)
    late = signed_headers(key, "msg_1", body, now=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        secret(key).verify(body, late)
    with pytest.raises(WebhookVerificationError):
        secret(key).verify(body, {"webhook-id": "msg_1"})
    with pytest.raises(WebhookVerificationError):
        secret("whsec_" + "A" * 43).verify(body, headers)


def test_a_switched_off_endpoint_gets_nothing(app: Flask) -> None:
    with receiver() as hook:
        endpoint_id, hook.secret = register(app, hook.url, ["wave.opened"])
        with session_scope(app) as session:
            session.get(WebhookEndpoint, endpoint_id).active = False
        open_core_wave(app)
        assert app.test_cli_runner().invoke(args=["wave", "close", "core", "w1"]).exit_code == 0
    assert deliveries(app) == [] and hook.received == []


def test_a_published_story_and_an_opened_alert_reach_their_endpoints(app: Flask) -> None:
    from perception import AlertOpened, StoryPublished

    now = datetime.now(UTC)
    hook_caller = app.extensions["perception"].plugin_manager.hook
    with receiver() as hook:
        _, hook.secret = register(app, hook.url, ["story.published", "alert.opened"])
        hook_caller.perception_story_published(app=app, event=StoryPublished(
            story_id=7, title="The courier who came back", touchpoint="delivery", dimension=None, alert_id=None,
            published_at=now,
        ))  # fmt: skip
        hook_caller.perception_alert_opened(app=app, event=AlertOpened(
            alert_id=3, kind="answer", survey_slug="core", wave_name="w1", item_key="recommend", value=2,
            touchpoint=None, dimension=None, reason="", opened_at=now, due_at=now, owner_email="lead@example.com",
        ))  # fmt: skip
        story, alert = (delivery["body"] for delivery in hook.wait_for(2))
    assert story["type"] == "story.published" and story["data"]["title"] == "The courier who came back"
    assert alert["type"] == "alert.opened" and alert["data"]["value"] == 2
    assert "lead@example.com" not in json.dumps(alert)


def test_a_decision_on_an_idea_reaches_its_endpoint_without_naming_anyone(app: Flask) -> None:
    from perception import IdeaStateChanged

    hook_caller = app.extensions["perception"].plugin_manager.hook
    with receiver() as hook:
        _, hook.secret = register(app, hook.url, ["idea.state_changed"])
        hook_caller.perception_idea_state_changed(app=app, event=IdeaStateChanged(
            idea_id=4, title="Call back within the hour", from_state="under_review", to_state="accepted",
            answer="We start in March.", decided_on=date(2027, 2, 1), decision_id=9,
        ))  # fmt: skip
        (delivery,) = hook.wait_for(1)
    body = delivery["body"]
    assert body["type"] == "idea.state_changed"
    assert body["data"] == {
        "idea": 4, "title": "Call back within the hour", "from_state": "under_review", "to_state": "accepted",
        "answer": "We start in March.", "decided_on": "2027-02-01", "merged_into": None,
    }  # fmt: skip
