"""Invitations to contacts: who is invited to a wave, when they are reminded, and who is left alone.

Over-surveyed people stop answering, so three rules decide who is invited:

* nobody who unsubscribed, whatever the channel;
* the contact-frequency rule: nobody invited to any wave, through any channel, within the last
  ``FREQUENCY_HOT_DAYS`` (a hot wave) or ``FREQUENCY_COLD_DAYS`` (a cold one); reminders are exempt;
* a barometer invites a random share or number of the contacts left (a quarter of the base each
  quarter).

Everyone left out is counted, by reason, on the wave's sending page. A reminder goes only to people
whose link is unused and still valid, at most ``REMINDER_MAX`` times, ``REMINDER_DAYS`` apart.

Each invitation's token (160 bits) is derived from a random salt with the secret key: a reminder
sends the same link again, and the database holds only the salt and the token's hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Connection, and_, exists, insert, or_, update
from sqlmodel import Session, func, select

from perception.alerts import KnownAddresses
from perception.models import (
    Contact,
    ContactInvitation,
    ContactSegment,
    Dispatch,
    DispatchItem,
    Invitation,
    InvitationSegment,
    SegmentAttribute,
    SegmentValue,
    Wave,
)
from perception.types import SIDES, Channel
from perception.waves import hash_token

SKIP_REASONS: tuple[str, ...] = ("recent", "unsubscribed", "no_address", "answered")
CHUNK_ROWS = 5000


class InvitationError(ValueError):
    """Invitations cannot be sent as asked."""


def invitation_token(secret_key: str, salt: str) -> str:
    """The one-time link's token: 160 bits, unguessable without the secret key and the salt."""
    digest = hmac.new(secret_key.encode(), f"invitation:{salt}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest[:20]).decode().rstrip("=")


@dataclass(frozen=True)
class Sample:
    """Which share (0 < share <= 1) or number of the eligible contacts to invite; everyone by default."""

    share: float | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if self.share is not None and self.size is not None:
            raise InvitationError("choose a share or a number of contacts, not both")
        if self.share is not None and not 0 < self.share <= 1:
            raise InvitationError(f"the share of contacts must be above 0% and at most 100%, not {self.share:.0%}")
        if self.size is not None and self.size < 1:
            raise InvitationError(f"the number of contacts must be at least 1, not {self.size}")

    def of(self, eligible: int) -> int:
        if self.share is not None:
            return round(eligible * self.share)
        if self.size is not None:
            return min(self.size, eligible)
        return eligible

    def __str__(self) -> str:
        if self.share is not None:
            return f"{self.share:.0%}"
        if self.size is not None:
            return str(self.size)
        return ""


def frequency_days(app: Flask, wave: Wave) -> int:
    return int(app.config["FREQUENCY_HOT_DAYS"] if wave.kind == "hot" else app.config["FREQUENCY_COLD_DAYS"])


def _address_column(channel: Channel):  # type: ignore[no-untyped-def]
    if channel.address_kind == "email":
        return Contact.email
    if channel.address_kind == "phone":
        return Contact.phone
    raise InvitationError(
        f"the {channel.name} channel hands a link to the lead; it does not send to contacts (choose email or sms)"
    )


def _insert_returning_ids(connection: Connection, table, rows: list[dict[str, object]]) -> list[int]:  # type: ignore[no-untyped-def]
    if connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids: list[int] = []
        for start in range(0, len(rows), CHUNK_ROWS):
            ids.extend(connection.execute(statement, rows[start : start + CHUNK_ROWS]).scalars())
        return ids
    return [connection.execute(insert(table), row).inserted_primary_key[0] for row in rows]  # type: ignore[index]


def _bulk(connection: Connection, table, rows: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(rows), CHUNK_ROWS):
        connection.execute(insert(table), rows[start : start + CHUNK_ROWS])


def customer_segments(session: Session, wave: Wave, values: Mapping[str, str]) -> dict[int, int]:
    """Segment values by name (``{"touchpoint": "delivery"}``) as the wave's survey's ids, checked."""
    resolved: dict[int, int] = {}
    for name, value in values.items():
        row = session.exec(
            select(SegmentAttribute.id, SegmentValue.id)
            .join(SegmentValue, SegmentValue.attribute_id == SegmentAttribute.id)
            .where(
                SegmentAttribute.survey_id == wave.survey_id,
                SegmentAttribute.side == "customer",
                SegmentAttribute.name == name,
                func.lower(SegmentValue.value) == str(value).strip().lower(),
            )
        ).first()
        if row is None:
            known = session.exec(
                select(SegmentValue.value)
                .join(SegmentAttribute, SegmentAttribute.id == SegmentValue.attribute_id)
                .where(
                    SegmentAttribute.survey_id == wave.survey_id,
                    SegmentAttribute.side == "customer",
                    SegmentAttribute.name == name,
                )
            ).all()
            if not known:
                raise InvitationError(f"the survey has no customer segment {name!r}")
            raise InvitationError(f"{value!r} is not a value of {name} (it has: {', '.join(known)})")
        resolved[row[0]] = row[1]
    return resolved


def plan_invitations(
    app: Flask,
    session: Session,
    wave: Wave,
    side: str,
    channel: Channel,
    sample: Sample = Sample(),
    created_by: int | None = None,
    now: datetime | None = None,
) -> Dispatch:
    """Choose the contacts to invite, make their links and queue one message each, in one transaction.

    The choice is made in SQL; the links and messages are bulk inserts, so a base of a hundred
    thousand contacts is planned in seconds. The caller commits, then hands the dispatch to the queue.
    """
    if side not in SIDES:
        raise InvitationError(f"side must be customer or employee, not {side!r}")
    if wave.state == "closed":
        raise InvitationError(f"wave {wave.name!r} is closed")
    if not app.config.get("BASE_URL"):
        raise InvitationError("set PERCEPTION_BASE_URL: the links in messages need the public address of the site")
    address = _address_column(channel)
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=frequency_days(app, wave))
    already = exists().where(
        ContactInvitation.contact_id == Contact.id,
        ContactInvitation.invitation_id == Invitation.id,
        Invitation.wave_id == wave.id,
    )
    base = and_(Contact.kind == side, ~already)
    dispatch = Dispatch(
        wave_id=wave.id, side=side, channel=channel.name, purpose="invite", sample=str(sample), created_at=now,
        created_by=created_by,
    )  # fmt: skip
    session.add(dispatch)
    session.flush()
    skipped = {
        "unsubscribed": and_(base, Contact.unsubscribed_at.is_not(None)),  # type: ignore[union-attr]
        "no_address": and_(base, Contact.unsubscribed_at.is_(None), address.is_(None)),  # type: ignore[union-attr]
        "recent": and_(
            base,
            Contact.unsubscribed_at.is_(None),  # type: ignore[union-attr]
            address.is_not(None),  # type: ignore[union-attr]
            Contact.last_invited_at.is_not(None),  # type: ignore[union-attr]
            Contact.last_invited_at >= cutoff,  # type: ignore[operator]
        ),
    }
    connection = session.connection()
    item_table = DispatchItem.__table__  # type: ignore[attr-defined]
    for reason, condition in skipped.items():
        ids = list(session.exec(select(Contact.id).where(condition)))
        _bulk(
            connection,
            item_table,
            [
                {"dispatch_id": dispatch.id, "contact_id": contact_id, "state": "skipped", "reason": reason}
                for contact_id in ids
            ],
        )
    eligible = and_(
        base,
        Contact.unsubscribed_at.is_(None),  # type: ignore[union-attr]
        address.is_not(None),  # type: ignore[union-attr]
        or_(Contact.last_invited_at.is_(None), Contact.last_invited_at < cutoff),  # type: ignore[union-attr, operator]
    )
    count = session.exec(select(func.count(Contact.id)).where(eligible)).one()
    statement = select(Contact.id).where(eligible)
    chosen_count = sample.of(count)
    if chosen_count < count:
        statement = statement.order_by(func.random()).limit(chosen_count)
    chosen = list(session.exec(statement))
    expires_at = now + timedelta(days=int(app.config["LINK_DAYS"]))
    secret = app.config["SECRET_KEY"]
    salts = [secrets.token_urlsafe(16) for _ in chosen]
    invitation_ids = _insert_returning_ids(
        connection,
        Invitation.__table__,  # type: ignore[attr-defined]
        [
            {"wave_id": wave.id, "side": side, "token_hash": hash_token(invitation_token(secret, salt)),
             "created_at": now, "expires_at": expires_at, "used": False}
            for salt in salts
        ],
    )  # fmt: skip
    _bulk(
        connection,
        ContactInvitation.__table__,  # type: ignore[attr-defined]
        [
            {"invitation_id": invitation_id, "contact_id": contact_id, "channel": channel.name, "salt": salt,
             "reminders_sent": 0}
            for invitation_id, contact_id, salt in zip(invitation_ids, chosen, salts, strict=True)
        ],
    )  # fmt: skip
    if side == "customer":
        _copy_contact_segments(session, wave, dict(zip(chosen, invitation_ids, strict=True)))
    _bulk(
        connection,
        item_table,
        [
            {"dispatch_id": dispatch.id, "invitation_id": invitation_id, "contact_id": contact_id, "state": "pending",
             "attempts": 0, "next_attempt_at": now}
            for invitation_id, contact_id in zip(invitation_ids, chosen, strict=True)
        ],
    )  # fmt: skip
    contact_table = Contact.__table__  # type: ignore[attr-defined]
    for start in range(0, len(chosen), CHUNK_ROWS):
        connection.execute(
            update(contact_table)
            .where(contact_table.c.id.in_(chosen[start : start + CHUNK_ROWS]))
            .values(last_invited_at=now)
        )
    return dispatch


