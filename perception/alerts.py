"""The closed loop: an unhappy customer's answer opens an alert that someone owns until it is closed.

Rules live per item (a lead sets them; the scale gives a default), and they are applied by a
plugin on ``perception_response_submitted``, so that any plugin can open alerts of its own with
:func:`open_alert`. Every opened alert is handed to ``perception_alert_opened`` (on the queue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import and_, case, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from perception.accounts import EMAIL_PATTERN
from perception.batch import kept
from perception.db import session_scope
from perception.hookspecs import hookimpl
from perception.models import (
    Account,
    Alert,
    AlertRule,
    Answer,
    CallbackRequest,
    Invitation,
    Item,
    Response,
    Survey,
    Wave,
)
from perception.scales import SCALES
from perception.tasks import emit
from perception.types import AlertOpened, ResponseSubmitted

# The answers that open an alert when no lead has said otherwise: an NPS detractor, a CES of
# 1 or 2, a CSAT of 1 ("very dissatisfied").
DEFAULT_AT_MOST: Mapping[str, int] = {"nps": 6, "ces": 2, "csat": 1}
OPEN_STATUSES: tuple[str, ...] = ("open", "in_progress")
CLOSED_STATUSES: tuple[str, ...] = ("resolved", "closed_without_contact")
MAX_NOTE_LENGTH = 5000


class AlertError(ValueError):
    """An alert or a rule cannot be changed as asked; the message says why."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Rules


@dataclass(frozen=True)
class Rule:
    item: Item
    at_most: int | None
    owner_id: int | None
    is_default: bool


def rules_of(session: Session, survey: Survey) -> list[Rule]:
    """The rule of each scored item of the survey: the lead's, else the scale's default."""
    items = session.exec(select(Item).where(Item.survey_id == survey.id).order_by(Item.position)).all()
    stored = {
        rule.item_id: rule
        for rule in session.exec(
            select(AlertRule).join(Item, Item.id == AlertRule.item_id).where(Item.survey_id == survey.id)
        )
    }
    rules = []
    for item in items:
        if SCALES[item.scale].is_text:
            continue
        rule = stored.get(item.id)  # type: ignore[arg-type]
        if rule is None:
            rules.append(Rule(item, DEFAULT_AT_MOST.get(item.scale), None, True))
        else:
            rules.append(Rule(item, rule.at_most, rule.owner_id, False))
    return rules


def set_rule(session: Session, item: Item, at_most: int | None, owner_id: int | None) -> None:
    """Store a lead's rule for an item; the value must be one the item's scale accepts."""
    scale = SCALES[item.scale]
    if scale.is_text:
        raise AlertError(f"item {item.key!r} takes free text; only answers on a scale can open an alert")
    if at_most is not None and at_most not in scale.values:
        raise AlertError(f"item {item.key!r}: {at_most} is outside its scale ({scale.low} to {scale.high})")
    if owner_id is not None:
        owner = session.get(Account, owner_id)
        if owner is None or not owner.active:
            raise AlertError(f"item {item.key!r}: the chosen owner is not an active account")
    rule = session.exec(select(AlertRule).where(AlertRule.item_id == item.id)).first()
    if rule is None:
        rule = AlertRule(item_id=item.id)  # type: ignore[arg-type]
    rule.at_most = at_most
    rule.owner_id = owner_id
    session.add(rule)


def alert_thresholds(app: Flask, survey_slug: str) -> dict[str, int]:
    """Item key to the highest answer that opens an alert, for the survey's items that have one.

    The same rules as ``rules_of`` (the lead's, else the scale's default), read in one query: it
    runs for every customer response, and once per survey in a batch of the outbox.
    """
    return kept(("alert_thresholds", survey_slug), lambda: _read_thresholds(app, survey_slug))


def _read_thresholds(app: Flask, survey_slug: str) -> dict[str, int]:
    statement = (
        select(Item.key, Item.scale, AlertRule.id, AlertRule.at_most)
        .join(Survey, Survey.id == Item.survey_id)
        .outerjoin(AlertRule, AlertRule.item_id == Item.id)
        .where(Survey.slug == survey_slug)
        .order_by(Item.position, Item.id)
    )
    thresholds: dict[str, int | None] = {}
    with session_scope(app) as session:
        for key, scale, rule_id, at_most in session.exec(statement):
            if SCALES[scale].is_text:
                continue
            thresholds[key] = DEFAULT_AT_MOST.get(scale) if rule_id is None else at_most
    return {key: at_most for key, at_most in thresholds.items() if at_most is not None}


