"""Importing existing answers (from another survey tool, a spreadsheet) into a wave, from CSV.

The file is checked whole before anything is stored: every bad cell is named with its line (as a
spreadsheet numbers it, the header being line 1), its column and the reason, and a file with any
fault stores nothing. A good file is stored in bulk, a few thousand rows per statement, inside the
caller's transaction.

Employee rows are kept as anonymous as answers given through a link: no invitation, no language,
and the day only.
"""

from __future__ import annotations

import csv
import io
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection, insert
from sqlmodel import Session, select

from perception.audit import record
from perception.db import DatabaseNotReady, check_ready, session_scope
from perception.models import Answer, Item, Response, ResponseSegment, SegmentAttribute, SegmentValue, Survey, Wave
from perception.responses import CheckedAnswer, ResponseError, check_answers
from perception.surveys import items_of
from perception.types import SIDES
from perception.waves import find_survey, find_wave, today

MAX_PROBLEMS = 50
CHUNK_ROWS = 5000
SUBMITTED_AT = "submitted_at"
SEGMENT_PREFIX = "segment:"
DELIMITERS = (",", ";")


class ImportRefused(ValueError):
    """The file was refused whole; ``problems`` lists each fault with its line and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class _Segment:
    attribute_id: int
    name: str
    values: Mapping[str, int]  # value -> value id, in declared order


@dataclass(frozen=True)
class _Columns:
    """What each column of the header is: an item, the date, a segment, or a fault."""

    items: Mapping[int, Item]  # column index -> item
    submitted_at: int | None
    segments: Mapping[int, _Segment]  # column index -> segment
    unnamed: Sequence[int]  # columns the header leaves nameless: their cells must be empty
    names: Sequence[str]


@dataclass
class _Row:
    submitted_on: date
    answers: list[tuple[int, int | None, str | None]]  # (item id, value, text)
    segments: list[tuple[int, int]]  # (attribute id, value id)


class _Problems:
    """Faults found so far; stops the reading once there are MAX_PROBLEMS."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, line: int, column: str | None, reason: str) -> None:
        where = f"line {line}, column {column}" if column else f"line {line}"
        self.found.append(f"{where}: {reason}")

    @property
    def full(self) -> bool:
        return len(self.found) >= MAX_PROBLEMS


def decode_csv(data: bytes) -> str:
    """The file's text, read as UTF-8 (with or without a byte order mark); refused naming the line otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportRefused(
            [
                f"line {line}: byte 0x{data[error.start]:02x} is not UTF-8 text; "
                "save the file as CSV UTF-8 and import it again"
            ]
        ) from None


def sniff_delimiter(text: str) -> str:
    """Comma or semicolon: whichever the header line uses (names never hold either), comma by default."""
    header = text.split("\n", 1)[0]
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for character in header:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in counts:
            counts[character] += 1
    return ";" if counts[";"] > counts[","] else ","


def _segments_of_side(session: Session, survey: Survey, side: str) -> dict[str, _Segment]:
    statement = (
        select(SegmentAttribute.id, SegmentAttribute.name, SegmentValue.id, SegmentValue.value)
        .join(SegmentValue, SegmentValue.attribute_id == SegmentAttribute.id)
        .where(SegmentAttribute.survey_id == survey.id, SegmentAttribute.side == side)
        .order_by(SegmentAttribute.position, SegmentValue.position)
    )
    found: dict[str, tuple[int, dict[str, int]]] = {}
    for attribute_id, name, value_id, value in session.exec(statement):
        found.setdefault(name, (attribute_id, {}))[1][value] = value_id
    return {name: _Segment(attribute_id, name, values) for name, (attribute_id, values) in found.items()}


def _other_side(side: str) -> str:
    return "employee" if side == "customer" else "customer"


def _a(side: str) -> str:
    return f"an {side}" if side == "employee" else f"a {side}"


def _read_header(
    header: list[str],
    items: list[Item],
    segments: Mapping[str, _Segment],
    other_segments: Mapping[str, _Segment],
    side: str,
    problems: _Problems,
) -> _Columns:
    by_key = {item.key: item for item in items}
    names = [name.strip() for name in header]
    item_columns: dict[int, Item] = {}
    segment_columns: dict[int, _Segment] = {}
    submitted_at: int | None = None
    unnamed: list[int] = []
    seen: dict[str, int] = {}
    expected = ", ".join([*by_key, SUBMITTED_AT, *(SEGMENT_PREFIX + name for name in segments)])
    for index, name in enumerate(names):
        key = name.lower()
        if not name:
            unnamed.append(index)  # as a trailing delimiter leaves; refused only if a row fills it
            continue
        if key in seen:
            problems.add(1, name, f"named twice, in columns {seen[key] + 1} and {index + 1}")
            continue
        seen[key] = index
        if key in by_key:
            item_columns[index] = by_key[key]
        elif key == SUBMITTED_AT:
            submitted_at = index
        elif key.startswith(SEGMENT_PREFIX):
            segment_name = key[len(SEGMENT_PREFIX) :].strip()
            if segment_name in segments:
                segment_columns[index] = segments[segment_name]
            elif segment_name in other_segments:
                problems.add(
                    1,
                    name,
                    f"{segment_name!r} is {_a(_other_side(side))} segment; these are {side} responses "
                    f"(their segments: {', '.join(segments) or 'none'})",
                )
            else:
                problems.add(
                    1,
                    name,
                    f"the survey has no {side} segment {segment_name!r} (it has: {', '.join(segments) or 'none'})",
                )
        else:
            problems.add(1, name, f"unknown column; the columns this import reads are: {expected}")
    if not item_columns and not problems.full:
        problems.add(1, None, f"no column names an item of the survey; its item keys are: {', '.join(by_key)}")
    return _Columns(
        items=item_columns, submitted_at=submitted_at, segments=segment_columns, unnamed=unnamed, names=names
    )


def _submitted_on(cell: str, latest: date) -> date:
    """An ISO 8601 date or date and time, as its day (in UTC when the time has an offset)."""
    try:
        if len(cell) <= 10:
            day = date.fromisoformat(cell)
        else:
            moment = datetime.fromisoformat(cell)
            day = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    except ValueError:
        raise ValueError(f"{cell!r} is not an ISO 8601 date, like 2027-01-31 or 2027-01-31T14:05:00") from None
    if day > latest:
        raise ValueError(f"{day.isoformat()} is in the future")
    return day


def _records(text: str, delimiter: str, problems: _Problems) -> Iterator[tuple[int, list[str]]]:
    """(line as a spreadsheet numbers it, cells) for each record; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.add(line + 1, None, f"the file cannot be read past here ({error})")
            return
        line += 1
        yield line, cells