def _copy_contact_segments(session: Session, wave: Wave, invitations_by_contact: Mapping[int, int]) -> None:
    """A customer's segment values (by name on the contact) become the invitation's, for the wave's survey."""
    if not invitations_by_contact:
        return
    statement = (
        select(ContactSegment.contact_id, SegmentAttribute.id, SegmentValue.id)
        .join(SegmentAttribute, SegmentAttribute.name == ContactSegment.name)
        .join(
            SegmentValue,
            and_(SegmentValue.attribute_id == SegmentAttribute.id, SegmentValue.value == ContactSegment.value),
        )
        .where(SegmentAttribute.survey_id == wave.survey_id, SegmentAttribute.side == "customer")
    )
    rows = [
        {"invitation_id": invitations_by_contact[contact_id], "attribute_id": attribute_id, "value_id": value_id}
        for contact_id, attribute_id, value_id in session.exec(statement)
        if contact_id in invitations_by_contact
    ]
    _bulk(session.connection(), InvitationSegment.__table__, rows)  # type: ignore[attr-defined]


def plan_reminders(
    app: Flask,
    session: Session,
    wave: Wave,
    side: str,
    created_by: int | None = None,
    now: datetime | None = None,
) -> Dispatch:
    """Queue a reminder for each unused, valid link of the wave's side whose last message is old enough.

    Nobody who answered or unsubscribed is reminded, nobody more than ``REMINDER_MAX`` times, and
    nobody within ``REMINDER_DAYS`` of their last message. Each reminder goes through the channel
    of its invitation; a dispatch groups the reminders of the wave's side.
    """
    if wave.state != "open":
        raise InvitationError(f"wave {wave.name!r} is not open; reminders go to open waves")
    now = now or datetime.now(UTC)
    maximum = int(app.config["REMINDER_MAX"])
    due_before = now - timedelta(days=int(app.config["REMINDER_DAYS"]))
    pending_reminder = exists().where(
        DispatchItem.invitation_id == Invitation.id,
        DispatchItem.state.in_(("pending", "sending")),  # type: ignore[attr-defined]
    )
    candidates = (
        select(Invitation.id, ContactInvitation.contact_id, ContactInvitation.channel, Invitation.used,
               Contact.unsubscribed_at)
        .join(ContactInvitation, ContactInvitation.invitation_id == Invitation.id)
        .join(Contact, Contact.id == ContactInvitation.contact_id)
        .where(
            Invitation.wave_id == wave.id,
            Invitation.side == side,
            Invitation.expires_at > now,
            ContactInvitation.last_sent_at.is_not(None),  # type: ignore[union-attr]
            ContactInvitation.last_sent_at <= due_before,  # type: ignore[operator]
            ContactInvitation.reminders_sent < maximum,
            ~pending_reminder,
        )
    )  # fmt: skip
    rows = list(session.exec(candidates))
    channels = sorted({row[2] for row in rows}) or ["email"]
    dispatch = Dispatch(
        wave_id=wave.id, side=side, channel=",".join(channels), purpose="remind", sample="", created_at=now,
        created_by=created_by,
    )  # fmt: skip
    session.add(dispatch)
    session.flush()
    items = []
    for invitation_id, contact_id, _channel, used, unsubscribed_at in rows:
        state, reason = "pending", None
        if used:
            state, reason = "skipped", "answered"
        elif unsubscribed_at is not None:
            state, reason = "skipped", "unsubscribed"
        items.append(
            {"dispatch_id": dispatch.id, "invitation_id": invitation_id, "contact_id": contact_id, "state": state,
             "reason": reason, "attempts": 0, "next_attempt_at": now if state == "pending" else None}
        )  # fmt: skip
    _bulk(session.connection(), DispatchItem.__table__, items)  # type: ignore[attr-defined]
    return dispatch