# Opening


def alert_deadline(app: Flask, opened_at: datetime) -> datetime:
    return opened_at + timedelta(hours=int(app.config.get("ALERT_HOURS", 48)))


def open_alert(app: Flask, event: ResponseSubmitted, item_key: str, reason: str = "") -> int | None:
    """Open an alert on one answer of a customer response; return its id (None for no customer response).

    Opening twice for the same answer (a retried task, two plugins) gives the first alert back.
    """
    if event.side != "customer" or event.response_id is None:
        return None
    with session_scope(app) as session:
        response = session.get(Response, event.response_id)
        if response is None or response.side != "customer":
            return None
        wave = session.get(Wave, response.wave_id)
        item = session.exec(select(Item).where(Item.survey_id == wave.survey_id, Item.key == item_key)).first()  # type: ignore[union-attr]
        if wave is None or item is None:
            raise AlertError(f"survey {event.survey_slug!r} has no item {item_key!r}")
        existing = session.exec(
            select(Alert.id).where(Alert.response_id == response.id, Alert.item_id == item.id)
        ).first()
        if existing is not None:
            return existing
        texts = session.exec(
            select(Answer.text)
            .join(Item, Item.id == Answer.item_id)
            .where(Answer.response_id == response.id, Answer.text.is_not(None))  # type: ignore[union-attr]
            .order_by(Item.position)
        ).all()
        value = session.exec(
            select(Answer.value).where(Answer.response_id == response.id, Answer.item_id == item.id)
        ).first()
        rule = session.exec(select(AlertRule).where(AlertRule.item_id == item.id)).first()
        opened_at = now_utc()
        alert = Alert(
            kind="answer",
            survey_id=wave.survey_id,
            wave_id=wave.id,  # type: ignore[arg-type]
            item_id=item.id,
            response_id=response.id,
            value=value,
            verbatim="\n\n".join(texts) or None,
            touchpoint=item.touchpoint,
            dimension=item.dimension,
            reason=reason[:300],
            owner_id=rule.owner_id if rule else None,
            opened_at=opened_at,
            due_at=alert_deadline(app, opened_at),
        )
        session.add(alert)
        try:
            session.flush()
        except IntegrityError:  # the same answer's alert, opened a moment ago by another worker
            session.rollback()
            return session.exec(
                select(Alert.id).where(Alert.response_id == response.id, Alert.item_id == item.id)
            ).first()
        opened = opened_event(session, alert)
    emit(app, "perception_alert_opened", opened)
    return opened.alert_id


def opened_event(session: Session, alert: Alert) -> AlertOpened:
    survey = session.get(Survey, alert.survey_id)
    wave = session.get(Wave, alert.wave_id)
    item = session.get(Item, alert.item_id) if alert.item_id else None
    return AlertOpened(
        alert_id=alert.id,  # type: ignore[arg-type]
        kind=alert.kind,
        survey_slug=survey.slug,  # type: ignore[union-attr]
        wave_name=wave.name,  # type: ignore[union-attr]
        item_key=item.key if item else None,
        value=alert.value,
        touchpoint=alert.touchpoint,
        dimension=alert.dimension,
        reason=alert.reason,
        opened_at=aware(alert.opened_at),
        due_at=aware(alert.due_at),
        owner_email=_email_of(session, alert.owner_id),
    )


def _email_of(session: Session, account_id: int | None) -> str | None:
    account = session.get(Account, account_id) if account_id else None
    return account.email if account else None


# Handling


def assign(session: Session, alert: Alert, owner_id: int | None) -> None:
    if alert.status in CLOSED_STATUSES:
        raise AlertError("this alert is closed; its owner cannot change")
    if owner_id is not None:
        owner = session.get(Account, owner_id)
        if owner is None or not owner.active:
            raise AlertError("the chosen owner is not an active account")
    alert.owner_id = owner_id
    session.add(alert)


