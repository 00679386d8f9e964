"""The wave's sending page: invite contacts through a channel, remind them, and watch the progress."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import DecimalField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from perception.accounts import role_required
from perception.db import get_session
from perception.dispatch import start_dispatch
from perception.invitations import InvitationError, Sample, plan_invitations, plan_reminders, progress
from perception.models import Survey, Wave
from perception.posters import poster_pdf, qr_svg
from perception.types import LANGUAGES
from perception.waves import find_survey, find_wave
from perception.web.helpers import current_locale, localized

blueprint = Blueprint("dispatch", __name__, url_prefix="/surveys")
SIDE_CHOICES = [SelectChoice("customer", _l("Customers")), SelectChoice("employee", _l("Employees"))]
SKIP_LABELS = {
    "recent": _l("invited recently (contact-frequency rule)"),
    "unsubscribed": _l("unsubscribed"),
    "no_address": _l("no address for this channel"),
    "answered": _l("already answered"),
    "forgotten": _l("forgotten"),
}


class InviteForm(FlaskForm):
    side = SelectField(_l("Invite"), choices=SIDE_CHOICES)
    channel = SelectField(_l("Through"))
    share = DecimalField(
        _l("Share of the eligible contacts, in % (optional)"),
        places=None,
        validators=[Optional(), NumberRange(min=0.01, max=100, message=_l("From 0.01 to 100."))],
    )
    count = IntegerField(
        _l("Or a number of them (optional)"),
        validators=[Optional(), NumberRange(min=1, max=10_000_000, message=_l("At least 1."))],
    )


class RemindForm(FlaskForm):
    side = SelectField(_l("Remind"), choices=SIDE_CHOICES)


def _channels() -> dict:  # type: ignore[type-arg]
    channels = current_app.extensions["perception"].registries.channels
    return {name: channel for name, channel in sorted(channels.items()) if channel.address_kind}


def _invite_form() -> InviteForm:
    form = InviteForm()
    language = current_locale()
    form.channel.choices = [
        SelectChoice(name, channel.label.get(language) or name) for name, channel in _channels().items()
    ]
    return form


def wave_or_404(slug: str, name: str) -> tuple[Survey, Wave]:
    """The survey and wave the address names, or a 404."""
    session = get_session()
    survey = find_survey(session, slug)
    wave = find_wave(session, survey, name) if survey else None
    if survey is None or wave is None:
        abort(404)
    return survey, wave


def public_link(wave: Wave) -> str:
    """The wave's public customer link, at the public address when one is set."""
    base = current_app.config.get("BASE_URL")
    if base:
        return base + url_for("respond.public", token=wave.public_token)
    return url_for("respond.public", token=wave.public_token, _external=True)


def _page(survey: Survey, wave: Wave, invite: InviteForm, remind: RemindForm, status: int = 200, kiosk=None):  # type: ignore[no-untyped-def]
    from perception.web.kiosk import sending_section

    rows = progress(get_session(), wave)
    return render_template(
        "dispatch/wave.html",
        survey=survey,
        wave=wave,
        rows=rows,
        running=any(row.running for row in rows),
        invite_form=invite,
        remind_form=remind,
        skip_labels=SKIP_LABELS,
        channels=current_app.extensions["perception"].registries.channels,
        public_link=public_link(wave),
        kiosks=sending_section(survey, wave, kiosk),
        needs_base_url=not current_app.config.get("BASE_URL"),
    ), status


def sending_page(survey: Survey, wave: Wave, kiosk=None, status: int = 200):  # type: ignore[no-untyped-def]
    """The sending page with fresh invitation forms (``kiosk``: the kiosk form, with its errors)."""
    return _page(survey, wave, _invite_form(), RemindForm(), status, kiosk)


@blueprint.route("/<slug>/waves/<name>/qr.svg")
@role_required("lead")
def qr_code(slug: str, name: str) -> Response:
    _survey, wave = wave_or_404(slug, name)
    return Response(qr_svg(public_link(wave)), mimetype="image/svg+xml")


@blueprint.route("/<slug>/waves/<name>/poster.pdf")
@role_required("lead")
def poster(slug: str, name: str) -> Response:
    survey, wave = wave_or_404(slug, name)
    language = request.args.get("language") if request.args.get("language") in LANGUAGES else current_locale()
    title = getattr(survey, f"title_{language}", "") or localized(survey, "title")
    return Response(
        poster_pdf(public_link(wave), title, language),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{survey.slug}-poster-{language}.pdf"'},
    )


@blueprint.route("/<slug>/waves/<name>/sending")
@role_required("lead")
def sending(slug: str, name: str):  # type: ignore[no-untyped-def]
    survey, wave = wave_or_404(slug, name)
    return _page(survey, wave, _invite_form(), RemindForm())


@blueprint.route("/<slug>/waves/<name>/sending/invite", methods=["POST"])
@role_required("lead")
def invite(slug: str, name: str) -> WerkzeugResponse | tuple[str, int]:
    survey, wave = wave_or_404(slug, name)
    form = _invite_form()
    if not form.validate_on_submit():
        return _page(survey, wave, form, RemindForm(), 422)
    session = get_session()
    try:
        sample = Sample(
            share=float(form.share.data) / 100 if form.share.data is not None else None,
            size=form.count.data,
        )
        dispatch = plan_invitations(
            current_app, session, wave, form.side.data or "customer", _channels()[form.channel.data],
            sample=sample, created_by=current_user.id,
        )  # fmt: skip
    except InvitationError as error:
        session.rollback()
        form.share.errors = [str(error)]
        return _page(survey, wave, form, RemindForm(), 422)
    session.commit()
    start_dispatch(current_app, dispatch)
    flash(_("Invitations are being sent. This page shows their progress."), "info")
    return redirect(url_for("dispatch.sending", slug=slug, name=name))


@blueprint.route("/<slug>/waves/<name>/sending/remind", methods=["POST"])
@role_required("lead")
def remind(slug: str, name: str) -> WerkzeugResponse | tuple[str, int]:
    survey, wave = wave_or_404(slug, name)
    form = RemindForm()
    if not form.validate_on_submit():
        return _page(survey, wave, _invite_form(), form, 422)
    session = get_session()
    try:
        dispatch = plan_reminders(current_app, session, wave, form.side.data or "customer", created_by=current_user.id)
    except InvitationError as error:
        session.rollback()
        form.side.errors = [str(error)]
        return _page(survey, wave, _invite_form(), form, 422)
    session.commit()
    start_dispatch(current_app, dispatch)
    flash(_("Reminders are being sent. This page shows their progress."), "info")
    return redirect(url_for("dispatch.sending", slug=slug, name=name))
