"""Responses out as CSV, XLSX and SPSS (with their codebook): customers with their segments,
employees as stored and still anonymous.

An employee export is raw answers, so it keeps the promise reports keep: it is refused below the
reporting threshold, a row whose combination of segment values is shared by fewer responses than
the threshold loses its segment values (otherwise a filter in a spreadsheet would single a person
out), and verbatims are left out below the verbatim threshold.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from perception.models import Answer, Response, ResponseSegment, SegmentValue, Survey, Wave
from perception.report import spreadsheet_safe
from perception.scales import SCALES
from perception.segments import declared
from perception.surveys import items_of


class ExportRefused(ValueError):
    """The export would show too few people's answers."""


def export_columns(session: Session, survey: Survey, side: str, wave: Wave | None = None) -> list[str]:
    items = items_of(session, survey, wave)
    segments = [f"segment:{attribute.name}" for attribute in declared(session, survey, side)]
    first = ["response", "submitted_on", "language"] if side == "customer" else ["submitted_on"]
    answers = [column for item in items for column in ([item.key, f"{item.key}:why"] if item.why else [item.key])]
    return [*first, *segments, *answers]


def _rows(session: Session, survey: Survey, wave: Wave, side: str) -> Iterator[dict[str, object]]:
    """One dict per response, in the order stored, with its answers and segment values."""
    items = {item.id: item for item in items_of(session, survey, wave)}
    attributes = {attribute.id: attribute.name for attribute in declared(session, survey, side)}
    responses = session.exec(
        select(Response).where(Response.wave_id == wave.id, Response.side == side).order_by(Response.id)
    ).all()
    answers: dict[int, dict[str, object]] = {}
    statement = (
        select(Answer.response_id, Answer.item_id, Answer.value, Answer.text)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave.id, Response.side == side)
    )
    for response_id, item_id, value, text in session.exec(statement):
        if item_id in items:
            key = items[item_id].key
            answers.setdefault(response_id, {})[key] = text if value is None else value
            if value is not None and text:  # the "why?" beside a score
                answers[response_id][f"{key}:why"] = text
    segments: dict[int, dict[str, str]] = {}
    statement = (
        select(ResponseSegment.response_id, ResponseSegment.attribute_id, SegmentValue.value)
        .join(SegmentValue, SegmentValue.id == ResponseSegment.value_id)
        .join(Response, Response.id == ResponseSegment.response_id)
        .where(Response.wave_id == wave.id, Response.side == side)
    )
    for response_id, attribute_id, value in session.exec(statement):
        if attribute_id in attributes:
            segments.setdefault(response_id, {})[f"segment:{attributes[attribute_id]}"] = value
    for response in responses:
        row: dict[str, object] = {"submitted_on": response.submitted_on.isoformat()}
        if side == "customer":
            row.update(response=response.id, language=response.language or "")
        row.update(segments.get(response.id, {}))
        row.update(answers.get(response.id, {}))
        yield row


def export_rows(
    session: Session, survey: Survey, wave: Wave, side: str, threshold: int, verbatim_threshold: int
) -> tuple[list[str], list[dict[str, object]]]:
    """The columns and rows of an export, employees' rows already made safe to hand out."""
    columns = export_columns(session, survey, side, wave)
    rows = list(_rows(session, survey, wave, side))
    if side == "employee":
        if len(rows) < threshold:
            raise ExportRefused(
                f"wave {wave.name!r} has fewer than {threshold} employee responses; "
                "exporting them could show who answered what"
            )
        segment_columns = [column for column in columns if column.startswith("segment:")]
        combinations = Counter(tuple(row.get(column, "") for column in segment_columns) for row in rows)
        text_items = [
            column
            for item in items_of(session, survey, wave)
            for column in ([item.key] if SCALES[item.scale].is_text else [f"{item.key}:why"] if item.why else [])
        ]
        for row in rows:
            if combinations[tuple(row.get(column, "") for column in segment_columns)] < threshold:
                for column in segment_columns:
                    row.pop(column, None)
            if len(rows) < verbatim_threshold:
                for key in text_items:
                    row.pop(key, None)
    return columns, rows


def export_responses(
    session: Session, survey: Survey, wave: Wave, side: str, threshold: int, verbatim_threshold: int
) -> str:
    """The wave's responses of one side as CSV text."""
    columns, rows = export_rows(session, survey, wave, side, threshold, verbatim_threshold)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
    return buffer.getvalue()


# Spreadsheets and statistics packages: the same rows, with the codebook beside them.


