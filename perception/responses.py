"""Recording a response: check every answer, use the link once, store all or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from perception.models import (
    Answer,
    CallbackRequest,
    Invitation,
    InvitationSegment,
    Item,
    Response,
    ResponseSegment,
    Survey,
    Wave,
)
from perception.scales import MAX_TEXT_LENGTH, SCALES
from perception.tasks import emit
from perception.types import SIDES, ResponseSubmitted
from perception.waves import today


class ResponseError(ValueError):
    """The answers were refused; ``problems`` maps each item key at fault to its reason."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in self.problems.items()))


class LinkUsed(Exception):
    """The one-time link has been used already (perhaps a moment ago, by a racing request)."""


@dataclass(frozen=True)
class CheckedAnswer:
    item: Item
    value: int | None
    text: str | None


def check_answers(items: list[Item], raw: Mapping[str, object]) -> list[CheckedAnswer]:
    """Check raw answers (item key to value or text); raise ResponseError naming each fault."""
    problems: dict[str, str] = {}
    checked: list[CheckedAnswer] = []
    known = {item.key for item in items}
    for key in raw:
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
        try:
            value = int(str(answer))
        except ValueError:
            problems[item.key] = f"{answer!r} is not a whole number"
            continue
        if value not in scale.values:
            problems[item.key] = f"{value} is outside the scale ({scale.low} to {scale.high})"
            continue
        checked.append(CheckedAnswer(item, value, None))
    if problems:
        raise ResponseError(problems)
    return checked


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
) -> Response:
    """Store the response and use up its link in one transaction, then tell the plugins.

    ``callback`` is a customer's consent to be contacted: how (email or phone) and where.
    """
    if side not in SIDES:
        raise ValueError(f"side must be customer or employee, not {side!r}")
    if callback is not None and side != "customer":
        raise ValueError("only a customer can ask to be contacted: employees stay anonymous")
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
    response = Response(
        wave_id=wave.id,
        side=side,
        submitted_on=today(),
        language=None if anonymous else language,
        invitation_id=None if anonymous or invitation is None else invitation.id,
    )
    session.add(response)
    session.flush()
    session.add_all(
        Answer(
            response_id=response.id,
            item_id=answer.item.id,
            wave_id=wave.id,
            side=side,
            value=answer.value,
            text=answer.text,
        )
        for answer in answers
    )
    session.add_all(
        ResponseSegment(response_id=response.id, attribute_id=attribute_id, value_id=value_id)
        for attribute_id, value_id in (segments or {}).items()
    )
    if callback is not None:
        session.add(CallbackRequest(response_id=response.id, how=callback[0], address=callback[1]))  # type: ignore[arg-type]
    session.commit()
    emit(
        app,
        "perception_response_submitted",
        ResponseSubmitted(
            survey_slug=survey.slug,
            wave_name=wave.name,
            side=side,
            submitted_on=response.submitted_on,
            answers={a.item.key: a.value if a.text is None else a.text for a in answers},
            response_id=None if anonymous else response.id,
        ),
    )
    return response


def invitation_expired(invitation: Invitation, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    expires_at = invitation.expires_at
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at <= now
