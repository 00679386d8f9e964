"""Sending a wave's invitations and reminders in the background, on the task queue.

A task sends one batch: one database session, and one connection per channel (one SMTP login for
a hundred emails). Each message is claimed before it goes and marked after, each step committed:

    pending --claim--> sending --sent--> sent
                                 \\--> pending again, later (a temporary failure, with a growing delay)
                                 \\--> failed (refused for good, or too many attempts)

A worker killed between the claim and the mark leaves the message ``sending``; it is never sent
again (the person may have received it), and after ``DISPATCH_STALE_SECONDS`` it is marked
failed so that the page says so. Whatever was still pending is picked up by the next task: a
periodic task and every consumer's start look for due messages.

Consent is checked for each message as it goes, so an unsubscription made during a sending is
honoured at once, and a reminder never reaches someone who answered in the meantime.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask, url_for
from huey import Huey, crontab
from sqlalchemy import update
from sqlmodel import Session, func, select

from perception.contacts import unsubscribe_token
from perception.db import engine_of
from perception.invitations import invitation_token
from perception.models import Contact, ContactInvitation, Dispatch, DispatchItem, Invitation, Survey, Wave
from perception.responses import invitation_expired
from perception.surveys import items_of, one_click_item
from perception.types import Channel, Delivery, DeliveryError

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 60  # then 2, 4, 8 minutes
ERROR_LENGTH = 500
INTERRUPTED = "the worker stopped while sending; not sent again, so that nobody receives it twice"


@dataclass(frozen=True)
class BatchOutcome:
    sent: int
    failed: int
    skipped: int
    retry_later: int
    more_due: bool  # pending messages due now remain: send another batch at once
    next_attempt_at: datetime | None  # the earliest retry, when nothing is due now


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: one minute, then doubling."""
    return timedelta(seconds=BACKOFF_SECONDS * 2 ** max(0, attempts - 1))


def _finish(session: Session, item_id: int, **values: object) -> None:
    session.execute(update(DispatchItem).where(DispatchItem.id == item_id).values(**values))  # type: ignore[arg-type]
    session.commit()


