"""Recording a response: check every answer, use the link once, store all or nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from flask import Flask
from sqlalchemy import Boolean, Connection, Date, LargeBinary, String, bindparam, insert, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from sqlmodel.sql.sqltypes import UTCDateTime

from perception.db import in_transaction
from perception.models import (
    Answer,
    CallbackRequest,
    Invitation,
    InvitationSegment,
    Item,
    OutboxEvent,
    Response,
    ResponseSegment,
    Survey,
    Wave,
    WaveParticipation,
)
from perception.outbox import drain, event_row
from perception.scales import MAX_TEXT_LENGTH, SCALES
from perception.types import SIDES, ResponseSubmitted
from perception.waves import today


class ResponseError(ValueError):
    """The answers were refused; ``problems`` maps each item key at fault to its reason."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in self.problems.items()))


class LinkUsed(Exception):
    """The one-time link has been used already (perhaps a moment ago, by a racing request)."""


class AlreadyAnswered(Exception):
    """The signed-in account has answered this wave already."""


def has_answered(session: Session, wave: Wave, account_id: int) -> bool:
    return session.get(WaveParticipation, (wave.id, account_id)) is not None


@dataclass(frozen=True)
class CheckedAnswer:
    item: Item
    value: int | None
    text: str | None


def check_answers(
    items: list[Item], raw: Mapping[str, object], why: Mapping[str, object] | None = None
) -> list[CheckedAnswer]:
    """Check raw answers (item key to value or text); raise ResponseError naming each fault.

    A score is a whole number on the item's scale; a choice is the number of an option (1, 2, ...)
    or its wording in either language; ``why`` maps a score item's key to the verbatim that
    explains the score, kept only beside a score.
    """
    problems: dict[str, str] = {}
    checked: list[CheckedAnswer] = []
    known = {item.key for item in items}
    for key in [*raw, *(why or {})]:
        if key not in known:
            problems[str(key)] = "this survey has no such item"
    for item in items:
        answer = raw.get(item.key)
        if isinstance(answer, str):
            answer = answer.strip()
        if answer is None or answer == "":
            if item.required:
                problems[item.key] = "an answer is required"
            continue
        scale = SCALES[item.scale]
        if scale.is_text:
            text = str(answer)
            if len(text) > MAX_TEXT_LENGTH:
                problems[item.key] = f"at most {MAX_TEXT_LENGTH} characters, this has {len(text)}"
                continue
            checked.append(CheckedAnswer(item, None, text))
            continue
        if scale.is_choice:
            value = _option_number(item, answer)
            if value is None:
                count = len(item.options or [])
                problems[item.key] = f"{answer!r} is not one of the options (1 to {count}, or an option's wording)"
                continue
            checked.append(CheckedAnswer(item, value, None))
            continue
        if isinstance(answer, bool) or not isinstance(answer, int | str):
            problems[item.key] = f"{answer!r} is not a whole number"
            continue
        try:
            value = int(str(answer))
        except ValueError:
            problems[item.key] = f"{answer!r} is not a whole number"
            continue
        if value not in scale.values:
            problems[item.key] = f"{value} is outside the scale ({scale.low} to {scale.high})"
            continue
        reason = (why or {}).get(item.key) if item.why else None
        if isinstance(reason, str):
            reason = reason.strip()
        elif reason is not None:
            problems[item.key] = "the answer to why must be text"
            continue
        if reason and len(reason) > MAX_TEXT_LENGTH:
            problems[item.key] = f"why: at most {MAX_TEXT_LENGTH} characters, this has {len(reason)}"
            continue
        checked.append(CheckedAnswer(item, value, reason or None))
    if problems:
        raise ResponseError(problems)
    return checked


def _option_number(item: Item, answer: object) -> int | None:
    """The option's number from its number or from its wording (either language, any case)."""
    options = item.options or []
    if isinstance(answer, bool):
        return None
    text = str(answer).strip()
    if text.isdigit():
        number = int(text)
        return number if 1 <= number <= len(options) else None
    for number, option in enumerate(options, start=1):
        if any(text.casefold() == wording.casefold() for wording in option.values() if wording):
            return number
    return None


# On the tables, not the entities: nothing of the ORM is needed to write these rows, which are
# written once and never edited here, while the respondent's page waits for them.
_INSERT_RESPONSE = insert(Response.__table__).returning(Response.__table__.c.id)  # type: ignore[attr-defined]
_INSERT_ANSWER = insert(Answer.__table__)  # type: ignore[attr-defined]
_INSERT_SEGMENT = insert(ResponseSegment.__table__)  # type: ignore[attr-defined]

