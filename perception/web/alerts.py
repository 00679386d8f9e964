"""Leads' pages of the closed loop: the alert queue, one alert, the rules per item, the figures."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import select
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import BooleanField, DecimalField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from perception.accounts import role_required
from perception.alerts import (
    CLOSED_STATUSES,
    MAX_NOTE_LENGTH,
    AlertError,
    LoopInputs,
    alert_figures,
    alert_queue,
    assign,
    aware,
    close,
    contact_of,
    is_overdue,
    measured_loop_inputs,
    notify_owner,
    now_utc,
    open_count,
    owners,
    rules_of,
    set_rule,
    start,
)
from perception.bidi import isolate_text
from perception.db import get_session
from perception.mail import MailError
from perception.models import Account, Alert, Item, Survey, Wave
from perception.scales import SCALES
from perception.waves import find_survey
from perception.web.forms import ActionForm

blueprint = Blueprint("alerts", __name__, url_prefix="/alerts")

STATUS_LABELS = {
    "open": _l("open"),
    "in_progress": _l("in progress"),
    "resolved": _l("resolved"),
    "closed_without_contact": _l("closed without contact"),
}
GAP_REASON_LABELS = {
    "gap_widened": _l("the gap widened"),
    "blind_spot_appeared": _l("a blind spot appeared"),
}
FIGURE_PERIODS = (30, 90, 365)


class AssignForm(FlaskForm):
    owner = SelectField(_l("Owner"), validate_choice=True)


class CloseForm(FlaskForm):
    status = RadioField(
        _l("Outcome"),
        choices=[
            SelectChoice("resolved", _l("Resolved: the customer was contacted")),
            SelectChoice("closed_without_contact", _l("Closed without contact")),
        ],
        validators=[InputRequired(_l("Choose an outcome."))],
    )
    note = TextAreaField(
        _l("Resolution note"),
        validators=[
            DataRequired(_l("Write what was done, or why the customer was not contacted.")),
            Length(max=MAX_NOTE_LENGTH),
        ],
    )
    kept = BooleanField(_l("The customer stays with us thanks to the call-back"))


class LoopForm(FlaskForm):
    class Meta:
        csrf = False  # a calculation shown on the page: nothing is stored

    contacts = DecimalField(_l("Contacts surveyed"), validators=[Optional(), NumberRange(min=0)])
    response_rate = DecimalField(_l("Response rate (%)"), validators=[Optional(), NumberRange(min=0, max=100)])
    very_dissatisfied = DecimalField(
        _l("Share of very dissatisfied respondents (%)"), validators=[Optional(), NumberRange(min=0, max=100)]
    )
    kept = DecimalField(
        _l("Share of them kept thanks to the call-back (%)"), validators=[Optional(), NumberRange(min=0, max=100)]
    )
    acquisition_cost = DecimalField(_l("Cost of acquiring a customer"), validators=[Optional(), NumberRange(min=0)])


def _owner_choices() -> list[SelectChoice]:
    choices = [SelectChoice("", _l("Nobody yet"))]
    choices += [
        SelectChoice(str(account.id), isolate_text(account.name or account.email)) for account in owners(get_session())
    ]
    return choices


def _alert_or_404(alert_id: int) -> Alert:
    alert = get_session().get(Alert, alert_id)
    if alert is None:
        abort(404)
    return alert


def _may_handle(alert: Alert) -> bool:
    return current_user.has_role("lead") or alert.owner_id == current_user.id


@blueprint.app_template_global()
def alert_status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@blueprint.app_template_global()
def gap_reason_label(reason: str) -> str:
    return str(GAP_REASON_LABELS.get(reason, reason))


@blueprint.app_template_global()
def format_moment(moment: datetime | None) -> str:
    """A date and time in the reader's language (UTC)."""
    return "–" if moment is None else format_datetime(aware(moment), "short")


@blueprint.app_template_global()
def format_duration(minutes: float) -> str:
    """Minutes as hours, or days beyond two days."""
    hours = minutes / 60
    if hours < 48:
        return _("%(hours)s h", hours=format_decimal(hours, format="#,##0.0"))
    return _("%(days)s days", days=format_decimal(hours / 24, format="#,##0.0"))


def _tell_owner(alert_id: int) -> None:
    try:
        if notify_owner(current_app, alert_id):
            flash(_("The new owner was told by email."), "info")
    except MailError as error:
        flash(_("The new owner could not be told by email: %(reason)s", reason=str(error)), "error")


@blueprint.route("/")
@role_required("lead")
def index() -> str:
    session = get_session()
    closed = request.args.get("show") == "closed"
    now = now_utc()
    alerts = alert_queue(session, now, closed=closed)
    surveys = {survey.id: survey for survey in session.exec(select(Survey))}
    item_ids = {alert.item_id for alert in alerts if alert.item_id}
    items = {item.id: item for item in session.exec(select(Item).where(Item.id.in_(item_ids)))}  # type: ignore[union-attr]
    owner_ids = {alert.owner_id for alert in alerts if alert.owner_id}
    people = {account.id: account for account in session.exec(select(Account).where(Account.id.in_(owner_ids)))}  # type: ignore[union-attr]
    total, overdue = open_count(session, now)
    return render_template(
        "alerts/index.html",
        alerts=alerts,
        closed=closed,
        surveys=surveys,
        items=items,
        people=people,
        total=total,
        overdue=overdue,
        now=now,
        is_overdue=is_overdue,
    )


