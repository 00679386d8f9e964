"""Waves and their links: create, open, close; one-time links and the public link."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, case, or_
from sqlalchemy.orm import make_transient_to_detached, object_session
from sqlmodel import Session, func, select

from perception.models import WAVE_KINDS, Invitation, Response, Survey, Wave
from perception.questionnaire import keep
from perception.types import SIDES

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
MAX_LINKS_PER_BATCH = 10000


class WaveError(ValueError):
    """A wave cannot be created or changed as asked."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """160 random bits, URL-safe."""
    return secrets.token_urlsafe(20)


def today() -> date:
    return datetime.now(UTC).date()


def find_survey(session: Session, slug: str) -> Survey | None:
    return session.exec(select(Survey).where(Survey.slug == slug)).first()


def find_wave(session: Session, survey: Survey, name: str) -> Wave | None:
    return session.exec(select(Wave).where(Wave.survey_id == survey.id, Wave.name == name)).first()


def create_wave(
    session: Session,
    survey: Survey,
    name: str,
    kind: str = "cold",
    opens_on: date | None = None,
    closes_on: date | None = None,
    touchpoint: str | None = None,
) -> Wave:
    """A draft wave. Cold waves (barometers) may open and close on dates; hot waves are continuous,
    may follow one touchpoint (asking its items and the general ones), and run from when they are
    opened until they are closed."""
    name = name.strip()
    touchpoint = (touchpoint or "").strip() or None
    if not NAME_PATTERN.match(name):
        raise WaveError(f"wave name {name!r} must be 1 to 64 letters, digits, spaces, dots, dashes or underscores")
    if kind not in WAVE_KINDS:
        raise WaveError(f"wave kind must be cold or hot, not {kind!r}")
    if opens_on and closes_on and closes_on < opens_on:
        raise WaveError("a wave cannot close before it opens")
    if kind == "hot":
        if opens_on or closes_on:
            raise WaveError("a hot wave is continuous: it has no dates; open it, and close it when it should stop")
        if touchpoint is not None and len(touchpoint) > 64:
            raise WaveError("a touchpoint is a name of 1 to 64 characters")
    elif touchpoint is not None:
        raise WaveError("only a hot wave follows a touchpoint; a cold wave asks the whole survey")
    if find_wave(session, survey, name) is not None:
        raise WaveError(f"survey {survey.slug!r} has a wave named {name!r} already")
    public_token, employee_token = new_token(), new_token()
    wave = Wave(
        survey_id=survey.id,
        name=name,
        kind=kind,
        opens_on=opens_on,
        closes_on=closes_on,
        public_token=public_token,
        public_token_hash=hash_token(public_token),
        employee_public_token=employee_token,
        employee_public_token_hash=hash_token(employee_token),
        created_at=datetime.now(UTC),
        version=survey.version,
        touchpoint=touchpoint,
    )
    session.add(wave)
    session.flush()
    return wave


def open_wave(wave: Wave) -> None:
    """Open the wave, bound to the survey's current version unless it has responses already."""
    if wave.state == "open":
        raise WaveError(f"wave {wave.name!r} is open already")
    if wave.closes_on and wave.closes_on < today():
        raise WaveError(f"wave {wave.name!r} closed on {wave.closes_on.isoformat()}; change its dates first")
    session = object_session(wave)
    if session is not None:
        survey = session.get(Survey, wave.survey_id)
        answered = session.exec(select(func.count(Response.id)).where(Response.wave_id == wave.id)).one()
        if survey is not None and not answered:
            wave.version = survey.version
    wave.state = "open"


def close_wave(wave: Wave) -> None:
    if wave.state != "open":
        raise WaveError(f"wave {wave.name!r} is not open")
    wave.state = "closed"


def wave_status(wave: Wave, on: date | None = None) -> str:
    """``open``, ``not_yet`` (a draft, or before its opening date) or ``closed`` (closed, or past its date)."""
    on = on or today()
    if wave.state == "closed" or (wave.closes_on and on > wave.closes_on):
        return "closed"
    if wave.state == "draft" or (wave.opens_on and on < wave.opens_on):
        return "not_yet"
    return "open"