@dataclass(frozen=True)
class Progress:
    """Where one dispatch stands, counted in SQL."""

    dispatch: Dispatch
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: Mapping[str, int]

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def running(self) -> bool:
        return bool(self.pending or self.sending)


def progress(session: Session, wave: Wave) -> list[Progress]:
    """Each dispatch of the wave, newest first, with its messages counted by state (one GROUP BY)."""
    dispatches = session.exec(
        select(Dispatch).where(Dispatch.wave_id == wave.id).order_by(Dispatch.id.desc())  # type: ignore[union-attr]
    ).all()
    counts: dict[int, dict[tuple[str, str | None], int]] = {}
    for dispatch_id, state, reason, count in session.exec(
        select(DispatchItem.dispatch_id, DispatchItem.state, DispatchItem.reason, func.count(DispatchItem.id))
        .join(Dispatch, Dispatch.id == DispatchItem.dispatch_id)
        .where(Dispatch.wave_id == wave.id)
        .group_by(DispatchItem.dispatch_id, DispatchItem.state, DispatchItem.reason)
    ):
        counts.setdefault(dispatch_id, {})[(state, reason)] = count
    result = []
    for dispatch in dispatches:
        by_state = counts.get(dispatch.id, {})  # type: ignore[arg-type]

        def total(state: str, by_state: Mapping[tuple[str, str | None], int] = by_state) -> int:
            return sum(count for (name, _), count in by_state.items() if name == state)

        result.append(
            Progress(
                dispatch=dispatch,
                pending=total("pending"),
                sending=total("sending"),
                sent=total("sent"),
                failed=total("failed"),
                skipped={reason or "": count for (state, reason), count in by_state.items() if state == "skipped"},
            )
        )
    return result


