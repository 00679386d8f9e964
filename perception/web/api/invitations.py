"""Invitations from other systems (`invitations:send`): one for a hot survey, sent right after an
interaction, or a list of them at once."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from flask import current_app
from pydantic import BaseModel, Field

from perception.db import get_session
from perception.dispatch import start_dispatch
from perception.invitations import InvitationError, InviteesError, invite_many, invite_one
from perception.models import Wave
from perception.types import Channel
from perception.web.api.base import ApiProblem, operation


class ContactIn(BaseModel):
    email: str | None = Field(default=None, max_length=254, description="Needed by the email channel.")
    phone: str | None = Field(default=None, max_length=32, description="E.164, e.g. +33612345678; needed by sms.")
    language: str | None = Field(default=None, max_length=16, description="en or fr; kept from before when absent.")


class InvitationIn(BaseModel):
    contact: ContactIn
    channel: str = Field(default="email", max_length=32, description="A channel that reaches contacts: email, sms.")
    side: Literal["customer", "employee"] = "customer"
    touchpoint: str | None = Field(
        default=None,
        max_length=64,
        description="The interaction that just happened, a value of the `touchpoint` segment.",
    )
    segments: dict[str, str] = Field(
        default_factory=dict, description='Other customer segment values, e.g. {"region": "North"}.'
    )


class InvitationOut(BaseModel):
    dispatch_id: int
    contact_id: int
    state: Literal["pending", "skipped"] = Field(description="pending: queued to send; skipped: see `reason`.")
    reason: Literal["recent", "unsubscribed"] | None = Field(
        description="recent: invited within the contact-frequency window; unsubscribed: the person said no."
    )


@operation(
    "POST",
    "/waves/<int:wave_id>/invitations",
    summary="Send one invitation through a channel",
    tag="invitations",
    scope="invitations:send",
    body=InvitationIn,
    response=InvitationOut,
    status=202,
    extra_statuses=(404, 422),
    description="The contact is found by address or added. Consent and the contact-frequency rule apply: a "
    "person who unsubscribed or was invited recently is skipped, and the answer says why. The message is "
    "sent in the background; the wave's sending page shows it.",
)
def send_invitation(wave_id: int, body: InvitationIn) -> InvitationOut:
    session = get_session()
    wave = _wave_or_404(wave_id)
    try:
        result = invite_one(
            current_app, session, wave, body.side, _channel(body.channel), email=body.contact.email,
            phone=body.contact.phone, language=body.contact.language, segments=_segments(body),
        )  # fmt: skip
    except InvitationError as error:
        session.rollback()
        raise ApiProblem(422, str(error)) from None
    session.commit()
    if result.state == "pending":
        start_dispatch(current_app, result.dispatch)
    return InvitationOut(
        dispatch_id=result.dispatch.id,  # type: ignore[arg-type]
        contact_id=result.contact_id,
        state=result.state,  # type: ignore[arg-type]
        reason=result.reason,  # type: ignore[arg-type]
    )


def _wave_or_404(wave_id: int) -> Wave:
    wave = get_session().get(Wave, wave_id)
    if wave is None:
        raise ApiProblem(404, f"path.wave_id: no wave {wave_id}")
    return wave


def _channel(name: str) -> Channel:
    channels = current_app.extensions["perception"].registries.channels
    if name not in channels:
        raise ApiProblem(422, f"body.channel: no channel {name!r} (installed: {', '.join(sorted(channels))})")
    return channels[name]


def _segments(entry: InvitationIn | InviteeIn) -> dict[str, str]:
    segments = dict(entry.segments)
    if entry.touchpoint:
        segments["touchpoint"] = entry.touchpoint
    return segments


MAX_BULK = 500


class InviteeIn(ContactIn):
    touchpoint: str | None = Field(
        default=None, max_length=64, description="The interaction, a value of the `touchpoint` segment."
    )
    segments: dict[str, str] = Field(default_factory=dict, description="Other customer segment values.")


class BulkInvitationsIn(BaseModel):
    contacts: list[InviteeIn] = Field(min_length=1, max_length=MAX_BULK, description="The people to invite.")
    channel: str = Field(default="email", max_length=32, description="A channel that reaches contacts: email, sms.")
    side: Literal["customer", "employee"] = "customer"


class BulkInvitationOut(BaseModel):
    contact_id: int
    state: Literal["pending", "skipped"]
    reason: Literal["recent", "unsubscribed"] | None


class BulkInvitationsOut(BaseModel):
    dispatch_id: int
    pending: int = Field(description="Invitations queued to send.")
    skipped: dict[str, int] = Field(description="Invitations not sent, counted by reason.")
    results: list[BulkInvitationOut] = Field(description="One per contact, in the order they came.")


@operation(
    "POST",
    "/waves/<int:wave_id>/invitations/bulk",
    summary="Send invitations to a list of contacts",
    tag="invitations",
    scope="invitations:send",
    body=BulkInvitationsIn,
    response=BulkInvitationsOut,
    status=202,
    extra_statuses=(404, 422),
    description=f"Up to {MAX_BULK} contacts, all or none: when any entry is invalid nothing is sent, and the "
    "`errors` of the answer name each bad entry by its index (`body.contacts[3]`). Each contact is found by "
    "address or added; consent and the contact-frequency rule apply to each, as for one invitation (a "
    "person listed twice is invited once). The messages go in the background, as one sending on the "
    "wave's sending page.",
)
def send_invitations(wave_id: int, body: BulkInvitationsIn) -> BulkInvitationsOut:
    session = get_session()
    wave = _wave_or_404(wave_id)
    people = [
        {"email": entry.email, "phone": entry.phone, "language": entry.language, "segments": _segments(entry)}
        for entry in body.contacts
    ]
    try:
        results = invite_many(current_app, session, wave, body.side, _channel(body.channel), people)
    except InviteesError as error:
        session.rollback()
        errors = [{"field": f"body.contacts[{index}]", "message": message} for index, message in error.problems.items()]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ApiProblem(422, f"{errors[0]['field']}: {errors[0]['message']}{more}; nothing was sent", errors) from None
    except InvitationError as error:
        session.rollback()
        raise ApiProblem(422, str(error)) from None
    session.commit()
    pending = sum(result.state == "pending" for result in results)
    if pending:
        start_dispatch(current_app, results[0].dispatch)
    return BulkInvitationsOut(
        dispatch_id=results[0].dispatch.id,  # type: ignore[arg-type]
        pending=pending,
        skipped=dict(Counter(result.reason for result in results if result.reason)),
        results=[
            BulkInvitationOut(contact_id=result.contact_id, state=result.state, reason=result.reason)  # type: ignore[arg-type]
            for result in results
        ],
    )
