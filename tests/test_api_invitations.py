"""Another system asks for one invitation right after an interaction: POST /api/v1/waves/<id>/invitations."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlmodel import select

from perception import create_app
from perception.db import session_scope
from perception.models import Response, ResponseSegment, SegmentAttribute, SegmentValue
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, open_wave
from tests.conftest import post_form
from tests.mailbox import Mailbox
from tests.test_api import make_token

DEFINITION = {
    "slug": "care",
    "title": {"en": "Customer care", "fr": "Service client"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}}],
    "segments": {"customer": {"touchpoint": ["delivery", "support call"], "region": ["North", "South"]}},
}  # fmt: skip


@pytest.fixture
def hot_app(app_config: dict[str, object], mailbox: Mailbox) -> Iterator[tuple[Flask, int]]:
    app = create_app({**app_config, **mailbox.settings, "BASE_URL": "http://perception.test"})
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
        )
        wave = create_wave(session, survey, "continuous", kind="hot")
        open_wave(wave)
        wave_id = wave.id
    yield app, wave_id  # type: ignore[misc]
    app.extensions["perception"].engine.dispose()


def call(app: Flask, wave_id: int, token: str, body: object):  # type: ignore[no-untyped-def]
    return app.test_client().post(
        f"/api/v1/waves/{wave_id}/invitations", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_support_tool_invites_a_customer_after_a_call(hot_app: tuple[Flask, int], mailbox: Mailbox) -> None:
    app, wave_id = hot_app
    token = make_token(app, ["invitations:send"])
    body = {"contact": {"email": "ana@example.com", "language": "fr"}, "channel": "email",
            "touchpoint": "support call", "segments": {"region": "North"}}  # fmt: skip
    answer = call(app, wave_id, token, body)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["state"] == "pending" and answer.get_json()["reason"] is None
    message = mailbox.wait_for(1)[0]
    assert (
        message["To"] == "ana@example.com" and message["Subject"] == "Votre avis sur \u2068Service client\u2069"
    )  # the title in an isolate
    link = re.search(r"http://perception\.test(/r/[^\s]+)", message.get_body(("plain",)).get_content()).group(1)
    assert post_form(app.test_client(), link, {"item_easy": "6"}).status_code == 302
    with session_scope(app) as session:
        response = session.exec(select(Response)).one()
        carried = dict(
            session.exec(
                select(SegmentAttribute.name, SegmentValue.value)
                .join(ResponseSegment, ResponseSegment.attribute_id == SegmentAttribute.id)
                .join(SegmentValue, SegmentValue.id == ResponseSegment.value_id)
                .where(ResponseSegment.response_id == response.id)
            ).all()
        )
    assert carried == {"touchpoint": "support call", "region": "North"}
    again = call(app, wave_id, token, body)  # the same person right after: the frequency rule says no
    assert again.status_code == 202 and again.get_json()["state"] == "skipped"
    assert again.get_json()["reason"] == "recent"
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"contact": {"email": "ana@example.com"}, "touchpoint": "shop"}, 422, "'shop' is not a value of touchpoint"),
        ({"contact": {"email": "ana@example.com"}, "segments": {"city": "Paris"}}, 422, "no customer segment 'city'"),
        ({"contact": {"email": "not-an-address"}}, 422, "is not an email address"),
        ({"contact": {"phone": "+33612345678"}}, 422, "needs the contact's email"),
        ({"contact": {"email": "ana@example.com"}, "channel": "pigeon"}, 422, "no channel 'pigeon'"),
        ({"contact": {"email": "ana@example.com"}, "channel": "link"}, 422, "hands a link to the lead"),
        ({"channel": "email"}, 422, "body.contact"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_saying_what_and_where(
    hot_app: tuple[Flask, int], mailbox: Mailbox, body: object, status: int, detail: str
) -> None:
    app, wave_id = hot_app
    answer = call(app, wave_id, make_token(app, ["invitations:send"]), body)
    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    assert detail in answer.get_json()["detail"]
    assert mailbox.messages == []


def test_the_endpoint_needs_the_scope_and_a_wave(hot_app: tuple[Flask, int]) -> None:
    app, wave_id = hot_app
    body = {"contact": {"email": "ana@example.com"}}
    assert call(app, wave_id, "pct_forged", body).status_code == 401
    assert call(app, wave_id, make_token(app, ["reports:read"], name="reader"), body).status_code == 403
    assert call(app, wave_id + 99, make_token(app, ["invitations:send"], name="sender"), body).status_code == 404


def test_an_unsubscribed_person_is_not_invited(hot_app: tuple[Flask, int], mailbox: Mailbox) -> None:
    from perception.contacts import import_contacts, unsubscribe
    from perception.models import Contact

    app, wave_id = hot_app
    with session_scope(app) as session:
        import_contacts(session, "customer", b"email\nbob@example.com\n")
    with session_scope(app) as session:
        unsubscribe(session, session.exec(select(Contact)).one())
    answer = call(app, wave_id, make_token(app, ["invitations:send"]), {"contact": {"email": "BOB@example.com"}})
    assert answer.get_json()["state"] == "skipped" and answer.get_json()["reason"] == "unsubscribed"
    assert mailbox.messages == []


def bulk(app: Flask, wave_id: int, token: str, body: object):  # type: ignore[no-untyped-def]
    return app.test_client().post(
        f"/api/v1/waves/{wave_id}/invitations/bulk", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_crm_invites_a_list_of_customers_in_one_call(hot_app: tuple[Flask, int], mailbox: Mailbox) -> None:
    from perception.contacts import import_contacts, unsubscribe
    from perception.models import Contact, Dispatch

    app, wave_id = hot_app
    with session_scope(app) as session:
        import_contacts(session, "customer", b"email\nbob@example.com\n")
    with session_scope(app) as session:
        unsubscribe(session, session.exec(select(Contact)).one())
    token = make_token(app, ["invitations:send"])
    body = {
        "channel": "email",
        "contacts": [
            {"email": "ana@example.com", "language": "fr", "touchpoint": "delivery", "segments": {"region": "South"}},
            {"email": "BOB@example.com"},
            {"email": "carl@example.com"},
            {"email": "ana@example.com"},
        ],
    }
    answer = bulk(app, wave_id, token, body)
    assert answer.status_code == 202, answer.get_json()
    result = answer.get_json()
    assert result["pending"] == 2 and result["skipped"] == {"unsubscribed": 1, "recent": 1}
    assert [(entry["state"], entry["reason"]) for entry in result["results"]] == [
        ("pending", None), ("skipped", "unsubscribed"), ("pending", None), ("skipped", "recent"),
    ]  # fmt: skip
    assert sorted(message["To"] for message in mailbox.wait_for(2)) == ["ana@example.com", "carl@example.com"]
    with session_scope(app) as session:
        assert [dispatch.id for dispatch in session.exec(select(Dispatch))] == [result["dispatch_id"]]
    again = bulk(app, wave_id, token, {"contacts": [{"email": "carl@example.com"}]}).get_json()
    assert again["pending"] == 0 and again["skipped"] == {"recent": 1}  # the contact-frequency rule
    assert len(mailbox.messages) == 2


def test_a_list_with_bad_entries_sends_nothing_and_names_each_one(hot_app: tuple[Flask, int], mailbox: Mailbox) -> None:
    from perception.models import Contact, Dispatch

    app, wave_id = hot_app
    token = make_token(app, ["invitations:send"])
    body = {
        "contacts": [
            {"email": "ana@example.com"},
            {"email": "not-an-address"},
            {"email": "carl@example.com", "touchpoint": "shop"},
            {"phone": "+33612345678"},
        ]
    }
    answer = bulk(app, wave_id, token, body)
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert [error["field"] for error in problem["errors"]] == [
        "body.contacts[1]",
        "body.contacts[2]",
        "body.contacts[3]",
    ]
    assert "is not an email address" in problem["errors"][0]["message"]
    assert "'shop' is not a value of touchpoint" in problem["errors"][1]["message"]
    assert "needs the contact's email" in problem["errors"][2]["message"]
    assert problem["detail"].startswith("body.contacts[1]: ") and "(and 2 more)" in problem["detail"]
    with session_scope(app) as session:
        assert session.exec(select(Contact)).all() == [] and session.exec(select(Dispatch)).all() == []
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"contacts": []}, "body.contacts"),
        ({"contacts": [{"email": "ana@example.com"}] * 501}, "body.contacts"),
        ({"contacts": [{"email": 7}]}, "body.contacts[0].email"),
        ({"contacts": [{"email": "ana@example.com"}], "channel": "link"}, "hands a link to the lead"),
        ({"contacts": [{"email": "ana@example.com"}], "channel": "pigeon"}, "no channel 'pigeon'"),
        ({"contacts": [{"email": "ana@example.com", "segments": {"region": "North"}}], "side": "employee"},
         "an employee invitation carries no segment values"),
    ],
)  # fmt: skip
def test_bulk_requests_are_checked_before_anything_is_sent(
    hot_app: tuple[Flask, int], mailbox: Mailbox, body: object, detail: str
) -> None:
    app, wave_id = hot_app
    answer = bulk(app, wave_id, make_token(app, ["invitations:send"]), body)
    assert answer.status_code == 422 and detail in answer.get_json()["detail"]
    assert mailbox.messages == []


def test_bulk_invitations_need_the_scope_an_open_wave_and_a_wave(hot_app: tuple[Flask, int]) -> None:
    from perception.models import Wave
    from perception.waves import close_wave

    app, wave_id = hot_app
    body = {"contacts": [{"email": "ana@example.com"}]}
    assert bulk(app, wave_id, "pct_forged", body).status_code == 401
    assert bulk(app, wave_id, make_token(app, ["ideas:read"], name="reader"), body).status_code == 403
    token = make_token(app, ["invitations:send"], name="sender")
    assert bulk(app, wave_id + 99, token, body).status_code == 404
    with session_scope(app) as session:
        close_wave(session.get(Wave, wave_id))
    closed = bulk(app, wave_id, token, body)
    assert closed.status_code == 422 and "is not open" in closed.get_json()["detail"]


def test_a_phone_already_held_by_another_contact_is_not_moved(hot_app: tuple[Flask, int], mailbox: Mailbox) -> None:
    app, wave_id = hot_app
    body = {"contacts": [{"email": "ana@example.com"}, {"email": "bob@example.com", "phone": "+33612345678"},
                         {"email": "ana@example.com", "phone": "+33612345678"}]}  # fmt: skip
    answer = bulk(app, wave_id, make_token(app, ["invitations:send"]), body)
    assert answer.status_code == 202, answer.get_json()
    assert [entry["state"] for entry in answer.get_json()["results"]] == ["pending", "pending", "skipped"]
    assert len(mailbox.wait_for(2)) == 2