def invited_addresses(session: Session, invitation: Invitation | None) -> KnownAddresses | None:
    """The email and phone on record for the customer a one-time link was sent to; None for a link
    sent to nobody on record (issued by hand, or its contact since forgotten) or to an employee."""
    if invitation is None or invitation.side != "customer":
        return None
    row = session.exec(
        select(Contact.email, Contact.phone)
        .join(ContactInvitation, ContactInvitation.contact_id == Contact.id)
        .where(ContactInvitation.invitation_id == invitation.id, Contact.kind == "customer")
    ).first()
    return KnownAddresses(email=row[0], phone=row[1]) if row is not None else None


@dataclass(frozen=True)
class SingleInvitation:
    dispatch: Dispatch
    contact_id: int
    state: str  # "pending" (queued to send) or "skipped"
    reason: str | None


@dataclass(frozen=True)
class Invitee:
    """One person to invite, checked: addresses normalised, segment values resolved for the survey."""

    email: str | None
    phone: str | None
    language: str | None
    segments: Mapping[int, int]


def _check_sending(app: Flask, wave: Wave, side: str, channel: Channel) -> None:
    if side not in SIDES:
        raise InvitationError(f"side must be customer or employee, not {side!r}")
    if wave.state != "open":
        raise InvitationError(f"wave {wave.name!r} is not open")
    if not app.config.get("BASE_URL"):
        raise InvitationError("set PERCEPTION_BASE_URL: the links in messages need the public address of the site")
    _address_column(channel)