# SQLite: the same inserts, compiled once to the driver's SQL and run on its cursor. SQLite runs
# in this process, so SQLAlchemy's handling of each statement (its parameters, its result) would
# cost more than the database's own work. The dates are stored as SQLAlchemy stores them.
_SQLITE = sqlite.dialect()
_RESPONSE_KEYS = ("wave_id", "side", "submitted_on", "language", "invitation_id")
_ANSWER_KEYS = ("response_id", "item_id", "wave_id", "side", "value", "text")
_EVENT_KEYS = ("hook", "payload", "created_at", "response_id")


def _sqlite_sql(statement: Any, keys: tuple[str, ...]) -> str:
    compiled = statement.compile(dialect=_SQLITE, column_keys=list(keys))
    if tuple(compiled.positiontup or ()) != keys:  # the tuples below are built in this order
        raise RuntimeError(f"{statement} takes its parameters as {compiled.positiontup}, not {keys}")
    return compiled.string


def _sqlite_bind(column: Any) -> Any:
    return column.type.dialect_impl(_SQLITE).bind_processor(_SQLITE) or (lambda value: value)


_SQLITE_RESPONSE = _sqlite_sql(_INSERT_RESPONSE, _RESPONSE_KEYS)
_SQLITE_ANSWER = _sqlite_sql(_INSERT_ANSWER, _ANSWER_KEYS)
_SQLITE_SEGMENT = _sqlite_sql(_INSERT_SEGMENT, ("response_id", "attribute_id", "value_id"))
_SQLITE_EVENT = _sqlite_sql(insert(OutboxEvent.__table__), _EVENT_KEYS)  # type: ignore[attr-defined]
_sqlite_date = _sqlite_bind(Response.__table__.c.submitted_on)  # type: ignore[attr-defined]
_sqlite_datetime = _sqlite_bind(OutboxEvent.__table__.c.created_at)  # type: ignore[attr-defined]

# PostgreSQL: the response, its answers, its segment values, its event and a customer's consent to
# be contacted in one statement, one exchange with the server instead of four; being one statement,
# it is whole or absent even outside a transaction (a public link's page runs without one). The
# answers and segment values come as JSON, one parameter each: the client encodes a string faster
# than it adapts arrays element by element.
_WRITE_RESPONSE = text(
    """
    WITH stored AS (
        INSERT INTO response (wave_id, side, submitted_on, language, invitation_id)
        VALUES (:wave_id, :side, :submitted_on, :language, :invitation_id)
        RETURNING id
    ), answers AS (
        INSERT INTO answer (response_id, item_id, wave_id, side, value, text)
        SELECT stored.id, given.item_id, :wave_id, :side, given.value, given.text
        FROM stored, json_to_recordset(CAST(:answers AS JSON)) AS given(item_id INTEGER, value INTEGER, text TEXT)
    ), segments AS (
        INSERT INTO response_segment (response_id, attribute_id, value_id)
        SELECT stored.id, chosen.attribute_id, chosen.value_id
        FROM stored, json_to_recordset(CAST(:segments AS JSON)) AS chosen(attribute_id INTEGER, value_id INTEGER)
    ), event AS (
        INSERT INTO outbox_event (hook, payload, created_at, response_id)
        SELECT :hook, :payload, :created_at, CASE WHEN :named THEN stored.id END FROM stored
    ), callback AS (
        INSERT INTO callback_request (response_id, how, address)
        SELECT stored.id, :how, :address FROM stored WHERE :how IS NOT NULL
    )
    SELECT id FROM stored
    """
).bindparams(
    bindparam("submitted_on", type_=Date()),
    bindparam("payload", type_=LargeBinary()),
    bindparam("created_at", type_=UTCDateTime()),
    bindparam("named", type_=Boolean()),
    bindparam("how", type_=String()),
    bindparam("address", type_=String()),
)


def _write(
    connection: Connection,
    row: dict[str, Any],
    answers: list[CheckedAnswer],
    segments: Mapping[int, int],
    event: dict[str, Any],
    anonymous: bool,
) -> int:
    """Write the response, its answers, its segment values and its event, a statement each, on the
    SQLite driver's cursor inside ``connection``'s transaction.

    SQLite takes its one write lock at the first insert, and every other process waits for it until
    the commit: what can be made before (the event's payload, its date) is made before.
    """
    written = event_row(**event)
    created_at = _sqlite_datetime(written["created_at"])
    cursor = connection.connection.cursor()
    try:
        cursor.execute(
            _SQLITE_RESPONSE,
            (row["wave_id"], row["side"], _sqlite_date(row["submitted_on"]), row["language"], row["invitation_id"]),
        )
        response_id: int = cursor.fetchone()[0]
        if answers:  # every item may be optional, and none answered
            wave_id, side = row["wave_id"], row["side"]
            cursor.executemany(
                _SQLITE_ANSWER,
                [(response_id, answer.item.id, wave_id, side, answer.value, answer.text) for answer in answers],
            )
        if segments:
            cursor.executemany(
                _SQLITE_SEGMENT,
                [(response_id, attribute_id, value_id) for attribute_id, value_id in segments.items()],
            )
        cursor.execute(
            _SQLITE_EVENT, (written["hook"], written["payload"], created_at, None if anonymous else response_id)
        )
    finally:
        cursor.close()
    return response_id


