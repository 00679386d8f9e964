"""Survey versions: once a wave has answers, changing what an item means starts a new version,
and the answers already given keep the meaning they were given under."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from sqlmodel import select

from perception.db import session_scope
from perception.models import Item, Wave
from perception.report import gap_report
from perception.responses import check_answers, record_response
from perception.surveys import SurveyFileError, definition_of, items_of, parse_definition, revise, store_definition
from perception.waves import create_wave, find_survey, find_wave, open_wave

DEFINITION: dict[str, Any] = {
    "slug": "mirror",
    "title": {"en": "Mirror", "fr": "Miroir"},
    "default_language": "en",
    "items": [
        {
            "key": "recommend",
            "dimension": "Loyalty",
            "scale": "nps",
            "customer": {"en": "Would you recommend us?", "fr": "Nous recommanderiez-vous ?"},
            "employee": {"en": "Would customers recommend us?", "fr": "Nos clients nous recommanderaient-ils ?"},
        },
        {
            "key": "ease",
            "dimension": "Effort",
            "scale": "likert5",
            "customer": {"en": "It was easy.", "fr": "C'était facile."},
            "employee": {"en": "Customers find it easy.", "fr": "Les clients trouvent cela facile."},
        },
    ],
    "segments": {"customer": {"region": ["North", "South"]}},
}


def _models(app: Flask) -> Any:
    return app.extensions["perception"].registries.scoring_models


def _revise(app: Flask, change: Any) -> Any:
    data = copy.deepcopy(DEFINITION)
    change(data)
    with session_scope(app) as session:
        survey = find_survey(session, "mirror")
        return revise(session, survey, parse_definition(data, _models(app)))


def _answer(app: Flask, wave_name: str, side: str, answers: dict[str, object], region: str | None = None) -> None:
    with session_scope(app) as session:
        survey = find_survey(session, "mirror")
        wave = find_wave(session, survey, wave_name)
        segments = {}
        if region:
            from perception.segments import declared

            [attribute] = declared(session, survey, "customer")
            segments = {attribute.id: next(i for i, v in attribute.values if v == region)}
        checked = check_answers(items_of(session, survey, wave), answers)
        record_response(app, session, survey, wave, side, checked, language="en", segments=segments)


@pytest.fixture
def answered(app: Flask) -> Flask:
    """Survey `mirror` with an open wave `w1` that has answers on both sides."""
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(DEFINITION, _models(app)))
        open_wave(create_wave(session, survey, "w1"))
    _answer(app, "w1", "customer", {"recommend": 9, "ease": 4}, region="North")
    _answer(app, "w1", "employee", {"recommend": 6, "ease": 2})
    return app


def _wordings(app: Flask, wave_name: str | None = None) -> dict[str, str]:
    with session_scope(app) as session:
        survey = find_survey(session, "mirror")
        wave = find_wave(session, survey, wave_name) if wave_name else None
        return {item.key: item.customer_en for item in items_of(session, survey, wave)}


def test_an_unanswered_survey_is_edited_in_place(app: Flask) -> None:
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(DEFINITION, _models(app)))
        create_wave(session, survey, "w1")
    revision = _revise(app, lambda d: d["items"][0]["customer"].update(en="Would you recommend us to a friend?"))
    assert (revision.version, revision.new_version) == (1, False)
    with session_scope(app) as session:
        assert len(session.exec(select(Item)).all()) == 2
    assert _wordings(app, "w1")["recommend"] == "Would you recommend us to a friend?"


def test_rewording_an_answered_item_starts_a_new_version_and_keeps_past_answers_meaning(answered: Flask) -> None:
    app = answered
    revision = _revise(app, lambda d: d["items"][0]["customer"].update(en="Would you recommend us to a friend?"))
    assert (revision.version, revision.new_version, revision.changed) == (2, True, ("recommend",))

    # The wave opened before keeps asking, and reporting, the question its answers were given to.
    assert _wordings(app, "w1")["recommend"] == "Would you recommend us?"
    with session_scope(app) as session:
        survey = find_survey(session, "mirror")
        w1 = find_wave(session, survey, "w1")
        report = gap_report(session, survey, w1, items_of(session, survey, w1), _models(app), 1)
        row = next(row for row in report.rows if row.item.key == "recommend")
        assert row.item.customer_en == "Would you recommend us?"
        assert (row.customer.n, row.employee.n) == (1, 1)
        w2 = create_wave(session, survey, "w2")
        assert (w1.version, w2.version) == (1, 2)
        old = {item.key: item.id for item in items_of(session, survey, w1)}
        new = {item.key: item.id for item in items_of(session, survey, w2)}
    # A later wave asks the new wording; the unchanged item is the same item, so its trend goes on.
    assert _wordings(app, "w2")["recommend"] == "Would you recommend us to a friend?"
    assert old["ease"] == new["ease"] and old["recommend"] != new["recommend"]


def test_rescaling_an_answered_item_leaves_its_answers_on_the_old_scale(answered: Flask) -> None:
    app = answered

    def to_csat(data: dict[str, Any]) -> None:
        data["items"][1]["scale"] = "csat"

    assert _revise(app, to_csat).new_version
    with session_scope(app) as session:
        survey = find_survey(session, "mirror")
        scales = {item.key: item.scale for item in items_of(session, survey, find_wave(session, survey, "w1"))}
        assert scales["ease"] == "likert5"
        assert {item.key: item.scale for item in items_of(session, survey)}["ease"] == "csat"


def test_order_dimension_and_required_change_in_place(answered: Flask) -> None:
    app = answered

    def reorder(data: dict[str, Any]) -> None:
        data["items"].reverse()
        data["items"][0]["dimension"] = "Time and Effort"
        data["items"][0]["required"] = False

    revision = _revise(app, reorder)
    assert (revision.version, revision.new_version) == (1, False)
    with session_scope(app) as session:
        survey = find_survey(session, "mirror")
        items = items_of(session, survey, find_wave(session, survey, "w1"))
        assert [(item.key, item.dimension, item.required) for item in items] == [
            ("ease", "Time and Effort", False),
            ("recommend", "Loyalty", True),
        ]


def test_removing_an_answered_item_keeps_it_in_the_waves_that_asked_it(answered: Flask) -> None:
    app = answered
    assert _revise(app, lambda d: d["items"].pop()).new_version
    assert set(_wordings(app, "w1")) == {"recommend", "ease"}
    assert set(_wordings(app)) == {"recommend"}
    # Putting it back with its old wording makes a new item: the old one's range is closed.
    revision = _revise(app, lambda d: None)
    assert revision.version == 2 and set(_wordings(app)) == {"recommend", "ease"}


def test_a_draft_wave_is_bound_to_the_version_it_is_opened_with(answered: Flask) -> None:
    app = answered
    with session_scope(app) as session:
        create_wave(session, find_survey(session, "mirror"), "w2")
    _revise(app, lambda d: d["items"][0]["employee"].update(fr="Nos clients nous recommanderaient-ils vraiment ?"))
    with session_scope(app) as session:
        survey = find_survey(session, "mirror")
        w2 = find_wave(session, survey, "w2")
        assert w2.version == 1
        open_wave(w2)
        assert w2.version == 2
    with session_scope(app) as session:
        assert session.exec(select(Wave.version).where(Wave.name == "w1")).one() == 1


def test_adding_an_item_to_an_answered_version_does_not_change_the_open_wave(answered: Flask) -> None:
    app = answered
    extra = {
        "key": "why",
        "dimension": "Verbatim",
        "scale": "text",
        "customer": {"en": "Why?", "fr": "Pourquoi ?"},
        "employee": {"en": "Why, would they say?", "fr": "Pourquoi, selon eux ?"},
    }
    assert _revise(app, lambda d: d["items"].append(extra)).new_version
    assert "why" not in _wordings(app, "w1")
    assert "why" in _wordings(app)


def test_a_segment_value_carried_by_responses_cannot_be_removed(answered: Flask) -> None:
    app = answered
    with pytest.raises(SurveyFileError, match="'North' is carried by responses"):
        _revise(app, lambda d: d["segments"]["customer"].update(region=["South", "East"]))
    _revise(app, lambda d: d["segments"]["customer"].update(region=["North", "East"]))
    with session_scope(app) as session:
        segments = definition_of(session, find_survey(session, "mirror")).segments
    assert segments == {"customer": {"region": ("North", "East")}}


def test_reimporting_an_answered_survey_from_the_command_line_makes_a_new_version(answered: Flask, tmp_path) -> None:
    import yaml

    data = copy.deepcopy(DEFINITION)
    data["items"][1]["customer"]["en"] = "It was easy to reach you."
    path = tmp_path / "mirror.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = answered.test_cli_runner().invoke(args=["survey", "import", "--replace", str(path)])
    assert result.exit_code == 0, result.output
    assert "version 2" in result.output
    assert _wordings(answered, "w1")["ease"] == "It was easy."