def check_invitee(
    session: Session,
    wave: Wave,
    side: str,
    channel: Channel,
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    segments: Mapping[str, str] | None = None,
) -> Invitee:
    """The person as they will be invited, or `InvitationError` saying what is wrong; writes nothing."""
    from perception.contacts import ContactError, normalise_email, normalise_language, normalise_phone

    try:
        email = normalise_email(email) if email else None
        phone = normalise_phone(phone) if phone else None
        language = normalise_language(language) if language else None
    except ContactError as error:
        raise InvitationError(str(error)) from None
    needed = email if channel.address_kind == "email" else phone
    if not needed:
        raise InvitationError(f"the {channel.name} channel needs the contact's {channel.address_kind}")
    if segments and side == "employee":
        raise InvitationError("an employee invitation carries no segment values: employees choose their own")
    return Invitee(email, phone, language, customer_segments(session, wave, segments or {}))


def _invite(
    app: Flask, session: Session, wave: Wave, side: str, channel: Channel, dispatch: Dispatch, invitee: Invitee,
    now: datetime,
) -> SingleInvitation:  # fmt: skip
    """Find or add the contact, then queue its message on `dispatch`, or record why it is skipped."""
    contact = None
    if invitee.email:
        contact = session.exec(select(Contact).where(Contact.kind == side, Contact.email == invitee.email)).first()
    if contact is None and invitee.phone:
        contact = session.exec(select(Contact).where(Contact.kind == side, Contact.phone == invitee.phone)).first()
    if contact is None:
        contact = Contact(
            kind=side, email=invitee.email, phone=invitee.phone, language=invitee.language or "en", created_at=now
        )
        session.add(contact)
    else:
        contact.email = contact.email or invitee.email  # found by phone: nobody else has this email
        if contact.phone is None and invitee.phone:  # found by email: the phone may be another contact's
            taken = session.exec(select(Contact.id).where(Contact.kind == side, Contact.phone == invitee.phone)).first()
            contact.phone = None if taken else invitee.phone
        contact.language = invitee.language or contact.language
    session.flush()
    reason = None
    already = session.exec(
        select(func.count(ContactInvitation.invitation_id))
        .join(Invitation, Invitation.id == ContactInvitation.invitation_id)
        .where(ContactInvitation.contact_id == contact.id, Invitation.wave_id == wave.id)
    ).one()
    last = contact.last_invited_at
    if contact.unsubscribed_at is not None:
        reason = "unsubscribed"
    elif (
        last is not None
        and (last if last.tzinfo else last.replace(tzinfo=UTC)) >= now - timedelta(days=frequency_days(app, wave))
    ) or already:
        reason = "recent"
    if reason is not None:
        session.add(DispatchItem(dispatch_id=dispatch.id, contact_id=contact.id, state="skipped", reason=reason))
        session.flush()
        return SingleInvitation(dispatch, contact.id, "skipped", reason)  # type: ignore[arg-type]
    salt = secrets.token_urlsafe(16)
    invitation = Invitation(
        wave_id=wave.id, side=side, token_hash=hash_token(invitation_token(app.config["SECRET_KEY"], salt)),
        created_at=now, expires_at=now + timedelta(days=int(app.config["LINK_DAYS"])), used=False,
    )  # fmt: skip
    session.add(invitation)
    session.flush()
    session.add(ContactInvitation(invitation_id=invitation.id, contact_id=contact.id, channel=channel.name, salt=salt))  # type: ignore[arg-type]
    session.add_all(
        InvitationSegment(invitation_id=invitation.id, attribute_id=attribute_id, value_id=value_id)  # type: ignore[arg-type]
        for attribute_id, value_id in invitee.segments.items()
    )
    session.add(
        DispatchItem(
            dispatch_id=dispatch.id, invitation_id=invitation.id, contact_id=contact.id, state="pending",
            attempts=0, next_attempt_at=now,
        )
    )  # fmt: skip
    contact.last_invited_at = now
    session.flush()
    return SingleInvitation(dispatch, contact.id, "pending", None)  # type: ignore[arg-type]


