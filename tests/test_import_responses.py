"""`perception import-responses`: existing answers from a CSV file into a wave, all rows or none."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlmodel import func, select

from perception.db import session_scope
from perception.imports import (
    MAX_PROBLEMS,
    ImportRefused,
    decode_csv,
    find_import_target,
    import_responses,
    import_responses_command,
    sniff_delimiter,
)
from perception.models import Answer, Item, Response, ResponseSegment, SegmentValue
from perception.scales import MAX_TEXT_LENGTH
from perception.surveys import parse_definition, store_definition
from perception.waves import close_wave, create_wave, find_survey, find_wave, open_wave

SEGMENTED = {
    "slug": "bank",
    "title": {"en": "Bank"},
    "items": [
        {"key": "recommend", "dimension": "Loyalty", "scale": "nps",
         "customer": {"en": "Recommend?"}, "employee": {"en": "Would customers recommend?"}},
        {"key": "easy", "dimension": "Time and Effort", "scale": "ces",
         "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}},
    ],
    "segments": {"employee": {"department": ["Support", "Sales"]}, "customer": {"region": ["North", "South"]}},
}  # fmt: skip

# Ten customers: 6 promoters, 2 passives, 2 detractors (NPS 40); 7 of 10 satisfied (CSAT 70%).
GOOD = """recommend,satisfaction,effort,comment,submitted_at
10,5,7,,2025-01-04
10,5,6,"Quick, kind and clear",2025-01-04T09:30:00
10,4,6,,2025-01-05
10,4,5,,2025-01-05
9,4,5,,2025-01-06
9,4,4,,
8,4,4,,
7,3,3,,
3,2,2,,
0,1,1,Never again,
"""


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    if "import-responses" not in app.cli.commands:
        app.cli.add_command(import_responses_command)
    return app.test_cli_runner()


def write(tmp_path: Path, content: str | bytes, name: str = "answers.csv") -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return str(path)


def run_import(
    runner: FlaskCliRunner, path: str, side: str = "customer", survey: str = "core", wave: str = "w1"
) -> Result:
    return runner.invoke(args=["import-responses", path, "--survey", survey, "--wave", wave, "--side", side])


def count(app: Flask, model: type = Response) -> int:
    with session_scope(app) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def report(runner: FlaskCliRunner, *args: str, survey: str = "core") -> dict:
    result = runner.invoke(args=["report", "--survey", survey, "--wave", "w1", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_good_file_imports_and_the_report_counts_it(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    result = run_import(runner, write(tmp_path, GOOD))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Imported 10 customer responses into core / w1"

    document = report(runner)
    assert document["responses"]["customer"] == 10
    items = {item["key"]: item for item in document["items"]}
    assert items["recommend"]["customer"]["n"] == 10
    assert items["recommend"]["customer"]["score"] == pytest.approx(40.0)
    assert items["satisfaction"]["customer"]["score"] == pytest.approx(70.0)
    assert items["effort"]["customer"]["score"] == pytest.approx(4.3)
    with session_scope(app) as session:
        days = session.exec(select(Response.submitted_on).order_by(Response.id)).all()
        texts = session.exec(select(Answer.text).where(Answer.text.is_not(None))).all()  # type: ignore[union-attr]
        languages = session.exec(select(Response.language).distinct()).all()
    assert days[:5] == [date(2025, 1, 4), date(2025, 1, 4), date(2025, 1, 5), date(2025, 1, 5), date(2025, 1, 6)]
    assert set(days[5:]) <= {date.today(), date.today() - timedelta(days=1), date.today() + timedelta(days=1)}
    assert sorted(texts) == ["Never again", "Quick, kind and clear"]
    assert languages == [None]
    assert count(app, Answer) == 10 * 3 + 2


def test_semicolons_a_byte_order_mark_and_windows_line_ends(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    rows = [
        "recommend;satisfaction;effort;comment",
        '9;4;6;"Fast; friendly, too"',
        "10;5;7;",
        '2;1;2;"Line one\nline two"',
        "",  # a blank line, as spreadsheets leave
    ]
    data = "\ufeff".encode() + "\r\n".join(rows).encode("utf-8")
    result = run_import(runner, write(tmp_path, data))
    assert result.exit_code == 0, result.output
    assert "Imported 3 customer responses" in result.stdout
    with session_scope(app) as session:
        texts = sorted(session.exec(select(Answer.text).where(Answer.text.is_not(None))).all())  # type: ignore[union-attr]
    assert texts == ["Fast; friendly, too", "Line one\nline two"]
    assert sniff_delimiter("a;b;c\n1,2;3;4") == ";"
    assert sniff_delimiter('"a,b";c\n') == ";"
    assert sniff_delimiter("recommend\n9\n") == ","


def test_a_file_without_required_columns_imports_the_columns_it_has(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # NPS data from another tool: one column; the survey's other items were not asked.
    # Column names are read case-insensitively, a trailing delimiter leaves an empty column.
    content = "Recommend,\n" + "".join(f"{n % 11},\n" for n in range(12))
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 0, result.output
    assert count(app, Response) == 12 and count(app, Answer) == 12


BAD_CELLS = [
    pytest.param("recommend,satisfaction\n9,4\n11,4\n", "line 3, column recommend: 11 is outside the scale (0 to 10)",
                 id="out-of-scale"),
    pytest.param("recommend,satisfaction\n9,4\n9,4.5\n", "line 3, column satisfaction: '4.5' is not a whole number",
                 id="not-a-whole-number"),
    pytest.param("recommend,satisfaction\n9,4\nnine,4\n", "line 3, column recommend: 'nine' is not a whole number",
                 id="not-a-number"),
    pytest.param("recommend,satisfaction\n9,4\n9,\n", "line 3, column satisfaction: an answer is required",
                 id="missing-required-answer"),
    pytest.param("recommend,comment\n9," + "x" * (MAX_TEXT_LENGTH + 1) + "\n",
                 f"line 2, column comment: at most {MAX_TEXT_LENGTH} characters, this has {MAX_TEXT_LENGTH + 1}",
                 id="text-too-long"),
    pytest.param("recommend,satisfaction,nps_score\n9,4,9\n",
                 "line 1, column nps_score: unknown column; the columns this import reads are: recommend, "
                 "satisfaction, effort, comment, submitted_at", id="unknown-column"),
    pytest.param("recommend,submitted_at\n9,2025-01-04\n9,04/01/2027\n",
                 "line 3, column submitted_at: '04/01/2027' is not an ISO 8601 date", id="bad-date"),
    pytest.param("recommend,submitted_at\n9,2027-02-30\n", "line 2, column submitted_at: '2027-02-30' is not",
                 id="impossible-date"),
    pytest.param("recommend,submitted_at\n9,2999-01-01\n", "line 2, column submitted_at: 2999-01-01 is in the future",
                 id="future-date"),
    pytest.param("recommend,satisfaction\n9,4\n9,4,3\n",
                 "line 3, column 3 (not in the header): this row has 3 cells but the header names 2 columns",
                 id="more-cells-than-the-header"),
    pytest.param("recommend,segment:region\n9,North\n", "line 1, column segment:region: the survey has no "
                 "customer segment 'region' (it has: none)", id="undeclared-segment"),
    pytest.param("recommend,recommend\n9,9\n", "line 1, column recommend: named twice, in columns 1 and 2",
                 id="duplicate-column"),
    pytest.param("recommend,,satisfaction\n9,,4\n9,5,4\n",
                 "line 3, column 2 (no name): the header gives this column no name, so '5' cannot be read",
                 id="unnamed-column"),
    pytest.param("submitted_at\n2025-01-04\n", "line 1: no column names an item", id="no-item-column"),
    pytest.param("comment,recommend\nfine,\n", "line 2, column recommend: an answer is required",
                 id="empty-required-cell"),
    pytest.param("recommend,comment\n,\n\n", "the file has a header but no responses", id="no-responses"),
    pytest.param("", "line 1: the file is empty", id="empty-file"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "message"), BAD_CELLS)
def test_each_bad_cell_is_named_and_nothing_is_stored(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path, content: str, message: str
) -> None:
    assert run_import(runner, write(tmp_path, GOOD, "first.csv")).exit_code == 0
    before = count(app, Response), count(app, Answer)
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1, result.output
    assert "nothing was imported" in result.stderr
    assert message in result.stderr, result.stderr
    assert "Imported" not in result.stdout
    assert (count(app, Response), count(app, Answer)) == before


def test_every_fault_of_a_file_is_reported_at_once(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    content = "recommend,satisfaction,effort,extra\n9,4,5,\n12,4,5,\n9,0,x,\n9,4,5,\n"
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1
    problems = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert problems == [
        "line 1, column extra: unknown column; the columns this import reads are: recommend, satisfaction, effort, "
        "comment, submitted_at",
        "line 3, column recommend: 12 is outside the scale (0 to 10)",
        "line 4, column satisfaction: 0 is outside the scale (1 to 5)",
        "line 4, column effort: 'x' is not a whole number",
    ]
    assert count(app) == 0


def test_reading_stops_after_fifty_problems(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    content = "recommend\n" + "11\n" * 500
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1
    problems = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[MAX_PROBLEMS - 1].startswith(f"line {MAX_PROBLEMS + 1}, column recommend")
    assert problems[-1].startswith(f"stopped reading after line {MAX_PROBLEMS + 1}")
    assert count(app) == 0


def test_a_file_that_is_not_utf8_is_refused_with_its_line(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    data = "recommend,comment\n9,bien\n8,très bien\n".encode("latin-1")
    result = run_import(runner, write(tmp_path, data))
    assert result.exit_code == 1
    assert "line 3: byte 0xe8 is not UTF-8 text; save the file as CSV UTF-8" in result.stderr
    assert "nothing was imported" in result.stderr
    assert decode_csv("\ufeffrecommend\n".encode()) == "recommend\n"


def test_a_missing_wave_or_survey_is_refused_with_the_command_to_run(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, GOOD)
    no_wave = run_import(runner, path, wave="2027 Q1")
    assert no_wave.exit_code == 1
    assert "survey 'core' has no wave '2027 Q1'; create it with: perception wave create core '2027 Q1'" in (
        no_wave.stderr
    )
    no_survey = run_import(runner, path, survey="x", wave="Q1")
    assert no_survey.exit_code == 1
    assert "there is no survey 'x'; import its definition with: perception survey import" in no_survey.stderr
    bad_side = run_import(runner, path, side="staff")
    assert bad_side.exit_code == 2 and "'staff' is not one of 'customer', 'employee'" in bad_side.output
    assert count(app) == 0


def test_closed_and_draft_waves_accept_imports(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    with session_scope(app) as session:
        survey = find_survey(session, "core")
        close_wave(find_wave(session, survey, "w1"))
        create_wave(session, survey, "2025")
    path = write(tmp_path, GOOD)
    assert run_import(runner, path).exit_code == 0
    draft = run_import(runner, path, side="employee", wave="2025")
    assert draft.exit_code == 0, draft.output
    assert "Imported 10 employee responses into core / 2025" in draft.stdout


def test_employee_rows_store_no_invitation_no_language_and_the_day_only(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    content = "recommend,submitted_at\n9,2025-01-04T23:30:00-05:00\n7,2025-01-04T08:15:00\n3,2025-01-04\n"
    result = run_import(runner, write(tmp_path, content), side="employee")
    assert result.exit_code == 0, result.output
    with session_scope(app) as session:
        rows = session.exec(select(Response).order_by(Response.id)).all()
    assert [row.side for row in rows] == ["employee"] * 3
    assert all(row.invitation_id is None and row.language is None for row in rows)
    # A time with an offset counts in UTC, like every other response's day; only the day is kept.
    assert [row.submitted_on for row in rows] == [date(2025, 1, 5), date(2025, 1, 4), date(2025, 1, 4)]
    assert all(type(row.submitted_on) is date for row in rows)


def _segmented(app: Flask) -> None:
    models = app.extensions["perception"].registries.scoring_models
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(SEGMENTED, models))
        open_wave(create_wave(session, survey, "w1"))


def test_segment_values_are_stored_and_filter_the_report(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    _segmented(app)
    employees = "recommend,easy,segment:department\n" + "9,6,Support\n" * 8 + "3,2,Sales\n" * 6 + "5,4,\n"
    customers = "recommend;easy;segment:region\n" + "10;7;North\n" * 6 + "6;3;South\n" * 7
    assert run_import(runner, write(tmp_path, employees), side="employee", survey="bank").exit_code == 0
    assert run_import(runner, write(tmp_path, customers, "c.csv"), survey="bank").exit_code == 0

    with session_scope(app) as session:
        stored = session.exec(
            select(Response.side, SegmentValue.value, func.count())
            .join(ResponseSegment, ResponseSegment.response_id == Response.id)
            .join(SegmentValue, SegmentValue.id == ResponseSegment.value_id)
            .group_by(Response.side, SegmentValue.value)
        ).all()
    assert sorted(stored) == [("customer", "North", 6), ("customer", "South", 7),
                              ("employee", "Sales", 6), ("employee", "Support", 8)]  # fmt: skip
    assert count(app, ResponseSegment) == 27

    support = report(runner, "--segment", "employee:department=Support", survey="bank")
    recommend = support["items"][0]
    assert support["responses"] == {"customer": 13, "employee": 8}
    assert recommend["employee"]["n"] == 8 and recommend["employee"]["score"] == pytest.approx(100.0)
    north = report(runner, "--segment", "customer:region=North", survey="bank")
    assert north["responses"] == {"customer": 6, "employee": 15}
    assert north["items"][0]["customer"]["score"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("side", "content", "message"),
    [
        ("employee", "recommend,easy,segment:department\n9,6,Support\n9,6,HR\n",
         "line 3, column segment:department: 'HR' is not a value of department (it has: Support, Sales)"),
        ("employee", "recommend,easy,segment:department\n9,6,support\n",
         "line 2, column segment:department: 'support' is not a value of department (it has: Support, Sales)"),
        ("customer", "recommend,easy,segment:department\n9,6,Support\n",
         "line 1, column segment:department: 'department' is an employee segment; these are customer responses "
         "(their segments: region)"),
        ("employee", "recommend,easy,segment:team\n9,6,Blue\n",
         "line 1, column segment:team: the survey has no employee segment 'team' (it has: department)"),
    ],
)  # fmt: skip
def test_unknown_segment_values_are_named_with_the_allowed_ones(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, side: str, content: str, message: str
) -> None:
    _segmented(app)
    result = run_import(runner, write(tmp_path, content), side=side, survey="bank")
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert count(app) == 0 and count(app, ResponseSegment) == 0


def test_the_function_refuses_with_problems_for_the_web_and_api(app: Flask, core_wave: tuple[str, str]) -> None:
    with session_scope(app) as session:
        survey, wave = find_import_target(session, "core", "w1")
        with pytest.raises(ImportRefused) as refused:
            import_responses(session, survey, wave, "customer", "recommend\n99\n")
        assert refused.value.problems == ["line 2, column recommend: 99 is outside the scale (0 to 10)"]
        with pytest.raises(ImportRefused, match="create it with: perception wave create core w2"):
            find_import_target(session, "core", "w2")
        assert import_responses(session, survey, wave, "employee", "recommend\n9\n8\n") == 2
    assert count(app) == 2


def test_twenty_thousand_rows_import_each_answer_on_its_own_response(
    app: Flask, core_wave: tuple[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    rows = 20_000
    lines = ["recommend,satisfaction,effort,comment,submitted_at"]
    for index in range(rows):
        recommend = index % 11
        # effort and satisfaction follow from recommend, so a shuffled response id would show.
        comment = f"row {index}" if index % 10 == 0 else ""
        lines.append(f"{recommend},{recommend % 5 + 1},{recommend % 7 + 1},{comment},2025-01-{index % 28 + 1:02d}")
    path = write(tmp_path, "\n".join(lines) + "\n")

    result = run_import(runner, path)  # its speed is measured by benchmarks/import_speed.py
    assert result.exit_code == 0, result.output
    assert f"Imported {rows} customer responses into core / w1" in result.stdout

    assert count(app) == rows
    assert count(app, Answer) == rows * 3 + rows // 10
    with session_scope(app) as session:
        ids = {item.key: item.id for item in session.exec(select(Item)).all()}
        pairs = session.exec(
            select(Answer.response_id, Item.key, Answer.value, Answer.text).join(Item, Item.id == Answer.item_id)
        ).all()
        days = dict(session.exec(select(Response.id, Response.submitted_on)).all())
    assert len(ids) == 4
    by_response: dict[int, dict[str, object]] = {}
    for response_id, key, value, text in pairs:
        by_response.setdefault(response_id, {})[key] = value if text is None else text
    mismatched = [
        answers
        for answers in by_response.values()
        if answers["satisfaction"] != answers["recommend"] % 5 + 1  # type: ignore[operator]
        or answers["effort"] != answers["recommend"] % 7 + 1  # type: ignore[operator]
    ]
    assert not mismatched, mismatched[:3]
    # Each response's own columns and its answers come from the same row: row i (every tenth
    # names itself in its comment) is dated day i % 28 + 1 and answers recommend = i % 11.
    named = 0
    for response_id, answers in by_response.items():
        if "comment" in answers:
            index = int(str(answers["comment"]).split()[1])
            assert answers["recommend"] == index % 11
            assert days[response_id] == date(2025, 1, index % 28 + 1), (response_id, index)
            named += 1
    assert named == rows // 10
    assert sorted(days.values())[0] == date(2025, 1, 1)
    ordered = [days[response_id] for response_id in sorted(days)]
    assert ordered[:3] == [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)]
    assert ordered[-1] == date(2025, 1, (rows - 1) % 28 + 1)