def _write_in_one_statement(
    connection: Connection,
    row: dict[str, Any],
    answers: list[CheckedAnswer],
    segments: Mapping[int, int],
    event: dict[str, Any],
    anonymous: bool,
    callback: tuple[str, str] | None,
) -> int:
    """What ``_write`` writes, and the callback consent, in one statement (PostgreSQL)."""
    written = event_row(**event)
    how, address = callback or (None, None)
    return connection.execute(
        _WRITE_RESPONSE,
        {
            **row,
            "answers": json.dumps(
                [{"item_id": answer.item.id, "value": answer.value, "text": answer.text} for answer in answers]
            ),
            "segments": json.dumps(
                [{"attribute_id": attribute_id, "value_id": value_id} for attribute_id, value_id in segments.items()]
            ),
            "hook": written["hook"],
            "payload": written["payload"],
            "created_at": written["created_at"],
            "named": not anonymous,
            "how": how,
            "address": address,
        },
    ).scalar_one()


def record_response(
    app: Flask,
    session: Session,
    survey: Survey,
    wave: Wave,
    side: str,
    answers: list[CheckedAnswer],
    language: str | None = None,
    invitation: Invitation | None = None,
    segments: Mapping[int, int] | None = None,
    callback: tuple[str, str] | None = None,
    participant: int | None = None,
) -> int:
    """Store the response, use up its link and write its event for the plugins in one transaction;
    return the response's id.

    ``callback`` is a customer's consent to be contacted: how (email or phone) and where.
    ``participant`` is the signed-in employee's account: the transaction records that it answered
    the wave, and the response stays as anonymous as one from a link.
    """
    if side not in SIDES:
        raise ValueError(f"side must be customer or employee, not {side!r}")
    if callback is not None and side != "customer":
        raise ValueError("only a customer can ask to be contacted: employees stay anonymous")
    if (participant is not None or invitation is not None) and not in_transaction(session):
        raise RuntimeError("a link used up or a participation recorded needs a transaction around the response")
    if participant is not None:
        if side != "employee":
            raise ValueError("only the staff side is answered while signed in")
        session.add(WaveParticipation(wave_id=wave.id, account_id=participant))
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            raise AlreadyAnswered() from None
    if invitation is not None:
        used = session.execute(
            update(Invitation)
            .where(Invitation.id == invitation.id, Invitation.used.is_(False))  # type: ignore[attr-defined]
            .values(used=True)
        )
        if used.rowcount != 1:
            session.rollback()
            raise LinkUsed()
        if side == "customer":  # a customer's invitation may carry segment values (touchpoint, region)
            carried = session.exec(
                select(InvitationSegment.attribute_id, InvitationSegment.value_id).where(
                    InvitationSegment.invitation_id == invitation.id
                )
            ).all()
            segments = {**dict(carried), **(segments or {})}
    anonymous = side == "employee"
    row = {
        "wave_id": wave.id,
        "side": side,
        "submitted_on": today(),
        "language": None if anonymous else language,
        "invitation_id": None if anonymous or invitation is None else invitation.id,
    }
    # The event names the response through its outbox row, filled in as the response is written.
    event = {
        "hook_name": "perception_response_submitted",
        "event": ResponseSubmitted(
            survey_slug=survey.slug,
            wave_name=wave.name,
            side=side,
            submitted_on=row["submitted_on"],
            answers={a.item.key: a.text if a.value is None else a.value for a in answers},
        ),
        # An employee's event waits in the database beside the response: it keeps the day only.
        "created_at": datetime.combine(row["submitted_on"], time(), UTC) if anonymous else None,
    }
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        response_id = _write_in_one_statement(connection, row, answers, segments or {}, event, anonymous, callback)
    else:
        response_id = _write(connection, row, answers, segments or {}, event, anonymous)
        if callback is not None:
            session.add(CallbackRequest(response_id=response_id, how=callback[0], address=callback[1]))  # type: ignore[arg-type]
    session.commit()
    if app.config.get("QUEUE_IMMEDIATE"):  # tests: the plugins hear of it before this returns
        drain(app)
    return response_id


def invitation_expired(invitation: Invitation, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    expires_at = invitation.expires_at
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at <= now