def accepts_answers(wave: Wave, on: date | None = None) -> bool:
    """Open, and within its dates when it has them."""
    return wave_status(wave, on) == "open"


@dataclass(frozen=True)
class IssuedLink:
    side: str
    token: str
    expires_at: datetime


def issue_links(session: Session, wave: Wave, side: str, count: int, days: int) -> list[IssuedLink]:
    """Make ``count`` one-time links; the tokens are returned once and only their hashes kept."""
    if side not in SIDES:
        raise WaveError(f"side must be customer or employee, not {side!r}")
    if not 1 <= count <= MAX_LINKS_PER_BATCH:
        raise WaveError(f"a batch holds 1 to {MAX_LINKS_PER_BATCH} links, not {count}")
    if wave.state == "closed":
        raise WaveError(f"wave {wave.name!r} is closed")
    now = datetime.now(UTC)
    expires_at = now + timedelta(days=days)
    issued = [IssuedLink(side=side, token=new_token(), expires_at=expires_at) for _ in range(count)]
    session.add_all(
        Invitation(
            wave_id=wave.id,
            side=side,
            token_hash=hash_token(link.token),
            created_at=now,
            expires_at=expires_at,
        )
        for link in issued
    )
    session.flush()
    return issued


def link_counts(session: Session, wave: Wave) -> dict[str, tuple[int, int]]:
    """One-time links issued and used per side, counted in SQL."""
    used = func.sum(case((Invitation.used.is_(True), 1), else_=0))  # type: ignore[attr-defined]
    statement = (
        select(Invitation.side, func.count(Invitation.id), used)
        .where(Invitation.wave_id == wave.id)
        .group_by(Invitation.side)
    )
    counts = dict.fromkeys(SIDES, (0, 0))
    counts.update({side: (issued, int(used or 0)) for side, issued, used in session.exec(statement)})
    return counts


def public_token(wave: Wave, side: str) -> str:
    """The token of the wave's public link for a side."""
    return wave.public_token if side == "customer" else wave.employee_public_token


def find_public_wave(session: Session, token: str, side: str = "customer") -> Wave | None:
    """The wave of a side's public link, found by hash like invitations, then checked in constant time."""
    if not token or len(token) > 64:
        return None
    column = Wave.public_token_hash if side == "customer" else Wave.employee_public_token_hash
    wave = session.exec(select(Wave).where(column == hash_token(token))).first()
    if wave is None or not hmac.compare_digest(public_token(wave, side).encode(), token.encode()):
        return None
    return wave


def find_public_link(session: Session, token: str) -> tuple[Wave, str] | None:
    """The wave and the side of a public link (each wave has one per side), or None."""
    found = find_public_survey(session, token)
    return (found[0], found[2]) if found else None


# Built once: a respondent's request only binds the hash. The wave's and the survey's columns as
# plain values (the survey's prefixed with survey__), not entities: see ``find_public_survey``.
_WAVE_COLUMNS = Wave.__table__.c  # type: ignore[attr-defined]
_SURVEY_COLUMNS = Survey.__table__.c  # type: ignore[attr-defined]
_PUBLIC_LINK = (
    select(*_WAVE_COLUMNS, *(column.label(f"survey__{column.name}") for column in _SURVEY_COLUMNS))
    .join_from(Wave.__table__, Survey.__table__, _SURVEY_COLUMNS.id == _WAVE_COLUMNS.survey_id)  # type: ignore[attr-defined]
    .where(
        or_(
            _WAVE_COLUMNS.public_token_hash == bindparam("hashed"),
            _WAVE_COLUMNS.employee_public_token_hash == bindparam("hashed"),
        )
    )
)
KEPT_LINKS = 256
"""Public links whose wave and survey a process keeps between requests; past it, the oldest goes."""
_INVITATION_LINK = (
    select(Invitation, Wave, Survey)
    .join(Wave, Wave.id == Invitation.wave_id)  # type: ignore[arg-type]
    .join(Survey, Survey.id == Wave.survey_id)  # type: ignore[arg-type]
    .where(Invitation.token_hash == bindparam("hashed"))
)


