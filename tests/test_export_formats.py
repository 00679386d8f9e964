"""Responses as XLSX and SPSS, with the codebook beside them, and no formula a spreadsheet would run."""

from __future__ import annotations

import io
import sys

import pytest
from flask import Flask
from openpyxl import load_workbook

from perception.db import session_scope
from perception.exports import ExportRefused, export_sav, export_xlsx, spss_name
from perception.report import spreadsheet_safe
from perception.waves import find_survey, find_wave
from tests.test_api_resources import call, token_for
from tests.test_exports import seed


def exported(app: Flask, write, side: str) -> bytes:  # type: ignore[no-untyped-def]
    with session_scope(app) as session:
        survey = find_survey(session, "shop")
        wave = find_wave(session, survey, "w1")
        return write(session, survey, wave, side, 5, 10)


def test_an_xlsx_export_holds_the_responses_and_the_codebook_and_runs_no_formula(app: Flask) -> None:
    seed(app, ["Counter"] * 6)
    workbook = load_workbook(io.BytesIO(exported(app, export_xlsx, "customer")))
    assert workbook.sheetnames == ["responses", "codebook"]
    rows = list(workbook["responses"].iter_rows(values_only=True))
    assert rows[0] == ("response", "submitted_on", "language", "segment:region", "easy", "why")
    assert rows[1][3:] == ("North", 3, '=HYPERLINK("http://x")')  # the text as written, typed as text
    cells = [cell for row in workbook["responses"].iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    codebook = {row[0]: row for row in workbook["codebook"].iter_rows(min_row=2, values_only=True)}
    assert codebook["easy"][1] == "Easy?" and codebook["easy"][2] == "Time and Effort"
    assert codebook["easy"][6].startswith("1 = Strongly disagree | 2 | 3")
    assert codebook["segment:region"][6] == "North | South"


def test_an_employee_xlsx_export_keeps_the_anonymity_rules(app: Flask) -> None:
    seed(app, ["Counter", "Phone"])
    with pytest.raises(ExportRefused):
        exported(app, export_xlsx, "employee")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "plain"])
def test_csv_cells_a_spreadsheet_would_run_are_kept_as_text(text: str) -> None:
    safe = spreadsheet_safe(text)
    assert safe == text if text == "plain" else safe == "'" + text


def test_an_spss_file_carries_variable_and_value_labels(app: Flask) -> None:
    import tempfile
    from pathlib import Path

    import pyreadstat  # the test extra brings perception[spss]

    seed(app, ["Counter"] * 6)
    content = exported(app, export_sav, "customer")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.sav"
        path.write_bytes(content)
        frame, meta = pyreadstat.read_sav(str(path))
    assert list(meta.column_names) == ["response", "submitted_on", "language", "segment_region", "easy", "why"]
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["easy"] == "Easy?" and labels["segment_region"] == "segment region"
    assert meta.variable_value_labels["easy"][1.0] == "Strongly disagree"
    assert meta.variable_value_labels["easy"][7.0] == "Strongly agree"
    assert list(frame["easy"]) == [3.0, 3.0, 3.0]
    assert spss_name("segment:team-size") == "segment_team_size" and spss_name("1st") == "v_1st"


def test_the_api_hands_out_each_format(app: Flask) -> None:
    seed(app, ["Counter"] * 6)
    client = app.test_client()
    headers = token_for(app, "responses:export")
    xlsx = call(client, "GET", "/surveys/shop/waves/w1/responses/customer?format=xlsx", headers)
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert 'filename="shop-w1-customer.xlsx"' in xlsx.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["responses", "codebook"]
    wrong = call(client, "GET", "/surveys/shop/waves/w1/responses/customer?format=pdf", headers).get_json()
    assert wrong["status"] == 422 and wrong["errors"][0]["field"] == "query.format"


def test_the_command_writes_an_xlsx_file(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed(app, ["Counter"] * 6)
    target = tmp_path / "shop.xlsx"
    result = app.test_cli_runner().invoke(
        args=["export-responses", "--survey", "shop", "--wave", "w1", "--side", "customer", "--format", "xlsx",
              "--output", str(target)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert load_workbook(target)["responses"]["E2"].value == 3


def test_a_server_without_the_spss_extra_says_so_with_501(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(app, ["Counter"] * 6)
    monkeypatch.setitem(sys.modules, "pyreadstat", None)  # what `import pyreadstat` meets where it is not installed
    answer = call(app.test_client(), "GET", "/surveys/shop/waves/w1/responses/customer?format=sav",
                  token_for(app, "responses:export"))  # fmt: skip
    assert answer.status_code == 501 and answer.mimetype == "application/problem+json"
    assert "pip install 'perception[spss]'" in answer.get_json()["detail"]