def start(session: Session, alert: Alert) -> None:
    if alert.status != "open":
        raise AlertError("only an open alert can be taken in hand")
    alert.status = "in_progress"
    session.add(alert)


def close(
    session: Session,
    alert: Alert,
    status: str,
    note: str,
    customer_kept: bool | None = None,
    at: datetime | None = None,
) -> None:
    """Resolve an alert, or close it without contact; once only, and with a note saying what was done."""
    if status not in CLOSED_STATUSES:
        raise AlertError(f"an alert is closed as resolved or closed_without_contact, not {status!r}")
    if alert.status in CLOSED_STATUSES:
        raise AlertError("this alert is closed already; its resolution stays as written")
    note = (note or "").strip()
    if not note:
        raise AlertError("write a resolution note: what was done, or why the customer was not contacted")
    if len(note) > MAX_NOTE_LENGTH:
        raise AlertError(f"the resolution note holds at most {MAX_NOTE_LENGTH} characters, this one {len(note)}")
    at = at or now_utc()
    alert.status = status
    alert.resolution = note
    alert.customer_kept = customer_kept if status == "resolved" else None
    alert.closed_at = at
    alert.minutes_to_close = max(0, int((at - aware(alert.opened_at)).total_seconds() // 60))
    session.add(alert)


def is_overdue(alert: Alert, at: datetime | None = None) -> bool:
    return alert.status in OPEN_STATUSES and aware(alert.due_at) < (at or now_utc())


def alert_queue(session: Session, at: datetime | None = None, closed: bool = False, limit: int = 200) -> list[Alert]:
    """Alerts still to handle, overdue first, then by deadline; or the closed ones, latest first."""
    at = at or now_utc()
    if closed:
        statement = (
            select(Alert).where(Alert.status.in_(CLOSED_STATUSES)).order_by(Alert.closed_at.desc())  # type: ignore[attr-defined,union-attr]
        )
    else:
        overdue = case((Alert.due_at < at, 0), else_=1)
        statement = (
            select(Alert)
            .where(Alert.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
            .order_by(overdue, Alert.due_at, Alert.id)
        )
    return list(session.exec(statement.limit(limit)).all())


def open_count(session: Session, at: datetime | None = None) -> tuple[int, int]:
    """Alerts to handle, and how many of them are overdue."""
    at = at or now_utc()
    overdue = func.sum(case((Alert.due_at < at, 1), else_=0))
    total, late = session.exec(
        select(func.count(), overdue).where(Alert.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
    ).one()
    return int(total or 0), int(late or 0)


# Figures


@dataclass(frozen=True)
class TouchpointFigures:
    touchpoint: str | None
    opened: int
    closed: int
    on_time: int
    still_open: int
    median_minutes: float | None


def _period(since: date | None, survey: Survey | None) -> list[Any]:
    conditions: list[Any] = [Alert.kind == "answer"]
    if since is not None:
        conditions.append(Alert.opened_at >= datetime.combine(since, datetime.min.time(), tzinfo=UTC))
    if survey is not None:
        conditions.append(Alert.survey_id == survey.id)
    return conditions


def alert_figures(
    session: Session, since: date | None = None, survey: Survey | None = None
) -> tuple[list[TouchpointFigures], TouchpointFigures]:
    """Per touchpoint and overall: opened, closed, closed by the deadline, median time to close.

    Counted in SQL; the median too (the middle rows of each touchpoint, by window functions).
    """
    conditions = _period(since, survey)
    is_closed = Alert.status.in_(CLOSED_STATUSES)  # type: ignore[attr-defined]
    counted = (
        func.count(),
        func.sum(case((is_closed, 1), else_=0)),
        func.sum(case((and_(is_closed, Alert.closed_at <= Alert.due_at), 1), else_=0)),  # type: ignore[operator]
        func.sum(case((is_closed, 0), else_=1)),
    )
    per_touchpoint = session.exec(
        select(Alert.touchpoint, *counted).where(*conditions).group_by(Alert.touchpoint).order_by(Alert.touchpoint)
    ).all()
    overall = session.exec(select(*counted).where(*conditions)).one()
    medians = _median_minutes(session, conditions, by_touchpoint=True)
    total_median = _median_minutes(session, conditions, by_touchpoint=False).get(None)
    rows = [_figures(touchpoint, counts, medians.get(touchpoint)) for touchpoint, *counts in per_touchpoint]
    return rows, _figures(None, overall, total_median)


def _figures(touchpoint: str | None, counts: Sequence[Any], median: float | None) -> TouchpointFigures:
    opened, closed, on_time, left = (int(count or 0) for count in counts)
    return TouchpointFigures(touchpoint, opened, closed, on_time, left, median)


def _median_minutes(session: Session, conditions: Sequence[Any], by_touchpoint: bool) -> dict[str | None, float]:
    partition = [Alert.touchpoint] if by_touchpoint else []
    ranked = (
        select(
            (Alert.touchpoint if by_touchpoint else Alert.kind).label("grp"),  # type: ignore[attr-defined]
            Alert.minutes_to_close.label("minutes"),  # type: ignore[union-attr]
            func.row_number().over(partition_by=partition, order_by=Alert.minutes_to_close).label("rank"),
            func.count().over(partition_by=partition).label("size"),
        )
        .where(*conditions, Alert.minutes_to_close.is_not(None))  # type: ignore[union-attr]
        .subquery()
    )
    statement = (
        select(ranked.c.grp, func.avg(ranked.c.minutes))
        .where(ranked.c.rank * 2 >= ranked.c.size, ranked.c.rank * 2 <= ranked.c.size + 2)
        .group_by(ranked.c.grp)
    )
    found = {group: float(median) for group, median in session.exec(statement)}  # type: ignore[call-overload]
    if not by_touchpoint:
        return {None: next(iter(found.values()))} if found else {}
    return found


# What the loop is worth


@dataclass(frozen=True)
class LoopInputs:
    """The figures of the calculation; the measured ones are filled in, any may be edited."""

    contacts: float | None
    response_rate: float | None
    very_dissatisfied: float | None
    kept: float | None
    acquisition_cost: float | None

    @property
    def customers_kept(self) -> float | None:
        parts = (self.contacts, self.response_rate, self.very_dissatisfied, self.kept)
        if any(part is None for part in parts):
            return None
        return self.contacts * self.response_rate * self.very_dissatisfied * self.kept  # type: ignore[operator]

    @property
    def worth(self) -> float | None:
        kept = self.customers_kept
        if kept is None or self.acquisition_cost is None:
            return None
        return kept * self.acquisition_cost


def measured_loop_inputs(session: Session, since: date | None = None, survey: Survey | None = None) -> LoopInputs:
    """Contacts surveyed and response rate from the customer links, the share of very dissatisfied
    from the alerts opened on customer responses, the share kept from the resolutions."""
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC) if since else None
    links = select(func.count(), func.sum(case((Invitation.used.is_(True), 1), else_=0))).where(  # type: ignore[attr-defined]
        Invitation.side == "customer"
    )
    responses = select(func.count()).select_from(Response).where(Response.side == "customer")
    alerted = select(func.count(func.distinct(Alert.response_id))).where(*_period(since, survey))
    kept = select(func.count(), func.sum(case((Alert.customer_kept.is_(True), 1), else_=0))).where(  # type: ignore[union-attr]
        *_period(since, survey),
        Alert.customer_kept.is_not(None),  # type: ignore[union-attr]
    )
    if survey is not None:
        in_survey = select(Wave.id).where(Wave.survey_id == survey.id)
        links = links.where(Invitation.wave_id.in_(in_survey))  # type: ignore[attr-defined]
        responses = responses.where(Response.wave_id.in_(in_survey))  # type: ignore[attr-defined]
    if start is not None:
        links = links.where(Invitation.created_at >= start)
        responses = responses.where(Response.submitted_on >= since)  # type: ignore[operator]
    issued, used = session.exec(links).one()
    answered = session.exec(responses).one()
    alerted_count = session.exec(alerted).one()
    judged, kept_count = session.exec(kept).one()
    return LoopInputs(
        contacts=float(issued) if issued else None,
        response_rate=(used or 0) / issued if issued else None,
        very_dissatisfied=alerted_count / answered if answered else None,
        kept=(kept_count or 0) / judged if judged else None,
        acquisition_cost=None,
    )


def contact_of(session: Session, alert: Alert) -> CallbackRequest | None:
    """How the customer agreed to be contacted, if they did."""
    if alert.response_id is None:
        return None
    return session.get(CallbackRequest, alert.response_id)


def owners(session: Session) -> list[Account]:
    """Who can own an alert: active leads and admins."""
    return list(
        session.exec(
            select(Account)
            .where(Account.active.is_(True), or_(Account.role == "lead", Account.role == "admin"))  # type: ignore[attr-defined]
            .order_by(Account.name, Account.email)
        ).all()
    )


PHONE_CHARACTERS = frozenset("0123456789+ .-()")


# The choices that stand for an address already on record: the invited contact's own.
KNOWN_CHOICES: Mapping[str, str] = {"known_email": "email", "known_phone": "phone"}


class UnknownContactChoice(AlertError):
    """The "contact me" choice is not one the page offered (no such channel, or none on record)."""


@dataclass(frozen=True)
class KnownAddresses:
    """The email address and phone number on record for the customer answering: those of the
    contact their invitation was sent to. A public link or a kiosk has none."""

    email: str | None = None
    phone: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels on record, email first: what the page may offer without asking."""
        return tuple(how for how in ("email", "phone") if getattr(self, how))


def check_callback(how: str | None, address: str | None, known: KnownAddresses | None = None) -> tuple[str, str] | None:
    """A customer's "contact me" answer, checked: None when they did not ask to be contacted.

    ``known_email`` and ``known_phone`` choose an address on record in ``known``: the full
    address is read from there, never from what was sent. Raises UnknownContactChoice for a
    choice that is not offered, and AlertError saying what is wrong with an address they typed."""
    how = (how or "").strip()
    address = (address or "").strip()
    if not how or how == "no":
        return None
    if how in KNOWN_CHOICES:
        channel = KNOWN_CHOICES[how]
        on_record = getattr(known, channel) if known is not None else None
        if not on_record:
            raise UnknownContactChoice(f"there is no {channel} on record to contact")
        return channel, on_record
    if how == "email":
        if not EMAIL_PATTERN.match(address) or len(address) > 254:
            raise AlertError("please give an email address such as name@example.com")
        return how, address
    if how == "phone":
        digits = sum(character.isdigit() for character in address)
        if not set(address) <= PHONE_CHARACTERS or not 6 <= digits <= 15:
            raise AlertError("please give a phone number: 6 to 15 digits, with + spaces or dots if you like")
        return how, address
    raise UnknownContactChoice(f"contact by email or phone, not {how!r}")


# Telling the owner


def notify_owner(app: Flask, alert_id: int) -> bool:
    """Email the alert's owner, in their language; False when there is no owner or no mail server.

    Raises MailError when the server refuses; the alert stays in the queue either way.
    """
    from perception.mail import mail_configured, render_mail, send_mail

    if not mail_configured(app):
        return False
    with session_scope(app) as session:
        alert = session.get(Alert, alert_id)
        owner = session.get(Account, alert.owner_id) if alert and alert.owner_id else None
        if alert is None or owner is None or not owner.active:
            return False
        survey = session.get(Survey, alert.survey_id)
        item = session.get(Item, alert.item_id) if alert.item_id else None
        base = app.config.get("BASE_URL") or ""
        context = {
            "alert": alert,
            "survey": survey,
            "item": item,
            "owner": owner,
            "contact": contact_of(session, alert),
            "url": f"{base}/alerts/{alert.id}" if base else None,
        }
        language = owner.language
        address = owner.email
    text, html = render_mail(app, "mail/alert_opened", language, **context)
    subject = text.splitlines()[0]
    send_mail(app, address, subject, "\n".join(text.splitlines()[2:]), html)
    return True


@hookimpl
def perception_alert_opened(app: Flask, event: AlertOpened) -> None:
    """The core tells the owner by email; the alert is in the queue whatever the mail server says."""
    from perception.mail import MailError

    try:
        notify_owner(app, event.alert_id)
    except MailError as error:
        app.logger.warning("alert %s: its owner could not be emailed: %s", event.alert_id, error)
