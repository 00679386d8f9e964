"""Hot surveys from other systems: one invitation, sent right after an interaction (`invitations:send`)."""

from __future__ import annotations

from typing import Literal

from flask import current_app
from pydantic import BaseModel, Field

from perception.db import get_session
from perception.dispatch import start_dispatch
from perception.invitations import InvitationError, invite_one
from perception.models import Wave
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
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise ApiProblem(404, f"path.wave_id: no wave {wave_id}")
    channels = current_app.extensions["perception"].registries.channels
    if body.channel not in channels:
        raise ApiProblem(422, f"body.channel: no channel {body.channel!r} (installed: {', '.join(sorted(channels))})")
    segments = dict(body.segments)
    if body.touchpoint:
        segments["touchpoint"] = body.touchpoint
    try:
        result = invite_one(
            current_app, session, wave, body.side, channels[body.channel], email=body.contact.email,
            phone=body.contact.phone, language=body.contact.language, segments=segments,
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
