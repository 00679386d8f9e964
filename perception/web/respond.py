"""The respondent's pages: no account, a link, a mobile-first form, a thank-you."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from perception.alerts import AlertError, KnownAddresses, UnknownContactChoice, check_callback
from perception.app import select_locale
from perception.bidi import isolate_text
from perception.db import get_session, without_transaction
from perception.drafts import draft_key, drop_draft, load_draft, save_draft
from perception.invitations import invited_addresses
from perception.models import Invitation, Item, Survey, Wave
from perception.questionnaire import questionnaire
from perception.responses import (
    AlreadyAnswered,
    LinkUsed,
    ResponseError,
    check_answers,
    has_answered,
    invitation_expired,
    record_response,
)
from perception.scales import CSAT_LABELS, MAX_TEXT_LENGTH, SCALES
from perception.segments import DeclaredAttribute, declared
from perception.signed_links import TamperedLink, read_segments
from perception.surveys import items_of, one_click_item
from perception.waves import accepts_answers, find_invitation_survey, find_public_survey, today, wave_status

blueprint = Blueprint("respond", __name__)


def language() -> str:
    """The page's language, as the locale selector chooses it (a code, without building a locale)."""
    return select_locale()


class _FieldShape(NamedTuple):
    """What one item's field depends on: its wording in the page's language, and its scale."""

    key: str
    scale: str
    label: str
    required: bool
    why: bool
    options: tuple[str, ...]


def build_form(
    items: list[Item],
    side: str,
    lang: str,
    segments: list[DeclaredAttribute] = (),  # type: ignore[assignment]
    ask_contact: bool = True,
    formdata: MultiDict | None = None,
    known: KnownAddresses | None = None,
    kept: dict[tuple[Any, ...], type[FlaskForm]] | None = None,
) -> FlaskForm:
    """A form with one field per item, worded for the side and language, and the segment lists.

    Customers are also asked whether, and how, they may be contacted about their answers, unless
    ``ask_contact`` is False (a kiosk: a shared tablet keeps nobody's address). A customer whose
    addresses are ``known`` (an invited contact's) is offered them, masked, besides another one.
    ``kept`` holds the form classes already made for these items, side and segments (a
    questionnaire's own): a respondent's answer then skips describing every item again.
    """
    asked = side == "customer" and ask_contact
    channels = known.channels if asked and known is not None else ()
    contact = channels if asked else None
    form_class = kept.get((lang, contact)) if kept is not None else None
    if form_class is None:
        shape = tuple(
            _FieldShape(
                item.key,
                item.scale,
                item.wording(side, lang),
                item.required,
                bool(item.why),
                tuple(item.option_labels(lang)) if SCALES[item.scale].is_choice else (),
            )
            for item in items
        )
        form_class = _form_class(shape, tuple(segments), contact)
        if kept is not None:
            kept[(lang, contact)] = form_class
    form = form_class(formdata=formdata) if formdata is not None else form_class()
    if channels:
        # The class is shared by every contact with the same channels: the masked addresses are this
        # respondent's own, so they go on this form's choices only.
        form.contact_how.choices = _contact_choices(channels, known)
    return form


def mask_email(email: str) -> str:
    """An email address as a page may show it to whoever holds the link: ``a•••@example.com``."""
    local, _at, domain = email.rpartition("@")
    return f"{local[:1]}•••@{domain}"


def mask_phone(phone: str) -> str:
    """A phone number as a page may show it to whoever holds the link: ``••• ••• 42``."""
    digits = "".join(character for character in phone if character.isdigit())
    return f"••• ••• {digits[-2:]}"


def _contact_choices(channels: tuple[str, ...], known: KnownAddresses | None = None) -> list[SelectChoice]:
    """No; the ``channels`` on record (``known_email``, ``known_phone``), with the addresses masked
    when ``known`` is given; and email or phone at an address typed in."""
    choices = [SelectChoice("no", _l("No, thank you"))]
    if "email" in channels:
        masked = isolate_text(mask_email(known.email)) if known and known.email else "•••"
        choices.append(SelectChoice("known_email", _l("Yes, by email (%(address)s)", address=masked)))
    if "phone" in channels:
        masked = isolate_text(mask_phone(known.phone)) if known and known.phone else "•••"
        choices.append(SelectChoice("known_phone", _l("Yes, by phone (%(number)s)", number=masked)))
    choices.append(
        SelectChoice("email", _l("Yes, by email, at another address") if "email" in channels else _l("Yes, by email"))
    )
    choices.append(
        SelectChoice("phone", _l("Yes, by phone, at another number") if "phone" in channels else _l("Yes, by phone"))
    )
    return choices


