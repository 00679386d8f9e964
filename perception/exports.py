"""Responses out as CSV: customers with their segments, employees as stored and still anonymous.

An employee export is raw answers, so it keeps the promise reports keep: it is refused below the
reporting threshold, a row whose combination of segment values is shared by fewer responses than
the threshold loses its segment values (otherwise a filter in a spreadsheet would single a person
out), and verbatims are left out below the verbatim threshold.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator

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
    return [*first, *segments, *(item.key for item in items)]


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
            answers.setdefault(response_id, {})[items[item_id].key] = text if value is None else value
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


def export_responses(
    session: Session, survey: Survey, wave: Wave, side: str, threshold: int, verbatim_threshold: int
) -> str:
    """The wave's responses of one side as CSV text."""
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
        text_items = [item.key for item in items_of(session, survey, wave) if SCALES[item.scale].is_text]
        for row in rows:
            if combinations[tuple(row.get(column, "") for column in segment_columns)] < threshold:
                for column in segment_columns:
                    row.pop(column, None)
            if len(rows) < verbatim_threshold:
                for key in text_items:
                    row.pop(key, None)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
    return buffer.getvalue()
