"""Each wave has a public link per side: customers' for a receipt or a poster, employees' for the intranet."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from perception import create_app
from perception import waves as waves_module
from perception.db import session_scope
from perception.models import Response, Survey, Wave
from perception.waves import close_wave, create_wave, find_public_link, find_public_survey, find_public_wave, open_wave
from tests.conftest import csrf_token

ANSWERS = {"item_recommend": "9", "item_satisfaction": "4", "item_effort": "6"}


def public_links(lead: FlaskClient) -> dict[str, str]:
    page = lead.get("/surveys/core/waves/w1").get_data(as_text=True)
    found = dict(re.findall(r'value="http://localhost(/p/[^"]+)" aria-label="Public (customer|employee) link"', page))
    return {side: path for path, side in found.items()}


def test_each_side_has_its_own_public_link(app: Flask, core_wave: tuple[str, str], lead: FlaskClient) -> None:
    links = public_links(lead)
    assert set(links) == {"customer", "employee"} and links["customer"] != links["employee"]
    client = app.test_client()
    assert "A few questions about your experience with us." in client.get(links["customer"]).get_data(as_text=True)
    staff_form = client.get(links["employee"]).get_data(as_text=True)
    assert "Answer as you think our customers would." in staff_form
    assert "May we contact you" not in staff_form

    # The employees' link works again and again, and keeps nobody's trace.
    for _ in range(2):
        sent = client.post(links["employee"], data={"csrf_token": csrf_token(client, links["employee"]), **ANSWERS})
        assert sent.status_code == 302, sent.get_data(as_text=True)
    with session_scope(app) as session:
        responses = session.exec(select(Response)).all()
        assert [(r.side, r.invitation_id, r.language) for r in responses] == [("employee", None, None)] * 2

    assert client.get(links["employee"][:-1]).status_code == 404


def test_a_public_link_is_found_by_its_side_s_hash_only(app: Flask, core_wave: tuple[str, str]) -> None:
    with session_scope(app) as session:
        wave = session.exec(select(Wave)).one()
        customer, employee = wave.public_token, wave.employee_public_token
        assert find_public_link(session, customer) == (wave, "customer")
        assert find_public_link(session, employee) == (wave, "employee")
        assert find_public_wave(session, customer, "employee") is None
        assert find_public_wave(session, employee, "customer") is None
        assert find_public_link(session, employee + "x") is None and find_public_link(session, "") is None


def test_a_process_keeps_a_link_s_wave_and_survey_while_their_row_is_unchanged(
    app: Flask, core_wave: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kept: dict[str, object] = {}
    with session_scope(app) as session:
        wave = session.exec(select(Wave)).one()
        customer, employee = wave.public_token, wave.employee_public_token
    with session_scope(app) as session:
        first = find_public_survey(session, customer, kept)
    with session_scope(app) as session:
        again = find_public_survey(session, customer, kept)
        assert again is not None and first is not None
        assert again[0] is first[0] and again[1] is first[1]  # kept, not built again
        staff = find_public_survey(session, employee, kept)
        assert staff is not None and staff[0].id == first[0].id and staff[2] == "employee"
        assert find_public_survey(session, customer + "x", kept) is None
    with session_scope(app) as session:
        session.exec(select(Wave)).one().name = "w1-renamed"
    with session_scope(app) as session:
        renamed = find_public_survey(session, customer, kept)
        assert renamed is not None and renamed[0] is not first[0] and renamed[0].name == "w1-renamed"
    monkeypatch.setattr(waves_module, "KEPT_LINKS", 1)
    other = wave_with_links(app)
    with session_scope(app) as session:
        assert find_public_survey(session, other, kept) is not None
    assert len(kept) == 1


def wave_with_links(app: Flask) -> str:
    """A second open wave of the `core` survey; its customer token."""
    with session_scope(app) as session:
        wave = create_wave(session, session.exec(select(Survey)).one(), "w2")
        open_wave(wave)
        return wave.public_token


def test_a_wave_closed_by_another_process_refuses_answers_at_once(
    app: Flask, core_wave: tuple[str, str], app_config: dict[str, object]
) -> None:
    with session_scope(app) as session:
        customer = f"/p/{session.exec(select(Wave)).one().public_token}"
    client = app.test_client()
    token = csrf_token(client, customer)
    sent = client.post(customer, data={"csrf_token": token, **ANSWERS})
    assert sent.status_code == 302 and app.extensions["perception"].public_links  # this process keeps the link
    elsewhere = create_app(app_config)  # another server process, which the lead's request reaches
    with session_scope(elsewhere) as session:
        close_wave(session.exec(select(Wave)).one())
    elsewhere.extensions["perception"].engine.dispose()
    refused = client.post(customer, data={"csrf_token": token, **ANSWERS})
    assert "This survey is closed" in refused.get_data(as_text=True)
    with session_scope(app) as session:
        assert len(session.exec(select(Response)).all()) == 1
