"""Responses out as CSV: customers with segments; employees anonymous, as in reports."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from flask import Flask
from sqlmodel import select

from perception.db import session_scope
from perception.models import Answer, Item, Response, ResponseSegment, SegmentValue
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, open_wave
from tests.conftest import sign_in

DEFINITION = {
    "slug": "shop",
    "title": {"en": "Shop"},
    "items": [
        {"key": "easy", "dimension": "Time and Effort", "scale": "ces",
         "customer": {"en": "Easy?"}, "employee": {"en": "Easy for customers?"}},
        {"key": "why", "dimension": "Verbatim", "scale": "text",
         "customer": {"en": "Why?"}, "employee": {"en": "Why?"}},
    ],
    "segments": {"employee": {"team": ["Counter", "Phone", "Legal"]}, "customer": {"region": ["North", "South"]}},
}  # fmt: skip


def seed(app: Flask, employees: list[str], customers: int = 3) -> None:
    models = app.extensions["perception"].registries.scoring_models
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(DEFINITION, models))
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        items = {item.key: item.id for item in session.exec(select(Item)).all()}
        values = {value.value: value for value in session.exec(select(SegmentValue)).all()}

        def respond(side: str, segment: str | None, answer: int, text: str = "") -> None:
            response = Response(wave_id=wave.id, side=side, submitted_on=date(2027, 2, 1),
                                language="fr" if side == "customer" else None)  # fmt: skip
            session.add(response)
            session.flush()
            session.add(
                Answer(response_id=response.id, item_id=items["easy"], wave_id=wave.id, side=side, value=answer)
            )
            if text:
                session.add(
                    Answer(response_id=response.id, item_id=items["why"], wave_id=wave.id, side=side, text=text)
                )
            if segment:
                value = values[segment]
                session.add(
                    ResponseSegment(response_id=response.id, attribute_id=value.attribute_id, value_id=value.id)
                )

        for index, team in enumerate(employees):
            respond("employee", team, 5, f"note {index}")
        for index in range(customers):
            respond("customer", "North", 3, '=HYPERLINK("http://x")' if index == 0 else "ok")


def export(app: Flask, side: str) -> list[dict[str, str]]:
    result = app.test_cli_runner().invoke(args=["export-responses", "--survey", "shop", "--wave", "w1", "--side", side])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def test_customer_responses_come_with_segments_and_no_formula(app: Flask) -> None:
    seed(app, ["Counter"] * 6)
    rows = export(app, "customer")
    assert len(rows) == 3
    assert rows[0]["segment:region"] == "North" and rows[0]["language"] == "fr" and rows[0]["easy"] == "3"
    assert rows[0]["why"] == '\'=HYPERLINK("http://x")'  # kept as text, never run by a spreadsheet


def test_employee_export_keeps_segments_only_for_groups_at_the_threshold(app: Flask) -> None:
    seed(app, ["Counter"] * 6 + ["Legal"] * 2 + ["Phone"] * 2)
    rows = export(app, "employee")
    assert len(rows) == 10
    assert set(rows[0]) == {"submitted_on", "segment:team", "easy", "why"}  # no id, no language, no link
    teams = [row["segment:team"] for row in rows]
    assert teams.count("Counter") == 6 and "Legal" not in teams and "Phone" not in teams
    assert all(row["why"].startswith("note") for row in rows)  # 10 responses: verbatims shown


def test_employee_verbatims_are_left_out_below_their_threshold(app: Flask) -> None:
    seed(app, ["Counter"] * 6)
    assert all(row["why"] == "" for row in export(app, "employee"))


def test_an_employee_export_below_the_threshold_is_refused(app: Flask) -> None:
    seed(app, ["Counter"] * 4)
    result = app.test_cli_runner().invoke(
        args=["export-responses", "--survey", "shop", "--wave", "w1", "--side", "employee"]
    )
    assert result.exit_code == 1 and "fewer than 5 employee responses" in result.output
    lead = sign_in(app, "lead")
    assert lead.get("/surveys/shop/waves/w1/employee.csv").status_code == 409


@pytest.mark.parametrize("role", ["leader", "employee"])
def test_only_leads_download_responses(app: Flask, role: str) -> None:
    seed(app, ["Counter"] * 6)
    assert sign_in(app, role).get("/surveys/shop/waves/w1/customer.csv").status_code == 403
    download = sign_in(app, "lead").get("/surveys/shop/waves/w1/customer.csv")
    assert download.mimetype == "text/csv" and download.get_data(as_text=True).startswith("response,submitted_on")
