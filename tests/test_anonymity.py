"""An employee response row holds nothing that leads back to a person, read straight from the database."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from perception.db import engine_of, session_scope
from perception.models import Response
from tests.conftest import post_form, sign_in
from tests.test_thin_path import GOOD, links

IDENTIFYING = ("account", "user", "email", "invitation", "token", "ip", "agent", "address", "time", "_at")


def test_an_employee_response_row_holds_no_account_link_address_or_time(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    [employee_link] = links(lead, "employee", 1)
    [customer_link] = links(lead, "customer", 1)
    employee = sign_in(app, "employee")  # signed in while answering: still nothing of them is kept
    headers = {"User-Agent": "Staff-Laptop-42", "X-Forwarded-For": "10.1.2.3"}
    assert post_form(employee, employee_link, GOOD, headers=headers).status_code == 302
    assert post_form(app.test_client(), customer_link, GOOD).status_code == 302

    engine = engine_of(app)
    columns = [column["name"] for column in inspect(engine).get_columns("response")]
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM response WHERE side = 'employee'")).mappings().all()
        invitations = connection.execute(text("SELECT * FROM invitation WHERE side = 'employee'")).mappings().all()
        dump = [
            str(value)
            for table in ("response", "answer")
            for row in connection.execute(text(f"SELECT * FROM {table}")).all()
            for value in row
        ]
    assert len(rows) == 1
    row = rows[0]
    for column in columns:
        if any(word in column for word in IDENTIFYING):
            assert row[column] is None, f"employee response keeps {column}"
    assert row["language"] is None
    submitted = row["submitted_on"]
    if isinstance(submitted, str):  # SQLite hands dates back as text
        submitted = dt.date.fromisoformat(submitted)
    assert type(submitted) is dt.date, "the day, never the time"
    # The invitation records that it was used, and nothing of when or by whom.
    assert [invitation["used"] in (True, 1) for invitation in invitations] == [True]
    assert set(invitations[0].keys()) == {
        "id",
        "wave_id",
        "side",
        "token_hash",
        "created_at",
        "expires_at",
        "used",
    }
    for trace in ("Staff-Laptop-42", "10.1.2.3", "employee@example.com", "127.0.0.1"):
        assert not any(trace in value for value in dump)


def test_the_database_refuses_an_employee_response_tied_to_an_invitation(
    app: Flask, core_wave: tuple[str, str]
) -> None:
    lead = sign_in(app, "lead")
    links(lead, "employee", 1)
    with pytest.raises(IntegrityError), session_scope(app) as session:
        session.add(Response(wave_id=1, side="employee", submitted_on=dt.date.today(), invitation_id=1))
        session.flush()
