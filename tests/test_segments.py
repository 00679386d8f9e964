"""Reports cut by segments, and the rules that stop a report from singling employees out."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml
from flask import Flask
from sqlmodel import select

from perception.db import session_scope
from perception.models import Answer, Response, ResponseSegment, SegmentAttribute, SegmentValue
from perception.report import gap_report, report_json
from perception.segments import SegmentError, hidden_groups, parse_filter, resolve
from perception.surveys import SurveyFileError, items_of, parse_definition, read_definition, store_definition
from perception.waves import create_wave, find_survey, find_wave, open_wave

DEFINITION = {
    "slug": "bank",
    "title": {"en": "Bank"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}}],
    "segments": {
        "employee": {"department": ["Support", "Sales", "Legal"], "site": ["Paris", "Nantes"]},
        "customer": {"region": ["North", "South"]},
    },
}  # fmt: skip

# (department, site, count) of employee responses: Legal is a group of 3, Support has 2 in Nantes.
EMPLOYEES = [("Support", "Paris", 18), ("Support", "Nantes", 2), ("Sales", "Paris", 12), ("Legal", "Paris", 3)]


@pytest.fixture
def bank(app: Flask) -> Flask:
    models = app.extensions["perception"].registries.scoring_models
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(DEFINITION, models))
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        [item] = items_of(session, survey)
        ids = {
            (attribute.name, value.value): (attribute.id, value.id)
            for attribute, value in session.exec(
                select(SegmentAttribute, SegmentValue).join(
                    SegmentValue, SegmentValue.attribute_id == SegmentAttribute.id
                )
            )
        }

        def respond(side: str, answer: int, **segments: str) -> None:
            response = Response(wave_id=wave.id, side=side, submitted_on=date(2027, 1, 4))
            session.add(response)
            session.flush()
            session.add(Answer(response_id=response.id, item_id=item.id, value=answer))
            for name, value in segments.items():
                attribute_id, value_id = ids[(name, value)]
                session.add(ResponseSegment(response_id=response.id, attribute_id=attribute_id, value_id=value_id))

        for department, site, count in EMPLOYEES:
            for index in range(count):
                respond("employee", 6 if department == "Support" else 2 + index % 3, department=department, site=site)
        for index in range(40):
            respond("customer", 3 + index % 3, region="North" if index % 2 else "South")
    return app


def report(app: Flask, *filters: str):  # type: ignore[no-untyped-def]
    models = app.extensions["perception"].registries.scoring_models
    with session_scope(app) as session:
        survey = find_survey(session, "bank")
        wave = find_wave(session, survey, "w1")
        resolved = resolve(session, survey, [parse_filter(text) for text in filters])
        return gap_report(session, survey, wave, items_of(session, survey), models, 5, resolved)


def test_segments_are_declared_in_the_survey_file_and_exported_back(bank: Flask) -> None:
    runner = bank.test_cli_runner()
    exported = yaml.safe_load(runner.invoke(args=["survey", "export", "bank"]).output)
    assert exported["segments"] == DEFINITION["segments"]


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ({"staff": {"department": ["A"]}}, "per side, customer or employee, not 'staff'"),
        ({"employee": {"Department!": ["A"]}}, "an attribute name is"),
        ({"employee": {"department": []}}, "must list its allowed values"),
        ({"employee": {"department": ["A", "A"]}}, "lists a value twice"),
        ({"employee": {"department": ["x" * 65]}}, "each value is a text of 1 to 64 characters"),
        ({"employee": ["department"]}, "must map attribute names to value lists"),
    ],
)
def test_bad_segment_declarations_are_refused(segments: dict, message: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from perception import create_app

    models = create_app({"INSTANCE_PATH": str(tmp_path)}).extensions["perception"].registries.scoring_models
    with pytest.raises(SurveyFileError) as refused:
        read_definition(yaml.safe_dump({**DEFINITION, "segments": segments}), models)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems


def test_a_filter_on_one_side_keeps_the_other_side_whole(bank: Flask) -> None:
    row = report(bank, "employee:department=Support").rows[0]
    assert row.employee.n == 20 and row.employee.score.value == pytest.approx(6.0)
    assert row.customer.n == 40
    north = report(bank, "customer:region=North").rows[0]
    assert north.customer.n == 20 and north.employee.n == 35


def test_a_group_below_the_threshold_shows_neither_score_nor_count(bank: Flask) -> None:
    legal = report(bank, "employee:department=Legal")
    document = report_json(legal)
    assert document["responses"]["employee"] is None
    assert document["items"][0]["employee"] == {"n": None, "score": None, "ci95": None, "suppressed": True}
    assert document["items"][0]["verdict"] == "insufficient_data"


def test_the_next_smallest_sibling_of_a_hidden_group_is_hidden_too(bank: Flask) -> None:
    # Legal (3) is hidden; were Sales (12) shown, all (35) - Support (20) - Sales (12) would give Legal away.
    sales = report_json(report(bank, "employee:department=Sales"))
    assert sales["items"][0]["employee"]["suppressed"] is True
    assert sales["responses"]["employee"] is None
    support = report_json(report(bank, "employee:department=Support"))
    assert support["items"][0]["employee"]["n"] == 20
    everyone = report_json(report(bank))
    assert everyone["items"][0]["employee"]["n"] == 35
    shown = [support, everyone]
    assert not any(
        "Legal" in json.dumps(document) or document["items"][0]["employee"]["n"] in (3, 12) for document in shown
    )


def test_a_differencing_attack_with_a_narrower_filter_is_refused(bank: Flask) -> None:
    # Support has 20 responses, 18 of them in Paris: the two reports together would describe 2 people.
    assert report(bank, "employee:department=Support").rows[0].employee.n == 20
    with pytest.raises(SegmentError, match="differ from those without this filter by fewer than 5 responses"):
        report(bank, "employee:department=Support", "employee:site=Paris")
    result = bank.test_cli_runner().invoke(
        args=["report", "--survey", "bank", "--wave", "w1", "--segment", "employee:department=Support",
              "--segment", "employee:site=Paris"]
    )  # fmt: skip
    assert result.exit_code == 1 and "refused" in result.output


def test_unknown_segments_are_named_with_what_exists(bank: Flask) -> None:
    with pytest.raises(SegmentError, match=r"has no employee segment 'team' \(it has: department, site\)"):
        report(bank, "employee:team=Blue")
    with pytest.raises(SegmentError, match=r"has no value 'HR' \(it has: Support, Sales, Legal\)"):
        report(bank, "employee:department=HR")
    with pytest.raises(SegmentError, match="write side:name=value"):
        parse_filter("department=Support")


def test_hidden_groups_rule() -> None:
    assert hidden_groups({1: 20, 2: 12, 3: 3}, [1, 2, 3], 5) == {2, 3}
    assert hidden_groups({1: 20, 2: 12}, [1, 2, 3], 5) == {3}  # an empty group hides no sibling
    assert hidden_groups({1: 20, 2: 12, 3: 7}, [1, 2, 3], 5) == set()
