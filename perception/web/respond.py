"""The respondent's pages: no account, a link, a mobile-first form, a thank-you."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import Session
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from perception.alerts import AlertError, check_callback
from perception.db import get_session
from perception.models import Invitation, Item, Survey, Wave
from perception.responses import (
    LinkUsed,
    ResponseError,
    check_answers,
    invitation_expired,
    record_response,
)
from perception.scales import MAX_TEXT_LENGTH, SCALES
from perception.segments import DeclaredAttribute, declared
from perception.surveys import items_of
from perception.waves import accepts_answers, find_invitation, find_public_link

blueprint = Blueprint("respond", __name__)


def language() -> str:
    return str(get_locale() or "en")


def build_form(
    items: list[Item],
    side: str,
    lang: str,
    segments: list[DeclaredAttribute] = (),  # type: ignore[assignment]
    ask_contact: bool = True,
) -> FlaskForm:
    """A form with one field per item, worded for the side and language, and the segment lists.

    Customers are also asked whether, and how, they may be contacted about their answers, unless
    ``ask_contact`` is False (a kiosk: a shared tablet keeps nobody's address).
    """

    class AnswerForm(FlaskForm):
        pass

    if side == "customer" and ask_contact:
        AnswerForm.contact_how = RadioField(  # type: ignore[attr-defined]
            _l("May we contact you about your answers?"),
            choices=[
                SelectChoice("no", _l("No, thank you")),
                SelectChoice("email", _l("Yes, by email")),
                SelectChoice("phone", _l("Yes, by phone")),
            ],
            default="no",
            validators=[Optional()],
        )
        AnswerForm.contact_address = StringField(  # type: ignore[attr-defined]
            _l("Your email address or phone number"), validators=[Optional(), Length(max=254)]
        )

    for attribute in segments:
        choices = [SelectChoice("", _l("Prefer not to say"))]
        choices += [SelectChoice(str(value_id), value) for value_id, value in attribute.values]
        field = SelectField(attribute.label, choices=choices, default="")
        setattr(AnswerForm, f"segment_{attribute.name}", field)

    for item in items:
        scale = SCALES[item.scale]
        label = item.wording(side, lang)
        if scale.is_text:
            validators = [
                Optional() if not item.required else InputRequired(_l("Please write an answer.")),
                Length(
                    max=MAX_TEXT_LENGTH,
                    message=_l("Please keep it under %(max)d characters.", max=MAX_TEXT_LENGTH),
                ),
            ]
            field = TextAreaField(label, validators=validators)
        else:
            validators = [InputRequired(_l("Please choose an answer."))] if item.required else [Optional()]
            field = RadioField(
                label,
                choices=[SelectChoice(value, str(value)) for value in scale.values],
                coerce=int,
                validators=validators,
                validate_choice=True,
            )
        setattr(AnswerForm, f"item_{item.key}", field)
    return AnswerForm()


def _notice(title: str, message: str, status: int = 200) -> tuple[str, int]:
    return render_template("respond/notice.html", title=title, message=message), status


def _answer(
    survey: Survey, wave: Wave, side: str, invitation: Invitation | None
) -> str | WerkzeugResponse | tuple[str, int]:
    session: Session = get_session()
    lang = language()
    if not accepts_answers(wave):
        return _notice(
            _("This survey is not open"),
            _("This survey is not accepting answers at the moment. Thank you for your time."),
        )
    items = items_of(session, survey, wave)
    # Employees pick their own segment values from lists; customers' come with their link (not typed).
    segments = declared(session, survey, "employee") if side == "employee" else []
    form = build_form(items, side, lang, segments)
    if form.is_submitted():
        raw = {}
        if form.validate():
            raw = {item.key: form[f"item_{item.key}"].data for item in items}
            chosen = {
                attribute.id: int(form[f"segment_{attribute.name}"].data)
                for attribute in segments
                if form[f"segment_{attribute.name}"].data
            }
            try:
                callback = (
                    check_callback(form.contact_how.data, form.contact_address.data) if side == "customer" else None
                )
                answers = check_answers(items, raw)
                record_response(
                    current_app, session, survey, wave, side, answers,
                    language=lang, invitation=invitation, segments=chosen, callback=callback,
                )  # fmt: skip
            except AlertError:
                form.contact_address.errors = [
                    _("Please give an email address such as name@example.com, or a phone number of 6 to 15 digits.")
                ]
            except ResponseError as error:
                for key, reason in error.problems.items():
                    if f"item_{key}" in form:
                        form[f"item_{key}"].errors = [reason]
            except LinkUsed:
                return _used_link()
            else:
                return redirect(url_for("respond.thanks", lang=lang))
        status = 422
    else:
        status = 200
    title = getattr(survey, f"title_{lang}") or survey.title_en or survey.title_fr
    return render_template(
        "respond/form.html",
        form=form,
        items=items,
        side=side,
        survey=survey,
        title=title,
        scales=SCALES,
        lang=lang,
        segments=segments,
    ), status


def _invalid_link() -> tuple[str, int]:
    return _notice(
        _("This link is not valid"),
        _("Please check that the whole link was copied, or ask for a new one."),
        404,
    )


def _used_link() -> tuple[str, int]:
    return _notice(
        _("This link has been used"),
        _("An answer has already been sent with this link, and each link counts once. Thank you for taking part."),
        409,
    )


@blueprint.route("/r/<token>", methods=["GET", "POST"])
def invitation(token: str) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    found = find_invitation(session, token)
    if found is None:
        return _invalid_link()
    if found.used:
        return _used_link()
    if invitation_expired(found):
        return _notice(_("This link has expired"), _("This link is no longer valid. Please ask for a new one."), 410)
    wave = session.get(Wave, found.wave_id)
    survey = session.get(Survey, wave.survey_id) if wave else None
    if wave is None or survey is None:
        return _invalid_link()
    return _answer(survey, wave, found.side, found)


@blueprint.route("/p/<token>", methods=["GET", "POST"])
def public(token: str) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    found = find_public_link(session, token)
    wave, side = found if found else (None, "customer")
    survey = session.get(Survey, wave.survey_id) if wave else None
    if wave is None or survey is None:
        return _invalid_link()
    return _answer(survey, wave, side, None)


@blueprint.route("/thanks")
def thanks() -> str:
    return render_template("respond/thanks.html")


@blueprint.app_template_global()
def switch_language_url(lang: str) -> str:
    args = dict(request.view_args or {})
    return url_for(request.endpoint or "respond.thanks", **args, lang=lang)
