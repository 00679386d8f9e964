"""Item types beside the scores: thumbs up or down, a single choice, a verbatim, and "why?" after a score."""

from __future__ import annotations

import copy
import csv
import io
import re
from typing import Any

import pytest
from flask import Flask
from sqlmodel import select

from perception.db import session_scope
from perception.exports import export_responses
from perception.models import Answer
from perception.report import gap_report
from perception.responses import ResponseError, check_answers, record_response
from perception.surveys import (
    SurveyFileError,
    definition_of,
    dump_definition,
    items_of,
    parse_definition,
    read_definition,
    store_definition,
)
from perception.waves import create_wave, find_survey, find_wave, open_wave
from tests.conftest import post_form

MIXED: dict[str, Any] = {
    "slug": "mixed",
    "title": {"en": "After your visit", "fr": "Après votre visite"},
    "default_language": "en",
    "items": [
        {
            "key": "recommend",
            "dimension": "Loyalty",
            "scale": "nps",
            "why": True,
            "customer": {"en": "Would you recommend us?", "fr": "Nous recommanderiez-vous ?"},
            "employee": {"en": "Would customers recommend us?", "fr": "Nos clients nous recommanderaient-ils ?"},
        },
        {
            "key": "solved",
            "dimension": "Resolution",
            "scale": "binary",
            "customer": {"en": "Was your problem solved?", "fr": "Votre problème a-t-il été résolu ?"},
            "employee": {"en": "Are customers' problems solved?", "fr": "Les problèmes des clients sont-ils résolus ?"},
        },
        {
            "key": "channel",
            "dimension": "Context",
            "scale": "choice",
            "options": [
                {"en": "Phone", "fr": "Téléphone"},
                {"en": "Email", "fr": "Courriel"},
                {"en": "Shop", "fr": "Magasin"},
            ],
            "customer": {"en": "How did you reach us?", "fr": "Comment nous avez-vous contactés ?"},
            "employee": {
                "en": "How do customers mostly reach us?",
                "fr": "Comment les clients nous contactent-ils surtout ?",
            },
        },
        {
            "key": "satisfaction",
            "dimension": "Satisfaction",
            "scale": "csat",
            "customer": {"en": "How satisfied are you?", "fr": "Êtes-vous satisfait ?"},
            "employee": {"en": "How satisfied are customers?", "fr": "Les clients sont-ils satisfaits ?"},
        },
        {
            "key": "comment",
            "dimension": "Verbatim",
            "scale": "text",
            "customer": {"en": "Anything else?", "fr": "Autre chose ?"},
            "employee": {"en": "Anything else customers would say?", "fr": "Autre chose que diraient les clients ?"},
        },
    ],
}


def _models(app: Flask) -> Any:
    return app.extensions["perception"].registries.scoring_models


def _refused(app: Flask, change: Any) -> str:
    data = copy.deepcopy(MIXED)
    change(data["items"])
    with pytest.raises(SurveyFileError) as caught:
        parse_definition(data, _models(app))
    return str(caught.value)


@pytest.fixture
def mixed(app: Flask) -> Flask:
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(MIXED, _models(app)))
        open_wave(create_wave(session, survey, "w1"))
    return app


def test_the_new_types_round_trip_through_a_file(app: Flask) -> None:
    definition = parse_definition(MIXED, _models(app))
    items = {item.key: item for item in definition.items}
    assert items["solved"].model == "thumbs_up"
    assert items["channel"].model is None and items["channel"].options[1] == {"en": "Email", "fr": "Courriel"}
    assert items["recommend"].why and not items["solved"].why
    assert read_definition(dump_definition(definition), _models(app)) == definition


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda items: items[0].update(scale="stars"), "scale 'stars' is not one of nps, csat, ces, likert5, binary"),
        (lambda items: items[2].pop("options"), "a choice item lists 2 to 30 options"),
        (lambda items: items[2].update(options=[{"en": "Phone"}]), "a choice item lists 2 to 30 options"),
        (lambda items: items[2]["options"].append({"en": "phone"}), "two options have the same wording in en"),
        (lambda items: items[2]["options"].append({"fr": "Autre"}), "option 4 needs a wording in the default language"),
        (lambda items: items[0].update(options=[{"en": "A"}, {"en": "B"}]), "only a choice item has options"),
        (lambda items: items[4].update(why=True), "only a score item can ask why; a text item cannot"),
        (lambda items: items[2].update(model="mean"), "a choice item is not scored, so it has no scoring model"),
        (lambda items: items[1].update(model="nps"), "scoring model 'nps' cannot score a binary scale"),
        (lambda items: items[0].update(why="yes"), "why must be true or false"),
    ],
)
def test_a_wrong_item_type_is_refused_with_where_and_why(app: Flask, change: Any, message: str) -> None:
    assert message in _refused(app, change)