@dataclass(frozen=True)
class _DriverStatement:
    """``_PUBLIC_LINK`` as one dialect's driver takes it, and how to read its row as SQLAlchemy would."""

    sql: str
    positions: tuple[str, ...] | None  # the parameters' order, for a driver that takes them by position
    processors: tuple[Any, ...]  # per column: turns the driver's value into the column's (or None)

    @classmethod
    def compile(cls, dialect: Dialect) -> _DriverStatement:
        compiled = _PUBLIC_LINK.compile(dialect=dialect)
        columns = (*_WAVE_COLUMNS, *_SURVEY_COLUMNS)
        processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        return cls(compiled.string, positions, processors)

    def run(self, connection: Connection, hashed: str) -> list[tuple[Any, ...]]:
        parameters: Any = {"hashed": hashed}
        if self.positions is not None:
            parameters = tuple(parameters[name] for name in self.positions)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self.sql, parameters)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()


_DRIVER_STATEMENTS: dict[tuple[str, str], _DriverStatement] = {}  # by database and driver


def find_public_survey(
    session: Session, token: str, kept: dict[str, tuple[tuple[Any, ...], Wave, Survey]] | None = None
) -> tuple[Wave, Survey, str] | None:
    """The wave, survey and side of a public link, in one query: a respondent's page waits for it.

    Found by hash on either side's column, then checked in constant time like ``find_public_wave``.
    With ``kept`` (a process's own), the wave and survey built from a row are kept, detached, and
    given again while the database holds exactly the same row: read them, never change them.
    The query runs on the driver's cursor: its row, compared with the kept one, is all most
    requests need, and SQLAlchemy's handling of a statement would cost more than the lookup.
    """
    if not token or len(token) > 64:
        return None
    hashed = hash_token(token)
    connection = session.connection()
    dialect = connection.dialect
    statement = _DRIVER_STATEMENTS.get((dialect.name, dialect.driver))
    if statement is None:
        statement = _DRIVER_STATEMENTS[(dialect.name, dialect.driver)] = _DriverStatement.compile(dialect)
    for values in statement.run(connection, hashed):
        found = kept.get(hashed) if kept is not None else None
        if found is None or found[0] != values:
            found = (values, *_detached(values, statement.processors))
            if kept is not None:
                keep(kept, hashed, found, KEPT_LINKS)
        _values, wave, survey = found
        for side in SIDES:
            if hmac.compare_digest(public_token(wave, side).encode(), token.encode()):
                return wave, survey, side
    return None


def _detached(values: tuple[Any, ...], processors: tuple[Any, ...]) -> tuple[Wave, Survey]:
    """The wave and survey of a public link's row (the driver's values, turned into the columns'
    by ``processors``), as entities of no session that stand for their rows."""
    read = [value if process is None else process(value) for value, process in zip(values, processors, strict=True)]
    split = len(_WAVE_COLUMNS)
    wave = Wave(**{column.name: value for column, value in zip(_WAVE_COLUMNS, read[:split], strict=True)})
    survey = Survey(**{column.name: value for column, value in zip(_SURVEY_COLUMNS, read[split:], strict=True)})
    make_transient_to_detached(wave)
    make_transient_to_detached(survey)
    return wave, survey


def find_invitation_survey(session: Session, token: str) -> tuple[Invitation, Wave, Survey] | None:
    """A one-time link's invitation with its wave and survey, in one query, found by the token's
    SHA-256: the database compares hashes, so how long a lookup takes says nothing about the clear
    tokens it holds."""
    if not token or len(token) > 64:
        return None
    found = session.exec(_INVITATION_LINK, params={"hashed": hash_token(token)}).first()
    return (found[0], found[1], found[2]) if found else None