@blueprint.route("/<int:alert_id>", methods=["GET", "POST"])
@role_required("lead", "leader", "employee")
def show(alert_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    alert = _alert_or_404(alert_id)
    if not _may_handle(alert):
        abort(403)
    assign_form = AssignForm(prefix="assign", owner=str(alert.owner_id or ""))
    assign_form.owner.choices = _owner_choices()
    close_form = CloseForm(prefix="close")
    action_form = ActionForm(prefix="start")
    status = 200
    action = request.form.get("action") if request.method == "POST" else None
    try:
        if action == "assign" and assign_form.validate_on_submit():
            owner_id = int(assign_form.owner.data) if assign_form.owner.data else None
            changed = owner_id != alert.owner_id
            assign(session, alert, owner_id)
            session.commit()
            flash(_("Owner changed."), "info")
            if changed and owner_id is not None and owner_id != current_user.id:
                _tell_owner(alert.id)  # type: ignore[arg-type]
            return redirect(url_for("alerts.show", alert_id=alert.id))
        if action == "start" and action_form.validate_on_submit():
            start(session, alert)
            session.commit()
            flash(_("The alert is in progress."), "info")
            return redirect(url_for("alerts.show", alert_id=alert.id))
        if action == "close" and close_form.validate_on_submit():
            close(session, alert, close_form.status.data, close_form.note.data or "", bool(close_form.kept.data))
            session.commit()
            flash(_("The alert is closed."), "info")
            return redirect(url_for("alerts.show", alert_id=alert.id))
        if action is not None:
            status = 422
    except AlertError as error:
        session.rollback()
        flash(_("This change was refused: %(reason)s", reason=str(error)), "error")
        status = 409
    survey = session.get(Survey, alert.survey_id)
    wave = session.get(Wave, alert.wave_id)
    item = session.get(Item, alert.item_id) if alert.item_id else None
    owner = session.get(Account, alert.owner_id) if alert.owner_id else None
    return render_template(
        "alerts/show.html",
        alert=alert,
        survey=survey,
        wave=wave,
        item=item,
        owner=owner,
        contact=contact_of(session, alert),
        overdue=is_overdue(alert),
        closed=alert.status in CLOSED_STATUSES,
        assign_form=assign_form,
        close_form=close_form,
        action_form=action_form,
        scales=SCALES,
        story_url=url_for("stories.new", alert=alert.id),
    ), status


@blueprint.route("/rules/<slug>", methods=["GET", "POST"])
@role_required("lead")
def rules(slug: str) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    survey = find_survey(session, slug)
    if survey is None:
        abort(404)
    current = rules_of(session, survey)
    owner_ids = {str(account.id) for account in owners(session)}
    problems: list[str] = []
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        for rule in current:
            raw_limit = request.form.get(f"at_most_{rule.item.key}", "")
            raw_owner = request.form.get(f"owner_{rule.item.key}", "")
            try:
                at_most = None if raw_limit in ("", "off") else int(raw_limit)
            except ValueError:
                problems.append(_("%(item)s: %(value)s is not a whole number", item=rule.item.key, value=raw_limit))
                continue
            if raw_owner and raw_owner not in owner_ids:
                problems.append(_("%(item)s: the chosen owner cannot own alerts", item=rule.item.key))
                continue
            try:
                set_rule(session, rule.item, at_most, int(raw_owner) if raw_owner else None)
            except AlertError as error:
                problems.append(str(error))
        if not problems:
            session.commit()
            flash(_("Alert rules saved."), "info")
            return redirect(url_for("alerts.rules", slug=slug))
        session.rollback()
    return render_template(
        "alerts/rules.html",
        survey=survey,
        rules=current,
        scales=SCALES,
        owners=owners(session),
        form=ActionForm(),
        problems=problems,
    ), 422 if problems else 200


@blueprint.route("/figures")
@role_required("lead")
def figures() -> str:
    session = get_session()
    try:
        days = int(request.args.get("days", 90))
    except ValueError:
        days = 90
    days = days if days in FIGURE_PERIODS else 90
    since = (now_utc() - timedelta(days=days)).date()
    rows, total = alert_figures(session, since)
    measured = measured_loop_inputs(session, since)
    form = LoopForm(request.args)
    calculate = bool(request.args.get("calculate"))
    if calculate:
        form.validate()

    def pick(name: str, scale: float) -> float | None:
        """The figure the lead typed, else the measured one."""
        field = form[name]
        if calculate and not field.errors and field.data is not None:
            return float(field.data) / scale
        return getattr(measured, name)

    inputs = LoopInputs(
        contacts=pick("contacts", 1),
        response_rate=pick("response_rate", 100),
        very_dissatisfied=pick("very_dissatisfied", 100),
        kept=pick("kept", 100),
        acquisition_cost=pick("acquisition_cost", 1),
    )
    if not calculate:
        for name, scale in (("contacts", 1), ("response_rate", 100), ("very_dissatisfied", 100), ("kept", 100)):
            value = getattr(measured, name)
            form[name].data = None if value is None else round(value * scale, 1)
    return render_template(
        "alerts/figures.html",
        rows=rows,
        total=total,
        days=days,
        periods=FIGURE_PERIODS,
        form=form,
        inputs=inputs,
        measured=measured,
    )
