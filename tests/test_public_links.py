"""Each wave has a public link per side: customers' for a receipt or a poster, employees' for the intranet."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from perception.db import session_scope
from perception.models import Response, Wave
from perception.waves import find_public_link, find_public_wave
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
