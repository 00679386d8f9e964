"""Reports cut by segments, and the rules that stop a report from singling employees out."""

from __future__ import annotations

import json
import re
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
            session.add(Answer(response_id=response.id, item_id=item.id, wave_id=wave.id, side=side, value=answer))
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


def test_employees_pick_their_segments_from_lists_and_a_forged_value_is_refused(bank: Flask) -> None:
    from sqlmodel import func

    from perception.waves import issue_links
    from tests.conftest import post_form

    with session_scope(bank) as session:
        wave = find_wave(session, find_survey(session, "bank"), "w1")
        tokens = [link.token for link in issue_links(session, wave, "employee", 2, 30)]
        support = session.exec(select(SegmentValue).where(SegmentValue.value == "Support")).one()
        before = session.exec(select(func.count(ResponseSegment.response_id))).one()
    respondent = bank.test_client()
    page = respondent.get(f"/r/{tokens[0]}").get_data(as_text=True)
    assert "About you (optional)" in page and ">Prefer not to say</option>" in page
    forged = post_form(respondent, f"/r/{tokens[0]}", {"item_easy": 5, "segment_department": "99999"})
    assert forged.status_code == 422
    chosen = post_form(respondent, f"/r/{tokens[0]}", {"item_easy": 5, "segment_department": support.id})
    assert chosen.status_code == 302, re.findall(r'class="error"[^>]*>([^<]*)', chosen.get_data(as_text=True))
    assert (
        post_form(bank.test_client(), f"/r/{tokens[1]}", {"item_easy": 5, "segment_department": ""}).status_code == 302
    )
    with session_scope(bank) as session:
        after = session.exec(select(func.count(ResponseSegment.response_id))).one()
    assert after == before + 1  # one chose Support, the other preferred not to say


def test_the_report_page_cuts_by_segment_and_explains_a_refusal(bank: Flask) -> None:
    from tests.conftest import sign_in

    leader = sign_in(bank, "leader")
    page = leader.get("/surveys/bank/waves/w1/report?segment=employee:department=Support&segment=customer:region=")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="employee:department=Support" selected' in text
    assert "n = 20" in text and "n = 40" in text
    refused = leader.get(
        "/surveys/bank/waves/w1/report?segment=employee:department=Support&segment=employee:site=Paris"
    )
    assert refused.status_code == 422
    assert "refused: the employees with employee:site=Paris differ" in refused.get_data(as_text=True)
    chart = leader.get("/surveys/bank/waves/w1/gaps.svg?segment=employee:department=Support")
    assert chart.mimetype == "image/svg+xml" and "n = 40 / 20" in chart.get_data(as_text=True)
    assert leader.get("/surveys/bank/waves/w1/gaps.svg?segment=employee:department=HR").status_code == 400
    assert sign_in(bank, "employee").get("/surveys/bank/waves/w1/gaps.svg").status_code == 403


def test_groups_of_employees_stand_beside_the_customers_and_small_ones_are_hidden(bank: Flask) -> None:
    from tests.conftest import sign_in

    leader = sign_in(bank, "leader")
    report_page = leader.get("/surveys/bank/waves/w1/report").get_data(as_text=True)
    assert "/surveys/bank/waves/w1/groups?by=employee:department" in report_page
    page = leader.get("/surveys/bank/waves/w1/groups?by=employee:department")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "n = 40" in text  # all customers
    assert "n = 20" in text  # Support, shown
    assert text.count(">hidden<") == 2  # Legal (3) and Sales, the next-smallest sibling
    assert "n = 12" not in text and "n = 3" not in text
    assert leader.get("/surveys/bank/waves/w1/groups?by=employee:team").status_code == 400
    assert leader.get("/surveys/bank/waves/w1/groups").status_code == 400
    assert sign_in(bank, "employee").get("/surveys/bank/waves/w1/groups?by=employee:department").status_code == 403