def invite_one(
    app: Flask,
    session: Session,
    wave: Wave,
    side: str,
    channel: Channel,
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    segments: Mapping[str, str] | None = None,
) -> SingleInvitation:
    """One invitation, for a hot survey triggered by another system right after an interaction.

    The contact is found by address, or added; the same rules as a wave's sending apply (consent,
    contact frequency). Segment values (the touchpoint among them) are checked against the wave's
    survey and carried to the response. The caller commits, then hands the dispatch to the queue.
    """
    _check_sending(app, wave, side, channel)
    invitee = check_invitee(session, wave, side, channel, email, phone, language, segments)
    now = datetime.now(UTC)
    dispatch = Dispatch(wave_id=wave.id, side=side, channel=channel.name, purpose="invite", created_at=now)
    session.add(dispatch)
    session.flush()
    return _invite(app, session, wave, side, channel, dispatch, invitee, now)


class InviteesError(InvitationError):
    """Some people of a list cannot be invited: `problems` maps each one's index to what is wrong."""

    def __init__(self, problems: Mapping[int, str]) -> None:
        self.problems = dict(problems)
        first = min(self.problems)
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"entry {first}: {self.problems[first]}{more}")


def invite_many(
    app: Flask,
    session: Session,
    wave: Wave,
    side: str,
    channel: Channel,
    people: Sequence[Mapping[str, Any]],
) -> list[SingleInvitation]:
    """A list of invitations in one dispatch, all or none: every person is checked before any is written.

    Each entry takes `invite_one`'s keywords (`email`, `phone`, `language`, `segments`) and the same
    rules apply to each (consent, contact frequency; a person listed twice is invited once). Raises
    `InviteesError` naming every bad entry by its index. The caller commits, then hands the
    dispatch to the queue.
    """
    _check_sending(app, wave, side, channel)
    invitees: list[Invitee] = []
    problems: dict[int, str] = {}
    for index, person in enumerate(people):
        try:
            invitees.append(check_invitee(session, wave, side, channel, **person))
        except InvitationError as error:
            problems[index] = str(error)
    if problems:
        raise InviteesError(problems)
    now = datetime.now(UTC)
    dispatch = Dispatch(wave_id=wave.id, side=side, channel=channel.name, purpose="invite", created_at=now)
    session.add(dispatch)
    session.flush()
    return [_invite(app, session, wave, side, channel, dispatch, invitee, now) for invitee in invitees]