def codebook_rows(session: Session, survey: Survey, side: str) -> list[dict[str, object]]:
    """One row per column of the side's export: what it holds, in the survey's default language."""
    from perception.codebook import FIXED_COLUMNS, codebook

    book = codebook(session, survey)
    language = survey.default_language
    items = {item["key"]: item for item in book["items"]}
    segments = {segment["column"]: segment for segment in book["segments"] if segment["side"] == side}
    rows: list[dict[str, object]] = []
    for column in book["columns"][side]:
        if column in FIXED_COLUMNS:
            rows.append({"column": column, "label": FIXED_COLUMNS[column].get(language, FIXED_COLUMNS[column]["en"])})
        elif column in segments:
            rows.append({"column": column, "label": f"segment {segments[column]['name']}",
                         "values": " | ".join(segments[column]["values"])})  # fmt: skip
        else:
            item = items[column]
            rows.append({
                "column": column, "label": item["wording"][side][language], "dimension": item["dimension"],
                "touchpoint": item["touchpoint"] or "", "scale": item["scale_label"], "model": item["model"] or "",
                "values": " | ".join(
                    f"{value['value']}" + (f" = {value['label'][language]}" if value["label"].get(language) else "")
                    for value in item["values"]
                ),
            })  # fmt: skip
    return rows


CODEBOOK_COLUMNS = ("column", "label", "dimension", "touchpoint", "scale", "model", "values")


def _text_cell(sheet: Any, row: int, column: int, value: object) -> None:
    """Write a cell; text is typed as text, so that `=...` is shown, never run as a formula."""
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"


def export_xlsx(
    session: Session, survey: Survey, wave: Wave, side: str, threshold: int, verbatim_threshold: int
) -> bytes:
    """The wave's responses of one side as an XLSX workbook: a sheet of responses and the codebook."""
    from openpyxl import Workbook

    columns, rows = export_rows(session, survey, wave, side, threshold, verbatim_threshold)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "responses"
    for index, column in enumerate(columns, start=1):
        _text_cell(sheet, 1, index, column)
    for number, row in enumerate(rows, start=2):
        for index, column in enumerate(columns, start=1):
            _text_cell(sheet, number, index, row.get(column))
    sheet.freeze_panes = "A2"
    book = workbook.create_sheet("codebook")
    for index, column in enumerate(CODEBOOK_COLUMNS, start=1):
        _text_cell(book, 1, index, column)
    for number, entry in enumerate(codebook_rows(session, survey, side), start=2):
        for index, column in enumerate(CODEBOOK_COLUMNS, start=1):
            _text_cell(book, number, index, entry.get(column, ""))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class ExportUnavailable(RuntimeError):
    """The format needs an optional package that is not installed."""


def spss_name(column: str) -> str:
    """A column's variable name in SPSS: letters, digits and _, starting with a letter, 64 at most."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", column)
    if not name[:1].isalpha():
        name = "v_" + name
    return name[:64]


def export_sav(
    session: Session, survey: Survey, wave: Wave, side: str, threshold: int, verbatim_threshold: int
) -> bytes:
    """The wave's responses of one side as an SPSS .sav file, with variable and value labels.

    Needs the optional extra `perception[spss]` (pyreadstat and pandas).
    """
    try:
        import pandas
        import pyreadstat
    except ImportError:
        raise ExportUnavailable(
            "SPSS files need the optional packages pyreadstat and pandas: pip install 'perception[spss]'"
        ) from None
    from perception.codebook import codebook

    columns, rows = export_rows(session, survey, wave, side, threshold, verbatim_threshold)
    book = codebook(session, survey)
    language = survey.default_language
    items = {item["key"]: item for item in book["items"]}
    names = {column: spss_name(column) for column in columns}
    labels = {entry["column"]: str(entry["label"]) for entry in codebook_rows(session, survey, side)}
    data: dict[str, list[object]] = {}
    value_labels: dict[str, dict[int | float, str]] = {}
    for column in columns:
        item = items.get(column)
        if item is not None and item["values"]:
            data[names[column]] = [float(row[column]) if row.get(column) is not None else None for row in rows]
            value_labels[names[column]] = {
                float(value["value"]): value["label"][language]
                for value in item["values"]
                if value["label"].get(language)
            }
        else:
            data[names[column]] = ["" if row.get(column) is None else str(row[column]) for row in rows]
    frame = pandas.DataFrame(data, columns=[names[column] for column in columns])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.sav"
        pyreadstat.write_sav(
            frame, str(path), file_label=f"{survey.slug} {wave.name} {side}"[:64],
            column_labels=[labels.get(column, column) for column in columns],
            variable_value_labels=value_labels,
        )  # fmt: skip
        return path.read_bytes()
