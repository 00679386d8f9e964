"""Alerts through the API: a helpdesk lists the cases unhappy customers opened and updates them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import g
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import select

from perception.alerts import CLOSED_STATUSES, AlertError, assign, close, start
from perception.audit import record
from perception.db import get_session
from perception.models import Account, Alert, Item, Survey, Wave
from perception.web.api.base import ApiProblem, PageQuery, decode_cursor, operation, page, page_of

Status = Literal["open", "in_progress", "resolved", "closed_without_contact"]


class AlertSummary(BaseModel):
    """A case opened by an unhappy customer's answer, or by a gap that widened between two waves."""

    id: int
    kind: Literal["answer", "gap"]
    status: Status
    survey: str
    wave: str
    item: str | None
    value: int | None = Field(description="The customer's answer that opened it (answer alerts).")
    verbatim: str | None = Field(description="The customer's comment, when there was one.")
    touchpoint: str | None
    dimension: str | None
    reason: str
    owner: str | None = Field(description="The owner's email.")
    opened_at: datetime
    due_at: datetime
    closed_at: datetime | None
    resolution: str | None
    customer_kept: bool | None


class AlertQuery(PageQuery):
    status: Status | None = Field(default=None, description="Only the alerts in this state.")


class AlertUpdate(BaseModel):
    """What changes: its owner, taking it in hand, or closing it with a note."""

    model_config = ConfigDict(extra="forbid")
    owner: str | None = Field(default=None, max_length=254, description="Email of an active account.")
    status: Literal["in_progress", "resolved", "closed_without_contact"] | None = None
    note: str | None = Field(default=None, max_length=5000, description="Required to close: what was done.")
    customer_kept: bool | None = Field(default=None, description="For a resolved alert: did the customer stay?")

    @model_validator(mode="after")
    def _something(self) -> AlertUpdate:
        if self.owner is None and self.status is None:
            raise ValueError("send an owner, a status, or both")
        return self


def _summary(alert: Alert) -> AlertSummary:
    session = get_session()
    survey = session.get(Survey, alert.survey_id)
    wave = session.get(Wave, alert.wave_id)
    item = session.get(Item, alert.item_id) if alert.item_id else None
    owner = session.get(Account, alert.owner_id) if alert.owner_id else None
    return AlertSummary(
        id=alert.id or 0, kind=alert.kind, status=alert.status, survey=survey.slug if survey else "",
        wave=wave.name if wave else "", item=item.key if item else None, value=alert.value, verbatim=alert.verbatim,
        touchpoint=alert.touchpoint, dimension=alert.dimension, reason=alert.reason,
        owner=owner.email if owner else None, opened_at=alert.opened_at, due_at=alert.due_at,
        closed_at=alert.closed_at, resolution=alert.resolution, customer_kept=alert.customer_kept,
    )  # fmt: skip


@operation(
    "GET", "/alerts", summary="List alerts", tag="alerts", scope="alerts:manage",
    query=AlertQuery, response=page_of(AlertSummary),
    description="Newest first. Alerts carry no contact details: those stay in the application.",
)  # fmt: skip
def list_alerts(query: AlertQuery) -> dict:
    after = decode_cursor("alerts", query.cursor)
    statement = select(Alert).order_by(Alert.id.desc()).limit(query.limit + 1)  # type: ignore[union-attr]
    if query.status is not None:
        statement = statement.where(Alert.status == query.status)
    if after is not None:
        statement = statement.where(Alert.id < int(after))
    rows, cursor = page("alerts", list(get_session().exec(statement).all()), query.limit, lambda alert: alert.id)
    return {"data": [_summary(alert).model_dump(mode="json") for alert in rows], "next_cursor": cursor}


def _alert_or_404(alert_id: int) -> Alert:
    alert = get_session().get(Alert, alert_id)
    if alert is None:
        raise ApiProblem(404, f"There is no alert {alert_id}.")
    return alert


@operation(
    "GET", "/alerts/<int:alert_id>", summary="Read an alert", tag="alerts", scope="alerts:manage",
    response=AlertSummary,
)  # fmt: skip
def read_alert(alert_id: int) -> AlertSummary:
    return _summary(_alert_or_404(alert_id))


@operation(
    "PATCH", "/alerts/<int:alert_id>", summary="Update an alert", tag="alerts", scope="alerts:manage",
    body=AlertUpdate, response=AlertSummary, extra_statuses=(409,),
    description="Give it an owner, take it in hand (`in_progress`), or close it (`resolved` or "
    "`closed_without_contact`, with a `note`). A closed alert stays as written (409).",
)  # fmt: skip
def update_alert(alert_id: int, body: AlertUpdate) -> AlertSummary:
    session = get_session()
    alert = _alert_or_404(alert_id)
    try:
        if body.owner is not None:
            owner = session.exec(select(Account).where(Account.email == body.owner.strip().lower())).first()
            if owner is None:
                raise ApiProblem(422, f"body.owner: no account {body.owner!r}",
                                 errors=[{"field": "body.owner", "message": "no such account"}])  # fmt: skip
            assign(session, alert, owner.id)
        if body.status == "in_progress":
            start(session, alert)
        elif body.status in CLOSED_STATUSES:
            close(session, alert, body.status, body.note or "", body.customer_kept)
    except AlertError as error:
        session.rollback()
        status = 409 if "closed" in str(error) or "only an open" in str(error) else 422
        raise ApiProblem(status, str(error), errors=[{"field": "body", "message": str(error)}]) from None
    except ApiProblem:
        session.rollback()
        raise
    record(session, g.api_token, "alert.update", f"alert {alert_id}",
           {"status": alert.status, "via": "api"})  # fmt: skip
    session.commit()
    return _summary(alert)