class ScaleField(RadioField):
    """An item's radio buttons, whose answer is checked against the scale's values in one lookup.

    ``allowed`` is made once with the form class; WTForms' own check, which walks every choice of
    the scale (eleven for a recommendation), is left for an answer that is not one of them.
    """

    def __init__(self, *args: object, allowed: frozenset[int] = frozenset(), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.allowed = allowed

    def pre_validate(self, form: FlaskForm) -> None:
        if self.process_errors or self.data not in self.allowed:
            super().pre_validate(form)  # WTForms' own check, and its message in the page's language


@lru_cache(maxsize=256)
def _form_class(
    shape: tuple[_FieldShape, ...],
    segments: tuple[DeclaredAttribute, ...],
    contact: tuple[str, ...] | None,
) -> type[FlaskForm]:
    """The form class of one questionnaire's shape, made once per process: each response to the
    same survey uses the same class (its messages stay lazy, so one class serves every language).

    ``contact`` is None when nobody is asked to be contacted, else the channels on record for the
    respondent (empty for a public link): a few classes per survey, never one per contact."""

    class AnswerForm(FlaskForm):
        pass

    if contact is not None:
        # The choice is judged by check_callback, which knows what is on record: a choice that
        # was not offered gets its own message there.
        AnswerForm.contact_how = RadioField(  # type: ignore[attr-defined]
            _l("May we contact you about your answers?"),
            choices=_contact_choices(contact),
            default="no",
            validators=[Optional()],
            validate_choice=False,
        )
        address_label = (
            _l("Another email address or phone number") if contact else _l("Your email address or phone number")
        )
        AnswerForm.contact_address = StringField(  # type: ignore[attr-defined]
            address_label, validators=[Optional(), Length(max=254)]
        )

    for attribute in segments:
        choices = [SelectChoice("", _l("Prefer not to say"))]
        choices += [SelectChoice(str(value_id), isolate_text(value)) for value_id, value in attribute.values]
        field = SelectField(attribute.label, choices=choices, default="")
        setattr(AnswerForm, f"segment_{attribute.name}", field)

    for item in shape:
        scale = SCALES[item.scale]
        if scale.is_text:
            validators = [
                Optional() if not item.required else InputRequired(_l("Please write an answer.")),
                _text_length(),
            ]
            field = TextAreaField(item.label, validators=validators)
        else:
            if scale.is_choice:
                choices = [SelectChoice(number, text) for number, text in enumerate(item.options, 1)]
            else:
                choices = [SelectChoice(value, str(value)) for value in scale.values]
            validators = [InputRequired(_l("Please choose an answer."))] if item.required else [Optional()]
            field = ScaleField(
                item.label,
                choices=choices,
                coerce=int,
                validators=validators,
                allowed=frozenset(int(choice.value) for choice in choices),
            )
            if item.why:
                why = TextAreaField(_l("Why?"), validators=[Optional(), _text_length()])
                setattr(AnswerForm, f"why_{item.key}", why)
        setattr(AnswerForm, f"item_{item.key}", field)
    return AnswerForm


def _text_length() -> Length:
    return Length(max=MAX_TEXT_LENGTH, message=_l("Please keep it under %(max)d characters.", max=MAX_TEXT_LENGTH))


def _notice(title: str, message: str, status: int = 200, home: bool = False) -> tuple[str, int]:
    """A respondent page saying one thing; ``home`` adds a way back for staff answering while signed in."""
    return render_template("respond/notice.html", title=title, message=message, home=home), status


def _closed_notice(wave: Wave, home: bool = False) -> tuple[str, int]:
    """A friendly page for a wave that is not (or no longer) taking answers: never an error."""
    if wave_status(wave) == "not_yet":
        if wave.opens_on and wave.opens_on > today():
            message = _("This survey opens on %(date)s. Please come back then.", date=format_date(wave.opens_on))
        else:
            message = _("This survey is not open yet. Please come back a little later.")
        return _notice(_("This survey is not open yet"), message, home=home)
    if wave.closes_on and wave.closes_on < today():
        message = _("This survey closed on %(date)s. Thank you for your time.", date=format_date(wave.closes_on))
    else:
        message = _("This survey is closed and no longer accepts answers. Thank you for your time.")
    return _notice(_("This survey is closed"), message, home=home)


def _one_click(form: FlaskForm, items: list[Item]) -> Item | None:
    """Choose the score a ``?score=N`` link carries, when it is on the first score item's scale."""
    item = one_click_item(items)
    score = request.args.get("score", "")
    if item is None or not score.lstrip("-").isdigit() or int(score) not in SCALES[item.scale].values:
        return None
    form[f"item_{item.key}"].data = int(score)
    return item


PAGE_SIZE = 5


def pages_of(items: list[Item], wave: Wave | None) -> list[list[Item]]:
    """A long cold survey in pages of PAGE_SIZE items; a hot one (one or two scores and a verbatim) on one."""
    if (wave is not None and wave.kind == "hot") or len(items) <= PAGE_SIZE:
        return [items]
    return [items[start : start + PAGE_SIZE] for start in range(0, len(items), PAGE_SIZE)]


def _page_fields(items: list[Item]) -> list[str]:
    return [name for item in items for name in (f"item_{item.key}", *([f"why_{item.key}"] if item.why else []))]


def answer_page(
    survey: Survey,
    wave: Wave,
    side: str,
    invitation: Invitation | None,
    participant: int | None = None,
    token: str | None = None,
) -> str | WerkzeugResponse | tuple[str, int]:
    """The questionnaire of one wave and side: shown (in pages when long), checked, recorded, thanked for.

    A long survey reached by a one-time link keeps a draft at each page, so that the same link
    resumes it where it was left. A signed-in ``participant`` (staff answering from their home page)
    is shown the way back there once done.
    """
    session: Session = get_session()
    lang = language()
    home = participant is not None
    if not accepts_answers(wave):
        return _closed_notice(wave, home)
    if participant is not None and has_answered(session, wave, participant):
        return _already_answered(home)
    # Employees pick their own segment values from lists; customers' come signed with their link.
    carried: dict[int, int] = {}
    if side == "customer" and request.args.get("s"):
        try:
            carried = read_segments(current_app.config["SECRET_KEY"], session, survey, wave, request.args["s"])
        except TamperedLink:
            return _tampered_link()
    asked = questionnaire(current_app, session, survey, wave, side)
    items, segments = list(asked.items), list(asked.segments)
    pages = pages_of(items, wave)
    resume = draft_key(token) if token and len(pages) > 1 else None
    clicked = None
    page = 0
    known = invited_addresses(session, invitation)
    if request.method == "POST":
        form = build_form(items, side, lang, segments, known=known, kept=asked.forms)
        page = min(
            max(int(request.form.get("page", "0")) if request.form.get("page", "").isdigit() else 0, 0), len(pages) - 1
        )
        move = request.form.get("move")
        if move in ("next", "back") and len(pages) > 1:
            valid = move == "back" or all([form[name].validate(form) for name in _page_fields(pages[page])])
            if valid:
                page = page + 1 if move == "next" else page - 1
                page = min(max(page, 0), len(pages) - 1)
            if resume:
                kept = {key: value for key, value in request.form.items() if key not in ("csrf_token", "page", "move")}
                save_draft(session, resume, wave, kept, page)
            return _form_page(survey, form, items, pages, page, side, lang, segments, None, wave, resume), (
                200 if valid else 422
            )
        status = 422
        if form.validate():
            raw = {item.key: form[f"item_{item.key}"].data for item in items}
            why = {item.key: form[f"why_{item.key}"].data for item in items if item.why}
            chosen = {
                attribute.id: int(form[f"segment_{attribute.name}"].data)
                for attribute in segments
                if form[f"segment_{attribute.name}"].data
            }
            try:
                callback = (
                    check_callback(form.contact_how.data, form.contact_address.data, known)
                    if side == "customer"
                    else None
                )
                answers = check_answers(items, raw, why)
                record_response(
                    current_app, session, survey, wave, side, answers, language=lang, invitation=invitation,
                    segments={**carried, **chosen}, callback=callback, participant=participant,
                )  # fmt: skip
            except UnknownContactChoice:
                form.contact_how.errors = [_("Please choose one of the ways to contact you shown on this page.")]
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
            except AlreadyAnswered:
                return _already_answered(home)
            else:
                if resume:
                    drop_draft(session, resume)
                return redirect(url_for("respond.thanks", lang=lang, **({"home": 1} if home else {})))
        # Show the first page with something to fix.
        page = next(
            (
                number
                for number, on_page in enumerate(pages)
                if any(form[name].errors for name in _page_fields(on_page))
            ),
            page,
        )
    else:
        draft = load_draft(session, resume, wave) if resume else None
        formdata = MultiDict(draft.data) if draft else None
        form = build_form(items, side, lang, segments, formdata=formdata, known=known, kept=asked.forms)
        page = min(draft.page, len(pages) - 1) if draft else 0
        clicked = _one_click(form, items) if page == 0 else None
        status = 200
    return _form_page(survey, form, items, pages, page, side, lang, segments, clicked, wave, resume), status


def _form_page(  # type: ignore[no-untyped-def]
    survey: Survey, form, items, pages, page, side, lang, segments, clicked, wave: Wave | None, resume, **extra
) -> str:
    title = getattr(survey, f"title_{lang}") or survey.title_en or survey.title_fr
    return render_template(
        "respond/form.html", form=form, items=items, pages=pages, page=page, side=side, survey=survey, title=title,
        scales=SCALES, csat_labels=CSAT_LABELS, lang=lang, segments=segments, clicked=clicked,
        hot=wave is not None and wave.kind == "hot", resumable=bool(resume), **extra,
    )  # fmt: skip


def preview_page(survey: Survey, side: str) -> tuple[str, int]:
    """The current version as one side's respondents will see it; sending checks, never records."""
    session: Session = get_session()
    lang = language()
    items = items_of(session, survey)
    segments = declared(session, survey, "employee") if side == "employee" else []
    form = build_form(items, side, lang, segments)
    checked, status = False, 200
    if form.is_submitted():
        status = 422
        if form.validate():
            raw = {item.key: form[f"item_{item.key}"].data for item in items}
            why = {item.key: form[f"why_{item.key}"].data for item in items if item.why}
            try:
                check_answers(items, raw, why)
            except ResponseError as error:
                for key, reason in error.problems.items():
                    if f"item_{key}" in form:
                        form[f"item_{key}"].errors = [reason]
            else:
                checked, status = True, 200
    pages = [items]
    page_html = _form_page(
        survey, form, items, pages, 0, side, lang, segments, None, None, None, preview=True, checked=checked
    )
    return page_html, status


def _already_answered(home: bool = False) -> tuple[str, int]:
    return _notice(
        _("You have answered this survey"),
        _("Your answers to this wave are recorded; each person answers once. Thank you for taking part."),
        409,
        home,
    )


def _tampered_link() -> tuple[str, int]:
    return _notice(
        _("This link has been altered"),
        _(
            "Part of this link was changed after it was sent, so it cannot be used. "
            "Please use the link exactly as you received it."
        ),
        400,
    )


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
    found = find_invitation_survey(get_session(), token)
    if found is None:
        return _invalid_link()
    invitation, wave, survey = found
    if invitation.used:
        return _used_link()
    if invitation_expired(invitation):
        return _notice(_("This link has expired"), _("This link is no longer valid. Please ask for a new one."), 410)
    return answer_page(survey, wave, invitation.side, invitation, token=token)


@blueprint.route("/p/<token>", methods=["GET", "POST"])
def public(token: str) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    # The page reads one row, and its answers are written in one statement (response, answers,
    # segment values, event, consent to be contacted): neither needs a transaction around it.
    without_transaction(session)
    found = find_public_survey(session, token, current_app.extensions["perception"].public_links)
    if found is None:
        return _invalid_link()
    wave, survey, side = found
    return answer_page(survey, wave, side, None)


@blueprint.route("/thanks")
def thanks() -> str:
    # Staff who answered from their home page (``home=1``) are shown the way back to it.
    home = request.args.get("home") == "1" and current_user.is_authenticated
    return render_template("respond/thanks.html", home=home)


@blueprint.app_template_global()
def switch_language_url(lang: str) -> str:
    """The same page in the other language, keeping what the link carries (signed segments, a score)."""
    args = {key: value for key, value in request.args.items() if key != "lang"}
    args.update(request.view_args or {})
    return url_for(request.endpoint or "respond.thanks", **args, lang=lang)
