"""The gap report: the numbers from the database match the published examples and scipy on raw answers."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from flask import Flask
from scipy import stats

from perception.db import session_scope
from perception.models import Answer, Response
from perception.report import gap_report, report_json
from perception.surveys import items_of, parse_definition, store_definition
from perception.waves import create_wave, find_survey, find_wave, open_wave

DEFINITION = {
    "slug": "gaps",
    "title": {"en": "Gaps"},
    "items": [
        {"key": "recommend", "dimension": "Loyalty", "scale": "nps",
         "customer": {"en": "Recommend?"}, "employee": {"en": "Would customers recommend?"}},
        {"key": "satisfied", "dimension": "Satisfaction", "scale": "csat",
         "customer": {"en": "Satisfied?"}, "employee": {"en": "Are customers satisfied?"}},
        {"key": "easy", "dimension": "Time and Effort", "touchpoint": "first-support-call", "scale": "ces",
         "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}},
        {"key": "caring", "dimension": "Empathy", "scale": "likert5",
         "customer": {"en": "We care."}, "employee": {"en": "Customers feel we care."}},
        {"key": "fair", "dimension": "Integrity", "scale": "likert5",
         "customer": {"en": "We are fair."}, "employee": {"en": "Customers find us fair."}},
    ],
}  # fmt: skip

# Employees: 30 promoters, 15 passives, 5 detractors; customers: 60, 70, 70 (the published example).
RECOMMEND = {"employee": [10] * 30 + [7] * 15 + [3] * 5, "customer": [9] * 60 + [8] * 70 + [0] * 70}
SATISFIED = {"employee": [5] * 40 + [3] * 10, "customer": [4] * 100 + [2] * 100}
EASY = {"employee": [6] * 25 + [7] * 15 + [5] * 10, "customer": [3] * 80 + [4] * 70 + [5] * 50}
CARING = {"employee": [2] * 30 + [3] * 20, "customer": [4] * 120 + [3] * 80}
FAIR = {"employee": [3] * 25 + [4] * 25, "customer": [3] * 100 + [4] * 100}


def seed(app: Flask, answers: dict[str, dict[str, list[int]]], wave_name: str = "w1") -> None:
    """Store answers per item and side: the i-th answers of each item form one response."""
    registries = app.extensions["perception"].registries
    with session_scope(app) as session:
        survey = find_survey(session, "gaps") or store_definition(
            session, parse_definition(DEFINITION, registries.scoring_models)
        )
        wave = create_wave(session, survey, wave_name)
        open_wave(wave)
        items = {item.key: item for item in items_of(session, survey)}
        for side in ("customer", "employee"):
            count = max(len(values[side]) for values in answers.values())
            for index in range(count):
                response = Response(wave_id=wave.id, side=side, submitted_on=date(2027, 1, 15))
                session.add(response)
                session.flush()
                for key, values in answers.items():
                    if index < len(values[side]):
                        session.add(
                            Answer(
                                response_id=response.id,
                                item_id=items[key].id,
                                wave_id=wave.id,
                                side=side,
                                value=values[side][index],
                            )
                        )


def report_for(app: Flask, wave_name: str = "w1", threshold: int = 5):  # type: ignore[no-untyped-def]
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        wave = find_wave(session, survey, wave_name)
        models = app.extensions["perception"].registries.scoring_models
        return gap_report(session, survey, wave, items_of(session, survey), models, threshold)


ALL = {"recommend": RECOMMEND, "satisfied": SATISFIED, "easy": EASY, "caring": CARING, "fair": FAIR}


def test_nps_gap_reproduces_the_published_difference(app: Flask) -> None:
    seed(app, ALL)
    row = {row.item.key: row for row in report_for(app).rows}["recommend"]
    assert row.customer.score.value == pytest.approx(-5.0)
    assert row.employee.score.value == pytest.approx(50.0)
    assert row.gap.value == pytest.approx(55.0)
    assert row.gap.ci95 == pytest.approx((33.3, 76.7), abs=0.05)
    assert row.gap.method == "nps_wald"


def test_mean_gaps_are_welch_tests_on_the_answers(app: Flask) -> None:
    seed(app, ALL)
    rows = {row.item.key: row for row in report_for(app).rows}
    for key, answers in (("easy", EASY), ("caring", CARING)):
        expected = stats.ttest_ind(answers["employee"], answers["customer"], equal_var=False)
        gap = rows[key].gap
        assert gap.method == "welch"
        assert gap.p == pytest.approx(expected.pvalue, rel=1e-6)
        low, high = expected.confidence_interval()
        assert gap.ci95 == pytest.approx((low, high), rel=1e-6)
        mann_whitney = stats.mannwhitneyu(answers["employee"], answers["customer"], method="asymptotic")
        assert gap.mann_whitney_p == pytest.approx(mann_whitney.pvalue, rel=1e-6)


def test_csat_gap_is_a_two_proportion_test_in_points(app: Flask) -> None:
    seed(app, ALL)
    gap = {row.item.key: row for row in report_for(app).rows}["satisfied"].gap
    assert gap.value == pytest.approx(80.0 - 50.0)
    assert gap.method == "two_proportion"
    pooled = (40 + 100) / 250
    z = (0.8 - 0.5) / (pooled * (1 - pooled) * (1 / 50 + 1 / 200)) ** 0.5
    assert gap.p == pytest.approx(2 * stats.norm.sf(z), rel=1e-6)


def test_many_items_are_corrected_together_and_give_verdicts(app: Flask) -> None:
    seed(app, ALL)
    rows = {row.item.key: row for row in report_for(app).rows}
    p_values = [rows[key].gap.p for key in ALL]
    q_values = stats.false_discovery_control(p_values, method="bh")
    assert [rows[key].gap.q for key in ALL] == pytest.approx(list(q_values))
    assert rows["recommend"].verdict == "blind_spot"
    assert rows["satisfied"].verdict == "blind_spot"
    assert rows["easy"].verdict == "blind_spot"
    assert rows["caring"].verdict == "hidden_strength"
    assert rows["fair"].verdict == "aligned"
    # (30 x 200 + 20 x 120) of the 50 x 200 pairs have the employee answer lower, none higher
    assert rows["caring"].gap.effect == pytest.approx(-0.84)


def test_a_side_below_the_threshold_has_no_score_no_count_and_no_verdict(app: Flask) -> None:
    few = {key: {"customer": values["customer"], "employee": values["employee"][:4]} for key, values in ALL.items()}
    seed(app, few)
    report = report_for(app)
    for row in report.rows:
        assert row.verdict == "insufficient_data"
        assert row.employee.suppressed and row.employee.n is None and row.employee.score is None
        assert row.gap is None
    document = report_json(report)
    assert document["responses"] == {"customer": 200, "employee": None}
    assert document["items"][0]["employee"] == {"n": None, "score": None, "ci95": None, "suppressed": True}
    assert "4" not in json.dumps(document["items"][0]["employee"])


def test_dimensions_average_items_rescaled_to_100(app: Flask) -> None:
    seed(app, ALL)
    dimensions = {dimension.name: dimension for dimension in report_for(app).dimensions}
    loyalty = dimensions["Loyalty"]
    assert loyalty.customer == pytest.approx(100 * (-5 + 100) / 200)
    assert loyalty.employee == pytest.approx(100 * (50 + 100) / 200)
    easy = dimensions["Time and Effort"]
    customer_mean = (3 * 80 + 4 * 70 + 5 * 50) / 200
    assert easy.customer == pytest.approx(100 * (customer_mean - 1) / 6)
    assert dimensions["Empathy"].verdicts["hidden_strength"] == 1
    [touchpoint] = report_for(app).touchpoints  # only `easy` names a touchpoint
    assert (touchpoint.name, touchpoint.item_keys) == ("first-support-call", ("easy",))
    assert touchpoint.customer == pytest.approx(easy.customer)


def test_the_report_command_writes_json_and_csv(app: Flask) -> None:
    seed(app, ALL)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["report", "--survey", "gaps", "--wave", "w1"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document) == {
        "survey",
        "wave",
        "threshold",
        "filters",
        "responses",
        "items",
        "dimensions",
        "touchpoints",
    }
    first = document["items"][0]
    assert set(first) >= {"key", "dimension", "scale", "model", "customer", "employee", "gap", "verdict"}
    assert set(first["gap"]) >= {"value", "ci95", "p", "q", "effect"}
    table = runner.invoke(args=["report", "--survey", "gaps", "--wave", "w1", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(table.output)))
    assert [row["key"] for row in rows] == list(ALL)
    assert rows[0]["verdict"] == "blind_spot" and float(rows[0]["gap"]) == pytest.approx(55.0)
    missing = runner.invoke(args=["report", "--survey", "gaps", "--wave", "nope"])
    assert missing.exit_code == 1 and "has no wave 'nope'" in missing.output


def test_the_report_page_shows_verdicts_and_top_lists(app: Flask) -> None:
    from tests.conftest import sign_in

    seed(app, ALL)
    page = sign_in(app, "leader").get("/surveys/gaps/waves/w1/report").get_data(as_text=True)
    assert page.count('class="verdict blind_spot"') >= 3
    assert "Staff think customers answer 50.0 pts to “<bdi>Recommend?</bdi>”; customers say −5.0 pts." in page
    assert "hidden strength" in page and "aligned" in page
    assert "<h2>Touchpoints</h2>" in page and "first-support-call" in page


def test_importance_is_the_correlation_with_recommendation_and_ranks_what_to_fix(app: Flask) -> None:
    from perception.report import importance

    # Customers who find it easy recommend us; caring moves nothing (constant recommendation within it).
    n = 60
    recommend = [10 if index % 3 == 0 else 6 if index % 3 == 1 else 2 for index in range(n)]
    easy = [7 if value == 10 else 4 if value == 6 else 1 for value in recommend]
    caring = [3 + index % 2 for index in range(n)]
    answers = {
        "recommend": {"customer": recommend, "employee": [9] * 20},
        "easy": {"customer": easy, "employee": [7] * 20},
        "caring": {"customer": caring, "employee": [4] * 20},
        "fair": {"customer": [3 + index % 2 for index in range(1, n + 1)], "employee": [3, 4] * 10},
    }
    seed(app, answers)
    report = report_for(app)
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        ranked = importance(session, find_wave(session, survey, "w1"), items_of(session, survey), report)
    by_key = {entry.item_key: entry for entry in ranked}
    assert by_key["easy"].r == pytest.approx(stats.pearsonr(easy, recommend).statistic)
    assert by_key["caring"].r == pytest.approx(stats.pearsonr(caring, recommend).statistic)
    assert ranked[0].item_key == "easy"
    assert by_key["easy"].quadrant == "fix_first"  # important, and a blind spot
    assert "recommend" not in by_key and by_key["easy"].n == n


def test_an_item_that_goes_against_recommendation_is_never_important(app: Flask) -> None:
    from perception.report import importance, importance_threshold

    # Both items go with recommending less: one of them is at the median, yet neither drives it.
    n = 30
    recommend = [10 if index % 3 == 0 else 6 if index % 3 == 1 else 2 for index in range(n)]
    waits = [1 if value == 10 else 3 if value == 6 else 5 for value in recommend]
    noise = [(5 - value // 3) if index % 2 else 3 for index, value in enumerate(recommend)]
    seed(
        app,
        {
            "recommend": {"customer": recommend, "employee": [9] * 10},
            "easy": {"customer": waits, "employee": [5] * 10},
            "caring": {"customer": noise, "employee": [5] * 10},
        },
    )
    report = report_for(app)
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        ranked = importance(session, find_wave(session, survey, "w1"), items_of(session, survey), report)
    assert [entry.r < 0 for entry in ranked] == [True, True]
    assert {entry.quadrant for entry in ranked} <= {"watch", "secondary"}
    assert importance_threshold([-0.4, -0.9]) == 0.0
    assert importance_threshold([0.2, 0.6, -0.1]) == pytest.approx(0.2)
    assert importance_threshold([]) == 0.0


def test_importance_sums_are_kept_and_follow_new_and_erased_responses(app: Flask) -> None:
    from sqlmodel import select

    from perception.models import ImportanceState, ImportanceSums
    from perception.report import _correlation_sums, importance_sums, recommendation_item

    recommend = [10, 9, 7, 3, 0, 8, 6, 10]
    easy = [7, 6, 5, 2, 1, 6, 4, 7]
    seed(
        app,
        {"recommend": {"customer": recommend, "employee": [9] * 5}, "easy": {"customer": easy, "employee": [7] * 5}},
    )

    def kept_and_fresh() -> tuple[dict, dict]:
        with session_scope(app) as session:
            survey = find_survey(session, "gaps")
            wave = find_wave(session, survey, "w1")
            anchor = recommendation_item(items_of(session, survey))
            return importance_sums(session, wave, anchor), _correlation_sums(session, wave, anchor)

    kept, fresh = kept_and_fresh()
    easy_id = next(iter(kept))
    assert kept == fresh and kept[easy_id] == (
        8, sum(easy), sum(recommend), sum(x * y for x, y in zip(easy, recommend, strict=True)),
        sum(x * x for x in easy), sum(y * y for y in recommend),
    )  # fmt: skip
    with session_scope(app) as session:
        state = session.exec(select(ImportanceState)).one()
        assert state.responses == 8 and session.exec(select(ImportanceSums)).one().n == 8
    # Two more customers: the kept sums add them.
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        wave = find_wave(session, survey, "w1")
        items = {item.key: item for item in items_of(session, survey)}
        for x, y in ((1, 2), (7, 9)):
            response = Response(wave_id=wave.id, side="customer", submitted_on=date(2027, 1, 16))
            session.add(response)
            session.flush()
            for key, value in (("easy", x), ("recommend", y)):
                session.add(Answer(response_id=response.id, item_id=items[key].id, wave_id=wave.id,
                                   side="customer", value=value))  # fmt: skip
    kept, fresh = kept_and_fresh()
    assert kept == fresh and kept[easy_id][0] == 10
    # An erased customer: the sums are made again from the answers that remain.
    with session_scope(app) as session:
        first = session.exec(select(Response).where(Response.side == "customer").order_by(Response.id)).first()
        for answer in session.exec(select(Answer).where(Answer.response_id == first.id)):
            session.delete(answer)
        session.delete(first)
    kept, fresh = kept_and_fresh()
    assert kept == fresh and kept[easy_id][0] == 9


def test_trend_flags_only_significant_changes(app: Flask) -> None:
    from perception.report import trend

    first = {"easy": {"customer": [3] * 100 + [4] * 100, "employee": [6] * 40},
             "fair": {"customer": [3] * 100 + [4] * 100, "employee": [4] * 40}}  # fmt: skip
    second = {"easy": {"customer": [5] * 100 + [6] * 100, "employee": [6] * 40},
              "fair": {"customer": [3] * 99 + [4] * 101, "employee": [4] * 40}}  # fmt: skip
    seed(app, first, "2027-Q1")
    seed(app, second, "2027-Q2")
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        models = app.extensions["perception"].registries.scoring_models
        rows = {row.item.key: row for row in trend(session, survey, items_of(session, survey), models, 5)}
    easy, fair = rows["easy"].points, rows["fair"].points
    assert [point.wave.name for point in easy] == ["2027-Q1", "2027-Q2"]
    assert easy[0].customer_change is None  # nothing before the first wave
    assert easy[1].customer_change == pytest.approx(2.0)  # customers now find it much easier
    assert easy[1].employee_change is None  # staff answered the same
    assert fair[1].customer_change is None  # 0.005 up: noise
    assert easy[1].gap == pytest.approx(6.0 - 5.5)
    assert rows["recommend"].points[0].customer.suppressed  # no answers: hidden, not zero


def test_reports_count_answers_in_the_order_of_their_index(app: Flask) -> None:
    """The histograms and the trend read the answers' report index in order: no sort, no hash of
    every answer (on PostgreSQL, ``IN (items)`` joined, then hashed each answer)."""
    from sqlalchemy import event

    from perception.report import histograms, trend

    seed(app, {"easy": EASY, "fair": FAIR}, "2027-Q1")
    seed(app, {"easy": EASY, "fair": FAIR}, "2027-Q2")
    engine = app.extensions["perception"].engine
    counted: list[tuple[str, object]] = []

    def keep(connection, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "GROUP BY answer.item_id" in statement:
            counted.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with session_scope(app) as session:
            survey = find_survey(session, "gaps")
            models = app.extensions["perception"].registries.scoring_models
            histograms(session, find_wave(session, survey, "2027-Q2"))
            trend(session, survey, items_of(session, survey), models, 5)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert len(counted) == 3  # the wave's, then the trend's: one per wave
    with engine.connect() as connection:
        postgresql = connection.dialect.name == "postgresql"
        if postgresql:  # a few hundred rows: the planner would rather read the table
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in counted:
            explained = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
            plan = "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explained + statement, parameters))
            assert "ix_answer_item_wave_side_value" in plan, plan
            assert "TEMP B-TREE" not in plan and "Sort" not in plan and "HashAggregate" not in plan, plan


def test_the_report_page_shows_where_its_wave_stands_since_earlier_waves(app: Flask) -> None:
    from perception.report import trend
    from tests.conftest import sign_in

    first = {"easy": {"customer": [3] * 100 + [4] * 100, "employee": [6] * 40},
             "fair": {"customer": [3] * 100 + [4] * 100, "employee": [4] * 40}}  # fmt: skip
    second = {"easy": {"customer": [5] * 100 + [6] * 100, "employee": [6] * 40},
              "fair": {"customer": [3] * 99 + [4] * 101, "employee": [4] * 40}}  # fmt: skip
    seed(app, first, "2027-Q1")
    seed(app, second, "2027-Q2")
    seed(app, first, "2027-Q3")
    leader = sign_in(app, "leader")
    # The first wave has nothing before it.
    assert "Since earlier waves" not in leader.get("/surveys/gaps/waves/2027-Q1/report").get_data(as_text=True)
    page = leader.get("/surveys/gaps/waves/2027-Q2/report").get_data(as_text=True)
    since = page[page.index("<h2>Since earlier waves</h2>") : page.index("<h2>Dimensions</h2>")]
    assert "<strong>easy</strong>" in since and "↑ +2.0" in since  # customers find it easier
    assert "<strong>fair</strong>" not in since  # noise is not listed
    assert "2027-Q1" in since and "2027-Q3" not in since  # up to the report's wave, never after
    # Reusing the report's counts gives what the trend counts itself.
    report = report_for(app, "2027-Q2")
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        models = app.extensions["perception"].registries.scoring_models
        items = items_of(session, survey)
        reused = trend(session, survey, items, models, 5, until=report)
        counted = trend(session, survey, items, models, 5)
    for mine, full in zip(reused, counted, strict=True):
        assert mine.points == full.points[:2]


def test_the_trend_page_and_the_priorities_show(app: Flask) -> None:
    from tests.conftest import sign_in

    seed(app, ALL, "2027-Q1")
    seed(app, ALL, "2027-Q2")
    leader = sign_in(app, "leader")
    trend_page = leader.get("/surveys/gaps/trend").get_data(as_text=True)
    assert "Trend across waves" in trend_page and "2027-Q1" in trend_page and "2027-Q2" in trend_page
    assert "<h2>Dimensions</h2>" in trend_page
    report_page = leader.get("/surveys/gaps/waves/2027-Q2/report").get_data(as_text=True)
    assert "What to fix first" in report_page


def test_the_priority_and_trend_charts_are_served_as_svg(app: Flask) -> None:
    from tests.conftest import sign_in

    seed(app, ALL, "2027-Q1")
    seed(app, ALL, "2027-Q2")
    leader = sign_in(app, "leader")
    priorities = leader.get("/surveys/gaps/waves/2027-Q2/priorities.svg")
    assert priorities.mimetype == "image/svg+xml" and "Fix first" in priorities.get_data(as_text=True)
    assert "default-src 'none'" in priorities.headers["Content-Security-Policy"]
    trend_chart = leader.get("/surveys/gaps/trend/easy.svg")
    assert trend_chart.mimetype == "image/svg+xml" and "2027-Q2" in trend_chart.get_data(as_text=True)
    assert leader.get("/surveys/gaps/trend/nope.svg").status_code == 404
    page = leader.get("/surveys/gaps/trend?item=easy").get_data(as_text=True)
    assert "/surveys/gaps/trend/easy.svg" in page
    assert sign_in(app, "employee").get("/surveys/gaps/trend/easy.svg").status_code == 403


def test_dimensions_follow_their_items_across_waves(app: Flask) -> None:
    from perception.report import dimension_trend, trend

    seed(app, {"easy": {"customer": [4] * 20, "employee": [7] * 20}}, "2027-Q1")
    seed(app, {"easy": {"customer": [7] * 20, "employee": [7] * 20}}, "2027-Q2")
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        models = app.extensions["perception"].registries.scoring_models
        dimensions = dict(dimension_trend(trend(session, survey, items_of(session, survey), models, 5)))
    first, second = dimensions["Time and Effort"]
    assert first.customer == pytest.approx(50.0) and first.employee == pytest.approx(100.0)
    assert second.gap == pytest.approx(0.0)
    assert dimensions["Loyalty"][0].customer is None  # no answers: nothing to roll up
