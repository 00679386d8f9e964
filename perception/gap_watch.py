"""The early warning: when a wave closes, a perception gap that widened significantly since the wave
before, or a blind spot that appeared, opens an alert; leads and leaders who follow that dimension
are told by email.

A gap's change between two waves is tested from the two reports' own figures: the waves are
independent samples, so the standard error of the change is the root of the sum of the two gaps'
squared standard errors, each read off its 95% interval (half-width / 1.96). The changes of all the
items of the wave are corrected together (Benjamini-Hochberg, q = 0.05), as the report's gaps are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import sqrt

from flask import Flask
from scipy.stats import norm
from sqlmodel import Session, select

from perception.alerts import alert_deadline, now_utc, opened_event
from perception.db import session_scope
from perception.hookspecs import hookimpl
from perception.models import Account, Alert, DimensionFollow, Item, Survey, Wave
from perception.report import GapReport, ItemRow, gap_report, waves_in_order
from perception.statistics import benjamini_hochberg
from perception.surveys import items_of
from perception.tasks import emit
from perception.types import AlertOpened, ScoringModel

Z95 = float(norm.ppf(0.975))
Q_LIMIT = 0.05
FOLLOWER_ROLES = ("admin", "lead", "leader")  # those who read reports


@dataclass(frozen=True)
class GapChange:
    """An item whose gap changed enough to warn about: ``gap_widened`` or ``blind_spot_appeared``."""

    item: Item
    reason: str
    before: float | None
    now: float
    q: float | None


def _standard_error(row: ItemRow) -> float | None:
    if row.gap is None or row.gap.ci95 is None:
        return None
    low, high = row.gap.ci95
    return (high - low) / (2 * Z95)


def compare(now: GapReport, before: GapReport | None) -> list[GapChange]:
    """The items of ``now`` whose gap widened significantly since ``before``, or that became blind spots."""
    earlier = {row.item.id: row for row in before.rows} if before is not None else {}
    tested: list[tuple[ItemRow, ItemRow, float]] = []
    for row in now.rows:
        old = earlier.get(row.item.id)
        if row.gap is None or old is None or old.gap is None:
            continue
        se_now, se_before = _standard_error(row), _standard_error(old)
        if se_now is None or se_before is None or se_now + se_before == 0:
            continue
        z = (row.gap.value - old.gap.value) / sqrt(se_now**2 + se_before**2)
        tested.append((row, old, float(2 * norm.sf(abs(z)))))
    q_values = dict(
        zip(
            (row.item.id for row, _, _ in tested),
            benjamini_hochberg([p for *_, p in tested]),
            strict=True,
        )
    )
    changes = []
    for row in now.rows:
        if row.gap is None:
            continue
        old = earlier.get(row.item.id)
        before_value = old.gap.value if old is not None and old.gap is not None else None
        q = q_values.get(row.item.id)
        if row.verdict == "blind_spot" and before is not None and (old is None or old.verdict != "blind_spot"):
            changes.append(GapChange(row.item, "blind_spot_appeared", before_value, row.gap.value, q))
        elif (
            q is not None
            and q < Q_LIMIT
            and before_value is not None
            and abs(row.gap.value) > abs(before_value)
            and row.verdict in ("blind_spot", "hidden_strength")
        ):
            changes.append(GapChange(row.item, "gap_widened", before_value, row.gap.value, q))
    return changes


def gap_changes(
    session: Session, survey: Survey, wave: Wave, scoring_models: Mapping[str, ScoringModel], threshold: int
) -> list[GapChange]:
    """The changes of this wave's gaps since the wave before it (none for a survey's first wave)."""
    waves = waves_in_order(session, survey)
    position = next((index for index, candidate in enumerate(waves) if candidate.id == wave.id), None)
    if not position:
        return []
    previous = waves[position - 1]
    now = gap_report(session, survey, wave, items_of(session, survey, wave), scoring_models, threshold)
    before = gap_report(session, survey, previous, items_of(session, survey, previous), scoring_models, threshold)
    return compare(now, before)


def open_gap_alerts(app: Flask, survey_slug: str, wave_name: str) -> list[int]:
    """Open an alert for each gap that changed enough when this wave closed; once per item and wave."""
    registries = app.extensions["perception"].registries
    opened = []
    with session_scope(app) as session:
        survey = session.exec(select(Survey).where(Survey.slug == survey_slug)).first()
        wave = (
            session.exec(select(Wave).where(Wave.survey_id == survey.id, Wave.name == wave_name)).first()
            if survey
            else None
        )
        if survey is None or wave is None:
            return []
        threshold = int(app.config["REPORTING_THRESHOLD"])
        for change in gap_changes(session, survey, wave, registries.scoring_models, threshold):
            known = session.exec(
                select(Alert.id).where(Alert.kind == "gap", Alert.wave_id == wave.id, Alert.item_id == change.item.id)
            ).first()
            if known is not None:
                continue
            opened_at = now_utc()
            alert = Alert(
                kind="gap",
                survey_id=survey.id,  # type: ignore[arg-type]
                wave_id=wave.id,  # type: ignore[arg-type]
                item_id=change.item.id,
                touchpoint=change.item.touchpoint,
                dimension=change.item.dimension,
                reason=change.reason,
                gap_before=change.before,
                gap_now=change.now,
                opened_at=opened_at,
                due_at=alert_deadline(app, opened_at),
            )
            session.add(alert)
            session.flush()
            opened.append(opened_event(session, alert))
    for event in opened:
        emit(app, "perception_alert_opened", event)
    return [event.alert_id for event in opened]


# Following dimensions


def followed(session: Session, account_id: int, survey: Survey) -> set[str]:
    return set(
        session.exec(
            select(DimensionFollow.dimension).where(
                DimensionFollow.account_id == account_id, DimensionFollow.survey_id == survey.id
            )
        ).all()
    )


def set_followed(session: Session, account_id: int, survey: Survey, dimensions: Sequence[str]) -> None:
    """Follow exactly these dimensions of the survey (those it has; others are ignored)."""
    known = set(
        session.exec(
            select(Item.dimension).where(Item.survey_id == survey.id, Item.dimension.is_not(None))  # type: ignore[union-attr]
        ).all()
    )
    wanted = {dimension for dimension in dimensions if dimension in known}
    current = followed(session, account_id, survey)
    for dimension in current - wanted:
        row = session.get(DimensionFollow, (account_id, survey.id, dimension))
        if row is not None:
            session.delete(row)
    for dimension in wanted - current:
        session.add(DimensionFollow(account_id=account_id, survey_id=survey.id, dimension=dimension))  # type: ignore[arg-type]


def followers(session: Session, survey_id: int, dimension: str | None) -> list[Account]:
    """Active accounts that read reports and follow the dimension."""
    if dimension is None:
        return []
    return list(
        session.exec(
            select(Account)
            .join(DimensionFollow, DimensionFollow.account_id == Account.id)
            .where(
                DimensionFollow.survey_id == survey_id,
                DimensionFollow.dimension == dimension,
                Account.active.is_(True),  # type: ignore[attr-defined]
                Account.role.in_(FOLLOWER_ROLES),  # type: ignore[attr-defined]
            )
            .order_by(Account.id)
        ).all()
    )


def notify_followers(app: Flask, alert_id: int) -> int:
    """Email the followers of a gap alert's dimension, each in their language; how many were told."""
    from perception.mail import mail_configured, render_mail, send_mail

    if not mail_configured(app):
        return 0
    base = app.config.get("BASE_URL") or ""
    letters = []
    with session_scope(app) as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.kind != "gap":
            return 0
        survey = session.get(Survey, alert.survey_id)
        wave = session.get(Wave, alert.wave_id)
        item = session.get(Item, alert.item_id) if alert.item_id else None
        report_url = f"{base}/surveys/{survey.slug}/waves/{wave.name}/report" if base and survey and wave else None
        for account in followers(session, alert.survey_id, alert.dimension):
            context = {"alert": alert, "survey": survey, "wave": wave, "item": item, "reader": account}
            letters.append((account.email, account.language, context))
    for address, language, context in letters:
        text, html = render_mail(app, "mail/gap_alert", language, url=report_url, **context)
        subject = text.splitlines()[0]
        send_mail(app, address, subject, "\n".join(text.splitlines()[2:]), html)
    return len(letters)


@hookimpl
def perception_alert_opened(app: Flask, event: AlertOpened) -> None:
    """The core tells a gap alert's followers; the alert is in the leads' queue whatever the mail server says."""
    from perception.mail import MailError

    if event.kind != "gap":
        return
    try:
        notify_followers(app, event.alert_id)
    except MailError as error:
        app.logger.warning("alert %s: its followers could not be emailed: %s", event.alert_id, error)