def _check_rows(
    records: Iterator[tuple[int, list[str]]], columns: _Columns, problems: _Problems
) -> tuple[list[_Row], int]:
    """The checked rows, and the last line read."""
    rows: list[_Row] = []
    items = list(columns.items.values())
    width = len(columns.names)
    latest = today() + timedelta(days=1)  # a day ahead of UTC: a file dated in the east of the world
    default_day = today()
    column_of = {item.key: columns.names[index] for index, item in columns.items.items()}
    line = 1
    for line, cells in records:
        _check_row(line, cells, columns, items, column_of, width, latest, default_day, rows, problems)
        if problems.full:
            break
    return rows, line


def _check_row(
    line: int,
    cells: list[str],
    columns: _Columns,
    items: list[Item],
    column_of: Mapping[str, str],
    width: int,
    latest: date,
    default_day: date,
    rows: list[_Row],
    problems: _Problems,
) -> None:
    """Check one record; append it to ``rows`` while the file has no fault so far."""
    if not any(cell.strip() for cell in cells):
        return  # a blank line, as spreadsheets leave at the end
    if len(cells) > width:
        extra = [index for index in range(width, len(cells)) if cells[index].strip()]
        if extra:
            problems.add(
                line,
                f"{extra[0] + 1} (not in the header)",
                f"this row has {len(cells)} cells but the header names {width} columns "
                f"(extra cell: {cells[extra[0]].strip()!r})",
            )
            return
    for index in columns.unnamed:
        if index < len(cells) and cells[index].strip():
            problems.add(
                line,
                f"{index + 1} (no name)",
                f"the header gives this column no name, so {cells[index].strip()!r} cannot be read; "
                "name the column or empty it",
            )
    raw = {item.key: cells[index] if index < len(cells) else "" for index, item in columns.items.items()}
    checked: list[CheckedAnswer] = []
    try:
        checked = check_answers(items, raw)
    except ResponseError as error:
        for key, reason in error.problems.items():
            problems.add(line, column_of.get(key, key), reason)
    else:
        if not checked:
            problems.add(line, None, "the row answers no item")
    submitted_on = default_day
    if columns.submitted_at is not None and columns.submitted_at < len(cells):
        cell = cells[columns.submitted_at].strip()
        if cell:
            try:
                submitted_on = _submitted_on(cell, latest)
            except ValueError as error:
                problems.add(line, columns.names[columns.submitted_at], str(error))
    segments: list[tuple[int, int]] = []
    for index, segment in columns.segments.items():
        value = cells[index].strip() if index < len(cells) else ""
        if not value:
            continue
        value_id = segment.values.get(value)
        if value_id is None:
            problems.add(
                line,
                columns.names[index],
                f"{value!r} is not a value of {segment.name} (it has: {', '.join(segment.values)})",
            )
            continue
        segments.append((segment.attribute_id, value_id))
    if not problems.found:
        answers = [(answer.item.id, answer.value, answer.text) for answer in checked]
        rows.append(_Row(submitted_on, answers, segments))  # type: ignore[arg-type]


def _chunks(rows: Sequence[_Row]) -> Iterator[Sequence[_Row]]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield rows[start : start + CHUNK_ROWS]


def _insert_responses(connection: Connection, parameters: list[dict[str, object]]) -> list[int]:
    """Insert the responses and return their ids, in the order given."""
    table = Response.__table__  # type: ignore[attr-defined]
    if connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.execute(statement, parameters).scalars())
    ids = []  # a database without RETURNING for many rows: one statement per response
    for row in parameters:
        result = connection.execute(insert(table), row)
        ids.append(result.inserted_primary_key[0])  # type: ignore[index]
    return ids