def send_batch(app: Flask, dispatch_id: int, now: datetime | None = None) -> BatchOutcome:
    """Send up to ``DISPATCH_BATCH`` due messages of a dispatch (inside the application's context)."""
    now = now or _now()
    limit = int(app.config["DISPATCH_BATCH"])
    channels: dict[str, Channel] = app.extensions["perception"].registries.channels
    sent = failed = skipped = retry = 0
    # One connection for the batch: the session commits each step on it without giving it back
    # (on SQLite, closing the last connection checkpoints the journal: costly per message).
    with (
        engine_of(app).connect() as connection,
        Session(bind=connection, expire_on_commit=False) as session,
        ExitStack() as connections,
    ):
        dispatch = session.get(Dispatch, dispatch_id)
        if dispatch is None:
            return BatchOutcome(0, 0, 0, 0, False, None)
        wave = session.get(Wave, dispatch.wave_id)
        survey = session.get(Survey, wave.survey_id) if wave else None
        due = session.exec(
            select(DispatchItem.id)
            .where(
                DispatchItem.dispatch_id == dispatch_id,
                DispatchItem.state == "pending",
                DispatchItem.next_attempt_at <= now,  # type: ignore[operator]
            )
            .order_by(DispatchItem.id)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
        senders: dict[str, Callable[[Delivery], str]] = {}
        one_click = one_click_item(items_of(session, survey, wave)) if survey and wave else None
        base_url = app.config["BASE_URL"]
        with app.test_request_context(base_url=base_url or None):
            for item_id in due:
                claimed = session.execute(
                    update(DispatchItem)
                    .where(DispatchItem.id == item_id, DispatchItem.state == "pending")  # type: ignore[arg-type]
                    .values(state="sending", claimed_at=now, attempts=DispatchItem.attempts + 1)
                )
                session.commit()
                if claimed.rowcount != 1:  # another worker took it
                    continue
                row = session.exec(
                    select(DispatchItem, Invitation, ContactInvitation, Contact)
                    .join(Invitation, Invitation.id == DispatchItem.invitation_id)
                    .join(ContactInvitation, ContactInvitation.invitation_id == Invitation.id)
                    .join(Contact, Contact.id == ContactInvitation.contact_id, isouter=True)
                    .where(DispatchItem.id == item_id)
                ).first()
                if row is None or row[3] is None or wave is None or survey is None:
                    _finish(session, item_id, state="skipped", reason="forgotten")
                    skipped += 1
                    continue
                item, invitation, link, contact = row
                if contact.unsubscribed_at is not None:
                    _finish(session, item_id, state="skipped", reason="unsubscribed")
                    skipped += 1
                    continue
                if invitation.used:
                    _finish(session, item_id, state="skipped", reason="answered")
                    skipped += 1
                    continue
                if invitation_expired(invitation, now):
                    _finish(session, item_id, state="failed", error="the link expired before it could be sent")
                    failed += 1
                    continue
                channel = channels.get(link.channel)
                if channel is None:
                    _finish(session, item_id, state="failed", error=f"no channel named {link.channel!r} is installed")
                    failed += 1
                    continue
                if link.channel not in senders:
                    senders[link.channel] = connections.enter_context(channel.batch())
                address = contact.email if channel.address_kind == "email" else contact.phone
                language = contact.language
                title = getattr(survey, f"title_{language}", "") or survey.title_en or survey.title_fr
                delivery = Delivery(
                    url=url_for(
                        "respond.invitation",
                        token=invitation_token(app.config["SECRET_KEY"], link.salt),
                        lang=language,
                        _external=True,
                    ),
                    side=invitation.side,
                    language=language,
                    survey_title=title,
                    address=address,
                    unsubscribe_url=url_for(
                        "contacts.unsubscribe_page",
                        token=unsubscribe_token(app.config["SECRET_KEY"], contact.id),  # type: ignore[arg-type]
                        lang=language,
                        _external=True,
                    ),
                    expires_at=_aware(invitation.expires_at),
                    reminder=dispatch.purpose == "remind",
                    one_click_scale=one_click.scale if one_click else None,
                    one_click_question=one_click.wording(invitation.side, language) if one_click else None,
                )
                try:
                    senders[link.channel](delivery)
                except Exception as error:  # a channel's failure is the message's, never the batch's
                    permanent = isinstance(error, DeliveryError) and error.permanent
                    reason = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
                    if permanent or item.attempts >= MAX_ATTEMPTS:
                        _finish(session, item_id, state="failed", error=reason[:ERROR_LENGTH])
                        failed += 1
                    else:
                        _finish(
                            session,
                            item_id,
                            state="pending",
                            next_attempt_at=now + backoff(item.attempts),
                            error=reason[:ERROR_LENGTH],
                        )
                        retry += 1
                    continue
                session.execute(
                    update(ContactInvitation)
                    .where(ContactInvitation.invitation_id == invitation.id)  # type: ignore[arg-type]
                    .values(
                        last_sent_at=now,
                        reminders_sent=ContactInvitation.reminders_sent + (1 if dispatch.purpose == "remind" else 0),
                    )
                )
                _finish(session, item_id, state="sent", sent_at=now, error=None)
                sent += 1
        more_due, next_at = _due(session, dispatch_id, now)
    return BatchOutcome(sent, failed, skipped, retry, more_due, next_at)


def _due(session: Session, dispatch_id: int, now: datetime) -> tuple[bool, datetime | None]:
    earliest = session.exec(
        select(func.min(DispatchItem.next_attempt_at)).where(
            DispatchItem.dispatch_id == dispatch_id, DispatchItem.state == "pending"
        )
    ).one()
    if earliest is None:
        return False, None
    earliest = _aware(earliest)
    return (True, None) if earliest <= now else (False, earliest)


def resume(app: Flask, now: datetime | None = None) -> list[int]:
    """After a crash or a restart: mark messages stuck in ``sending`` failed, and name the dispatches
    with messages due, for the caller to queue."""
    now = now or _now()
    stale = now - timedelta(seconds=int(app.config["DISPATCH_STALE_SECONDS"]))
    with Session(engine_of(app)) as session:
        session.execute(
            update(DispatchItem)
            .where(DispatchItem.state == "sending", DispatchItem.claimed_at < stale)  # type: ignore[arg-type, operator]
            .values(state="failed", error=INTERRUPTED)
        )
        session.commit()
        return list(
            session.exec(
                select(DispatchItem.dispatch_id)
                .where(DispatchItem.state == "pending", DispatchItem.next_attempt_at <= now)  # type: ignore[operator]
                .distinct()
            )
        )


def register_tasks(app: Flask, queue: Huey) -> None:
    """The dispatch tasks of one application's queue."""

    @queue.task(name="perception.send_dispatch")
    def send_dispatch(dispatch_id: int) -> None:
        with app.app_context():
            outcome = send_batch(app, dispatch_id)
        if outcome.more_due:
            send_dispatch(dispatch_id)
        elif outcome.next_attempt_at is not None:
            send_dispatch.schedule((dispatch_id,), eta=outcome.next_attempt_at)

    @queue.periodic_task(crontab(minute="*"), name="perception.resume_dispatches")
    def resume_dispatches() -> None:
        with app.app_context():
            for dispatch_id in resume(app):
                send_dispatch(dispatch_id)

    @queue.on_startup(name="perception.resume_dispatches_on_start")
    def resume_on_start() -> None:
        resume_dispatches()

    app.extensions["perception_dispatch"] = send_dispatch


def start_dispatch(app: Flask, dispatch: Dispatch) -> None:
    """Hand a committed dispatch to the queue (sent at once when the queue is immediate)."""
    app.extensions["perception_dispatch"](dispatch.id)