def test_answers_are_checked_against_each_item_type(mixed: Flask) -> None:
    with session_scope(mixed) as session:
        items = items_of(session, find_survey(session, "mixed"))
    good = {"recommend": "3", "solved": 0, "channel": "courriel", "satisfaction": 4}
    checked = {
        answer.item.key: (answer.value, answer.text) for answer in check_answers(items, good, {"recommend": " Slow. "})
    }
    assert checked == {"recommend": (3, "Slow."), "solved": (0, None), "channel": (2, None), "satisfaction": (4, None)}

    with pytest.raises(ResponseError) as caught:
        check_answers(
            items,
            {"recommend": 11, "solved": 2, "channel": 4, "satisfaction": "very", "comment": "x", "colour": "blue"},
        )
    assert caught.value.problems == {
        "recommend": "11 is outside the scale (0 to 10)",
        "solved": "2 is outside the scale (0 to 1)",
        "channel": "4 is not one of the options (1 to 3, or an option's wording)",
        "satisfaction": "'very' is not a whole number",
        "colour": "this survey has no such item",
    }


def test_respondents_answer_each_type_on_the_page_and_reports_leave_unscored_items_out(mixed: Flask) -> None:
    app = mixed
    with session_scope(app) as session:
        survey = find_survey(session, "mixed")
        token = survey and find_wave(session, survey, "w1").public_token
    client = app.test_client()
    page = client.get(f"/p/{token}?lang=fr").get_data(as_text=True)
    assert "Courriel" in page and "Oui" in page and "Très satisfait" in page
    assert 'name="why_recommend"' in page
    answers = {
        "item_recommend": 4,
        "why_recommend": "Too slow.",
        "item_solved": 1,
        "item_channel": 3,
        "item_satisfaction": 5,
    }
    assert post_form(client, f"/p/{token}", answers).status_code == 302

    refused = post_form(client, f"/p/{token}", {**answers, "item_channel": 7, "item_recommend": 12})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert len(re.findall(r'class="error"', text)) == 2

    with session_scope(app) as session:
        stored = {(a.item_id, a.value, a.text) for a in session.exec(select(Answer)).all()}
        survey = find_survey(session, "mixed")
        wave = find_wave(session, survey, "w1")
        items = {item.key: item for item in items_of(session, survey, wave)}
        assert (items["recommend"].id, 4, "Too slow.") in stored
        assert (items["channel"].id, 3, None) in stored
        report = gap_report(session, survey, wave, list(items.values()), _models(app), 1)
        assert [row.item.key for row in report.rows] == ["recommend", "solved", "satisfaction"]
        exported = list(csv.DictReader(io.StringIO(export_responses(session, survey, wave, "customer", 5, 10))))
    assert exported[0]["recommend"] == "4" and exported[0]["recommend:why"] == "Too slow."
    assert exported[0]["channel"] == "3"


def test_an_employee_why_is_kept_out_of_a_small_export(mixed: Flask) -> None:
    app = mixed
    with session_scope(app) as session:
        survey = find_survey(session, "mixed")
        wave = find_wave(session, survey, "w1")
        items = items_of(session, survey, wave)
        for score in range(5):
            answers = {"recommend": score, "solved": 1, "channel": 1, "satisfaction": 3}
            checked = check_answers(items, answers, {"recommend": f"reason {score}"})
            record_response(app, session, survey, wave, "employee", checked)
        exported = list(csv.DictReader(io.StringIO(export_responses(session, survey, wave, "employee", 5, 10))))
    assert len(exported) == 5
    assert all(row["recommend:why"] == "" and row["recommend"] for row in exported)


def test_options_are_part_of_an_answered_items_meaning(mixed: Flask) -> None:
    from perception.surveys import revise

    app = mixed
    with session_scope(app) as session:
        survey = find_survey(session, "mixed")
        wave = find_wave(session, survey, "w1")
        record_response(
            app,
            session,
            survey,
            wave,
            "customer",
            check_answers(
                items_of(session, survey, wave), {"recommend": 9, "solved": 1, "channel": 1, "satisfaction": 5}
            ),
        )
    data = copy.deepcopy(MIXED)
    data["items"][2]["options"].insert(0, {"en": "Chat", "fr": "Messagerie"})
    data["items"][0]["why"] = False  # asking why or not changes no answer's meaning
    with session_scope(app) as session:
        survey = find_survey(session, "mixed")
        revision = revise(session, survey, parse_definition(data, _models(app)))
        assert revision.changed == ("channel",)
        old = {item.key: item for item in items_of(session, survey, find_wave(session, survey, "w1"))}
        assert old["channel"].option_labels("en") == ["Phone", "Email", "Shop"]
        assert not old["recommend"].why
        assert definition_of(session, survey).items[2].options[0] == {"en": "Chat", "fr": "Messagerie"}