def _store(session: Session, wave: Wave, side: str, rows: list[_Row]) -> None:
    connection = session.connection()
    answer_table = Answer.__table__  # type: ignore[attr-defined]
    segment_table = ResponseSegment.__table__  # type: ignore[attr-defined]
    for chunk in _chunks(rows):
        # No invitation and no language (both left NULL), the day only: an employee's row is as
        # anonymous as one answered through a link, and the table's check constraint insists.
        ids = _insert_responses(
            connection, [{"wave_id": wave.id, "side": side, "submitted_on": row.submitted_on} for row in chunk]
        )
        answers = [
            {
                "response_id": response_id,
                "item_id": item_id,
                "wave_id": wave.id,
                "side": side,
                "value": value,
                "text": text,
            }
            for response_id, row in zip(ids, chunk, strict=True)
            for item_id, value, text in row.answers
        ]
        if answers:
            connection.execute(insert(answer_table), answers)
        segments = [
            {"response_id": response_id, "attribute_id": attribute_id, "value_id": value_id}
            for response_id, row in zip(ids, chunk, strict=True)
            for attribute_id, value_id in row.segments
        ]
        if segments:
            connection.execute(insert(segment_table), segments)


def import_responses(session: Session, survey: Survey, wave: Wave, side: str, text: str) -> int:
    """Check a CSV file's responses whole, then store them in bulk; return how many were stored.

    One row per response, one column per item key (a column may be absent; an empty cell is no
    answer), optional ``submitted_at`` (ISO 8601 date or date and time; kept as the day, today in
    UTC by default) and ``segment:NAME`` columns holding declared values of the side's segments.
    Raises ImportRefused, storing nothing, when any cell is at fault. Does not commit: the caller's
    transaction holds the whole import.
    """
    if side not in SIDES:
        raise ValueError(f"side must be customer or employee, not {side!r}")
    if wave.survey_id != survey.id:
        raise ValueError(f"wave {wave.name!r} is not a wave of survey {survey.slug!r}")
    text = text.removeprefix("\ufeff")
    problems = _Problems()
    records = _records(text, sniff_delimiter(text), problems)
    header = next(records, None)
    if header is None or not any(cell.strip() for cell in header[1]):
        raise ImportRefused(problems.found or ["line 1: the file is empty; its first line must name the columns"])
    segments = _segments_of_side(session, survey, side)
    other_segments = _segments_of_side(session, survey, _other_side(side))
    columns = _read_header(header[1], items_of(session, survey, wave), segments, other_segments, side, problems)
    rows, line = _check_rows(records, columns, problems)
    if problems.found:
        if problems.full:
            problems.found.append(f"stopped reading after line {line}, at {MAX_PROBLEMS} problems; fix these first")
        raise ImportRefused(problems.found)
    if not rows:
        raise ImportRefused(["the file has a header but no responses"])
    _store(session, wave, side, rows)
    return len(rows)


def find_import_target(session: Session, slug: str, wave_name: str) -> tuple[Survey, Wave]:
    """The survey and wave to import into; refused with the command that creates what is missing."""
    survey = find_survey(session, slug)
    if survey is None:
        raise ImportRefused(
            [f"there is no survey {slug!r}; import its definition with: perception survey import FILE.yaml"]
        )
    wave = find_wave(session, survey, wave_name)
    if wave is None:
        raise ImportRefused(
            [
                f"survey {slug!r} has no wave {wave_name!r}; create it with: "
                f"perception wave create {shlex.quote(slug)} {shlex.quote(wave_name)}"
            ]
        )
    return survey, wave


@click.command("import-responses")
@click.argument("file", type=click.File("rb"))
@click.option("--survey", "slug", required=True, help="The survey's slug.")
@click.option("--wave", "wave_name", required=True, help="The wave's name (it may be draft, open or closed).")
@click.option("--side", required=True, type=click.Choice(SIDES), help="Whose answers the file holds.")
@with_appcontext
def import_responses_command(file: io.BufferedReader, slug: str, wave_name: str, side: str) -> None:
    """Import existing responses from a CSV file (UTF-8, comma or semicolon) into a wave.

    One row per response; one column per item key, optional submitted_at (ISO 8601 date) and
    segment:NAME columns. A file with any bad cell is refused whole, each fault named with its
    line and column.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        check_ready(app)
    except DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
    name = getattr(file, "name", "-")
    try:
        text = decode_csv(file.read())
        with session_scope(app) as session:
            survey, wave = find_import_target(session, slug, wave_name)
            count = import_responses(session, survey, wave, side, text)
            record(session, None, "responses.import", f"{survey.slug} / {wave.name}", {"side": side, "count": count})
            where = f"{survey.slug} / {wave.name}"
    except ImportRefused as error:
        click.echo(f"{name}: refused, nothing was imported:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(f"Imported {count} {side} responses into {where}")
