"""Notifications: what became of the ideas an account follows, in the app and, if it accepts, by email."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask
from flask_babel import force_locale, gettext
from sqlalchemy import update
from sqlmodel import Session, func, select

from perception.bidi import isolate_text
from perception.db import session_scope
from perception.hookspecs import hookimpl
from perception.ideas import now
from perception.mail import MailError, MailSettings, build_message, mail_configured, mail_connection, render_mail
from perception.models import Account, Idea, IdeaDecision, Notification, NotificationSetting
from perception.types import IdeaStateChanged


@dataclass(frozen=True)
class Shown:
    notification: Notification
    decision: IdeaDecision
    idea: Idea


def unread_count(session: Session, account_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.account_id == account_id, Notification.read_at.is_(None))  # type: ignore[union-attr]
    ).one()


def notifications_of(session: Session, account_id: int, limit: int = 100) -> list[Shown]:
    """An account's notifications, newest first, with the decision and idea each is about."""
    rows = session.exec(
        select(Notification, IdeaDecision, Idea)
        .join(IdeaDecision, IdeaDecision.id == Notification.decision_id)
        .join(Idea, Idea.id == IdeaDecision.idea_id)
        .where(Notification.account_id == account_id)
        .order_by(Notification.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    ).all()
    return [Shown(notification=n, decision=d, idea=i) for n, d, i in rows]


def mark_all_read(session: Session, account_id: int) -> None:
    session.exec(  # type: ignore[call-overload]
        update(Notification)
        .where(Notification.account_id == account_id, Notification.read_at.is_(None))  # type: ignore[union-attr]
        .values(read_at=now())
    )


def accepts_email(session: Session, account_id: int) -> bool:
    setting = session.get(NotificationSetting, account_id)
    return bool(setting and setting.email)


def set_email(session: Session, account_id: int, accept: bool) -> None:
    setting = session.get(NotificationSetting, account_id) or NotificationSetting(account_id=account_id)
    setting.email = accept
    session.add(setting)
    session.flush()


def pending_emails(session: Session, decision_id: int) -> Sequence[Notification]:
    """The decision's notifications not emailed yet, for accounts that accept email."""
    return session.exec(
        select(Notification)
        .join(NotificationSetting, NotificationSetting.account_id == Notification.account_id)
        .where(
            Notification.decision_id == decision_id,
            Notification.emailed_at.is_(None),  # type: ignore[union-attr]
            NotificationSetting.email == True,  # noqa: E712
        )
    ).all()


# Email: sent from the queue once the decision is committed, to the followers who accept it, each
# in their own language. A failure the server may get over is raised, so the queue tries again;
# messages already sent are marked, so a retry sends each one once.


@hookimpl
def perception_idea_state_changed(app: Flask, event: IdeaStateChanged) -> None:
    if event.decision_id is None or not mail_configured(app):
        return
    from perception.rich_text import render_markdown

    base = app.config.get("BASE_URL") or ""
    idea_url = f"{base}/ideas/{event.merged_into or event.idea_id}" if base else None
    with session_scope(app) as session:
        pending = [
            (notification.id, account.email, account.language)
            for notification in pending_emails(session, event.decision_id)
            if (account := session.get(Account, notification.account_id)) is not None and account.active
        ]
    if not pending:
        return
    settings_url = f"{base}/notifications/" if base else None
    failures: list[MailError] = []
    with mail_connection(app) as connection:
        for notification_id, address, language in pending:
            text, html = render_mail(
                app,
                "mail/idea_decision",
                language,
                event=event,
                answer_html=render_markdown(event.answer),
                idea_url=idea_url,
                settings_url=settings_url,
            )
            with app.app_context(), force_locale(language):
                subject = gettext("Your idea box: “%(title)s”", title=isolate_text(event.title))
            try:
                connection.send(build_message(MailSettings.of(app).sender, address, subject, text, html))
            except MailError as error:
                if not error.permanent:
                    failures.append(error)
                continue
            with session_scope(app) as session:
                notification = session.get(Notification, notification_id)
                if notification is not None:
                    notification.emailed_at = now()
                    session.add(notification)
    if failures:
        raise failures[0]
