"""Each server process keeps the questionnaires respondents answer, and never shows one out of date."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from flask import Flask
from sqlalchemy import Connection, event
from sqlmodel import select

from perception import questionnaire as questionnaire_module
from perception import waves as waves_module
from perception.db import engine_of, session_scope
from perception.models import Item, SegmentAttribute, SegmentValue, Survey, Wave
from perception.surveys import definition_of, store_definition
from tests.conftest import csrf_token

ANSWERS = {"item_recommend": "9", "item_satisfaction": "4", "item_effort": "6"}


def links(app: Flask) -> tuple[str, str]:
    with session_scope(app) as session:
        wave = session.exec(select(Wave)).one()
        return f"/p/{wave.public_token}", f"/p/{wave.employee_public_token}"


def revision(app: Flask) -> int:
    with session_scope(app) as session:
        return session.exec(select(Survey.revision)).one()


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()).lower())

    engine = engine_of(app)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_questionnaire_is_read_once_then_kept(
    app: Flask, core_wave: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    customer, _ = links(app)
    client = app.test_client()
    assert client.get(customer).status_code == 200
    # The link's own statement runs on the driver's cursor, out of SQLAlchemy's sight: counted here.
    lookups: list[str] = []
    run = waves_module._DriverStatement.run

    def counted(statement: waves_module._DriverStatement, connection: Connection, hashed: str) -> object:
        lookups.append(" ".join(statement.sql.split()).lower())
        return run(statement, connection, hashed)

    monkeypatch.setattr(waves_module._DriverStatement, "run", counted)
    with statements(app) as seen:
        page = client.get(customer)
        sent = client.post(customer, data={"csrf_token": csrf_token(client, customer), **ANSWERS})
    assert page.status_code == 200 and sent.status_code == 302, sent.get_data(as_text=True)
    # The items and segment lists were read by the first request only (the alert rules a customer
    # response is checked against are the consumer's business: the queue is immediate in tests).
    assert not [statement for statement in seen if statement.startswith(("select item.id", "select segment_"))], seen
    # The link, its wave and survey in one statement per request (the page, the CSRF token's page,
    # the answer), and no other statement reads them.
    assert len(lookups) == 3 and all("from wave join survey" in statement for statement in lookups), lookups
    assert not [statement for statement in seen if "from wave join survey" in statement], seen


def test_a_reworded_item_shows_at_the_next_request(app: Flask, core_wave: tuple[str, str]) -> None:
    customer, _ = links(app)
    client = app.test_client()
    assert "How likely are you to recommend our company" in client.get(customer).get_data(as_text=True)
    before = revision(app)
    with session_scope(app) as session:
        item = session.exec(select(Item).where(Item.key == "recommend")).one()
        item.customer_en = "Would you tell a friend about us?"
    assert revision(app) == before + 1
    page = client.get(customer).get_data(as_text=True)
    assert "Would you tell a friend about us?" in page and "How likely are you to recommend" not in page


def test_a_survey_file_imported_again_shows_its_new_items(app: Flask, core_wave: tuple[str, str]) -> None:
    customer, _ = links(app)
    client = app.test_client()
    client.get(customer)
    before = revision(app)
    with session_scope(app) as session:
        survey = session.exec(select(Survey)).one()
        definition = definition_of(session, survey)
        first = definition.items[0]
        reworded = replace(first, customer={"en": "Tell a friend about us?", "fr": "Un ami ?"})
        store_definition(session, replace(definition, items=(reworded, *definition.items[1:])), replace=True)
    assert revision(app) > before
    assert "Tell a friend about us?" in client.get(customer).get_data(as_text=True)


def test_a_new_segment_value_shows_on_the_staff_page(app: Flask, core_wave: tuple[str, str]) -> None:
    _, employee = links(app)
    client = app.test_client()
    with session_scope(app) as session:
        survey = session.exec(select(Survey)).one()
        attribute = SegmentAttribute(survey_id=survey.id, side="employee", name="department", position=0)
        session.add(attribute)
        session.flush()
        session.add(SegmentValue(attribute_id=attribute.id, value="Support", position=0))
    assert "Support" in client.get(employee).get_data(as_text=True)
    before = revision(app)
    with session_scope(app) as session:
        session.add(SegmentValue(attribute_id=attribute.id, value="Branches", position=1))
    assert revision(app) == before + 1
    page = client.get(employee).get_data(as_text=True)
    assert "Support" in page and "Branches" in page


def test_answers_leave_the_revision_where_it_is(app: Flask, core_wave: tuple[str, str]) -> None:
    customer, employee = links(app)
    before = revision(app)
    client = app.test_client()
    for path in (customer, employee):
        sent = client.post(path, data={"csrf_token": csrf_token(client, path), **ANSWERS})
        assert sent.status_code == 302, sent.get_data(as_text=True)
    assert revision(app) == before


def test_a_process_keeps_a_bounded_number_of_questionnaires(
    app: Flask, core_wave: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(questionnaire_module, "KEPT", 2)
    kept = app.extensions["perception"].questionnaires
    with app.app_context(), session_scope(app) as session:
        survey = session.exec(select(Survey)).one()
        wave = session.exec(select(Wave)).one()
        for side in ("customer", "employee"):
            questionnaire_module.questionnaire(app, session, survey, wave, side)
        survey.revision += 1  # as if the survey had changed since
        newest = questionnaire_module.questionnaire(app, session, survey, wave, "customer")
    assert len(kept) == 2
    assert newest in kept.values() and (survey.id, survey.revision - 1, wave.version, None, "customer") not in kept
