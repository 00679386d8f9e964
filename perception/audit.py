"""The audit log: who changed an account, a token, a survey or a wave, and who took data out.

An event is added to the session of the change it describes, so it is committed or rolled back
with it: the log never claims a change that did not happen, nor misses one that did. Nothing
updates or deletes an event. The log names staff and the objects they acted on, never a
respondent and never an answer: employees' anonymity holds here too.

Callers use one function, :func:`record`::

    record(session, current_user, "wave.open", f"{survey.slug} / {wave.name}")
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from perception.models import AuditEvent

ACTION_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
PAGE_SIZE = 100


def actor_label(actor: Any) -> str:
    """How an actor is named in the log: an account by its email, an API token by its name.

    ``None`` means the command line (the operating-system user who ran it).
    """
    if actor is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return f"command line ({user})"
    if isinstance(actor, str):
        return actor
    email = getattr(actor, "email", None)
    if email:
        return str(email)
    token_hash = getattr(actor, "token_hash", None)
    name = getattr(actor, "name", None)
    if token_hash and name:
        return f"API token {name}"
    raise TypeError(f"cannot name {actor!r} in the audit log: pass an account, an API token, a string or None")


def _detail_text(detail: Mapping[str, Any] | str | None) -> str:
    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    return json.dumps(dict(detail), sort_keys=True, ensure_ascii=False, default=str)


def record(
    session: Session,
    actor: Any,
    action: str,
    target: str,
    detail: Mapping[str, Any] | str | None = None,
) -> AuditEvent:
    """Add one event to ``session``; it is stored when the caller commits its change.

    ``actor``: the signed-in account (``current_user``), an :class:`~perception.models.Account`,
    an API token, a label, or ``None`` for the command line. ``action``: dotted words naming the
    object then the verb, e.g. ``account.create``, ``wave.open``, ``responses.export``.
    ``target``: what was acted on, as a person reads it (an email, ``slug / wave``).
    ``detail``: a short string or a mapping (stored as JSON), never answers or respondents.
    """
    if not ACTION_PATTERN.match(action) or len(action) > 64:
        raise ValueError(f"audit action {action!r} must be dotted lowercase words such as 'wave.open'")
    event = AuditEvent(
        at=datetime.now(UTC),
        actor=actor_label(actor)[:254],
        action=action,
        target=str(target)[:200],
        detail=_detail_text(detail),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    """What the admins' page narrows the log to; empty fields do not filter."""

    action: str = ""
    actor: str = ""
    target: str = ""
    since: date | None = None
    until: date | None = None
    before_id: int | None = None


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def events(session: Session, wanted: AuditFilter, limit: int = PAGE_SIZE) -> list[AuditEvent]:
    """The newest events matching ``wanted``, newest first, ``limit`` at most.

    Pages follow each other by id (``before_id``), so a page stays right while events are added.
    """
    statement = select(AuditEvent)
    if wanted.action:
        statement = statement.where(AuditEvent.action == wanted.action)
    if wanted.actor:
        statement = statement.where(col(AuditEvent.actor).ilike(_contains(wanted.actor), escape="\\"))
    if wanted.target:
        statement = statement.where(col(AuditEvent.target).ilike(_contains(wanted.target), escape="\\"))
    if wanted.since:
        statement = statement.where(AuditEvent.at >= datetime.combine(wanted.since, time.min, UTC))
    if wanted.until and wanted.until < date.max:
        statement = statement.where(AuditEvent.at < datetime.combine(wanted.until + timedelta(days=1), time.min, UTC))
    if wanted.before_id is not None:
        statement = statement.where(col(AuditEvent.id) < wanted.before_id)
    statement = statement.order_by(col(AuditEvent.id).desc()).limit(limit)
    return list(session.exec(statement).all())


def known_actions(session: Session) -> Sequence[str]:
    """The actions the log holds, for the filter's list."""
    return list(session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all())
