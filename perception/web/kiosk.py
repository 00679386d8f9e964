"""Kiosk pages: leads set a kiosk up from the wave's sending page; the tablet shows the kiosk itself.

The kiosk's pages form a loop that never leaves its address: a start screen, the customer form,
a thank-you that returns to the start. Each page goes back to the start after a while without a
touch (``static/kiosk.js``; without JavaScript, a refresh does it), no page is kept by the browser
(``Cache-Control: no-store``, forms without autocomplete), so the next person cannot go back to
the previous one's answers. The kiosk asks for no contact details: a shared tablet keeps nobody's.

The pages exist when the ``kiosk`` channel is installed (``plugins/kiosk_channel.py``); the
channel's delivery is what the lead is given to open on the tablet.
"""

from __future__ import annotations

from typing import NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from perception.accounts import role_required
from perception.audit import record
from perception.bidi import isolate, isolate_text
from perception.db import get_session
from perception.kiosk import (
    MAX_NAME_LENGTH,
    KioskError,
    create_kiosk,
    find_kiosk,
    kiosk_segments,
    kiosk_token,
    kiosks_of,
    segment_labels,
    stop_kiosk,
    take_turn,
)
from perception.models import Kiosk, Survey, Wave
from perception.posters import qr_data_uri
from perception.responses import ResponseError, check_answers, record_response
from perception.scales import CSAT_LABELS, SCALES
from perception.segments import DeclaredAttribute, declared
from perception.surveys import items_of
from perception.types import Delivery
from perception.waves import accepts_answers
from perception.web.dispatch import sending_page, wave_or_404
from perception.web.helpers import current_locale
from perception.web.respond import build_form

blueprint = Blueprint("kiosk", __name__)
CHANNEL = "kiosk"
NO_JAVASCRIPT_IDLE_FACTOR = 5  # without JavaScript a refresh cannot tell a touch: it waits longer


@blueprint.record_once
def _exempt_kiosk_form(state: BlueprintSetupState) -> None:
    # The kiosk's form checks its own CSRF token, so that an expired page is answered on the kiosk.
    state.app.extensions["csrf"].exempt(f"{__name__}.answer")


@blueprint.after_request
def _keep_nothing(response: Response) -> Response:
    if request.endpoint in ("kiosk.start", "kiosk.answer", "kiosk.thanks"):
        response.headers["Cache-Control"] = "no-store"
    return response


def kiosks_enabled() -> bool:
    return CHANNEL in current_app.extensions["perception"].registries.channels


def kiosk_address(kiosk: Kiosk, survey: Survey) -> str:
    """The kiosk's start address as the kiosk channel hands it to the lead."""
    token = kiosk_token(current_app.config["SECRET_KEY"], kiosk.id)  # type: ignore[arg-type]
    path = url_for("kiosk.start", token=token)
    base = current_app.config.get("BASE_URL")
    url = base + path if base else url_for("kiosk.start", token=token, _external=True)
    channel = current_app.extensions["perception"].registries.channels[CHANNEL]
    return channel.deliver(
        Delivery(url=url, side="customer", language=survey.default_language, survey_title=survey.title_en)
    )


# The lead's side


class KioskForm(FlaskForm):
    name = StringField(
        _l("Name of the kiosk"),
        validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)],
        description=_l("Where it stands, e.g. Lyon, front desk."),
    )


def kiosk_form(session, survey: Survey) -> tuple[KioskForm, list[DeclaredAttribute]]:  # type: ignore[no-untyped-def]
    """The set-up form, with one list per customer segment (the site, the touchpoint)."""
    attributes = declared(session, survey, "customer")

    class Form(KioskForm):
        pass

    for attribute in attributes:
        # Attribute names and values are the lead's words: each sits in a direction isolate.
        choices = [
            SelectChoice("", _l("Not fixed")),
            *(SelectChoice(value, isolate_text(value)) for _, value in attribute.values),
        ]
        label = isolate(attribute.label)
        setattr(Form, f"segment_{attribute.name}", SelectField(label, choices=choices, default=""))
    return Form(), attributes


def sending_section(survey: Survey, wave: Wave, form: KioskForm | None = None) -> dict[str, object] | None:
    """What the wave's sending page shows of its kiosks, when the kiosk channel is installed."""
    if not kiosks_enabled():
        return None
    session = get_session()
    if form is None:
        form, _attributes = kiosk_form(session, survey)
    return {"form": form, "kiosks": kiosks_of(session, current_app.config["SECRET_KEY"], wave)}


def _wave(slug: str, name: str) -> tuple[Survey, Wave]:
    if not kiosks_enabled():
        abort(404)
    return wave_or_404(slug, name)


def _kiosk_of(wave: Wave, kiosk_id: int) -> Kiosk:
    kiosk = get_session().get(Kiosk, kiosk_id)
    if kiosk is None or kiosk.wave_id != wave.id:
        abort(404)
    return kiosk


@blueprint.route("/surveys/<slug>/waves/<name>/kiosks", methods=["POST"])
@role_required("lead")
def create(slug: str, name: str) -> WerkzeugResponse | tuple[str, int]:
    survey, wave = _wave(slug, name)
    session = get_session()
    form, attributes = kiosk_form(session, survey)
    if not form.validate_on_submit():
        return sending_page(survey, wave, kiosk=form, status=422)
    chosen = {attribute.name: form[f"segment_{attribute.name}"].data for attribute in attributes}
    try:
        kiosk = create_kiosk(session, wave, form.name.data or "", chosen, created_by=current_user.id)
    except KioskError as error:
        session.rollback()
        form.name.errors = [str(error)]
        return sending_page(survey, wave, kiosk=form, status=422)
    fixed = {attribute: value for attribute, value in segment_labels(session, kiosk)}
    record(session, current_user, "kiosk.create", f"{survey.slug} / {wave.name} / {kiosk.name}", fixed)
    session.commit()
    return redirect(url_for("kiosk.show", slug=slug, name=name, kiosk_id=kiosk.id))


@blueprint.route("/surveys/<slug>/waves/<name>/kiosks/<int:kiosk_id>")
@role_required("lead")
def show(slug: str, name: str, kiosk_id: int) -> str:
    survey, wave = _wave(slug, name)
    kiosk = _kiosk_of(wave, kiosk_id)
    address = kiosk_address(kiosk, survey)
    return render_template(
        "kiosk/show.html",
        survey=survey,
        wave=wave,
        kiosk=kiosk,
        address=address,
        qr=qr_data_uri(address),
        segments=segment_labels(get_session(), kiosk),
        open_now=accepts_answers(wave),
    )


@blueprint.route("/surveys/<slug>/waves/<name>/kiosks/<int:kiosk_id>/launch", methods=["POST"])
@role_required("lead")
def launch(slug: str, name: str, kiosk_id: int) -> WerkzeugResponse:
    """Turn this device into the kiosk: the lead is signed out first, so no customer finds the
    lead's pages behind the kiosk."""
    survey, wave = _wave(slug, name)
    kiosk = _kiosk_of(wave, kiosk_id)
    if kiosk.stopped_at is not None:
        abort(404)
    logout_user()
    return redirect(home_url(kiosk, survey))


@blueprint.route("/surveys/<slug>/waves/<name>/kiosks/<int:kiosk_id>/stop", methods=["POST"])
@role_required("lead")
def stop(slug: str, name: str, kiosk_id: int) -> WerkzeugResponse:
    survey, wave = _wave(slug, name)
    kiosk = _kiosk_of(wave, kiosk_id)
    session = get_session()
    if kiosk.stopped_at is None:
        stop_kiosk(kiosk)
        record(session, current_user, "kiosk.stop", f"{survey.slug} / {wave.name} / {kiosk.name}")
        session.commit()
        flash(_("The kiosk is stopped: its address takes no more answers."), "info")
    return redirect(url_for("dispatch.sending", slug=slug, name=name))


# The tablet's side


def home_url(kiosk: Kiosk, survey: Survey) -> str:
    """The start screen, in the survey's language: where the kiosk returns after each person."""
    token = kiosk_token(current_app.config["SECRET_KEY"], kiosk.id)  # type: ignore[arg-type]
    return url_for("kiosk.start", token=token, lang=survey.default_language)


def _running(token: str) -> tuple[Kiosk, Wave, Survey]:
    if not kiosks_enabled():
        _stay(_("This kiosk is not set up"), _("Please ask a member of staff."), 404)
    session = get_session()
    kiosk = find_kiosk(session, current_app.config["SECRET_KEY"], token)
    wave = session.get(Wave, kiosk.wave_id) if kiosk else None
    survey = session.get(Survey, wave.survey_id) if wave else None
    if kiosk is None or wave is None or survey is None:
        _stay(_("This kiosk is not set up"), _("Please ask a member of staff."), 404)
    if kiosk.stopped_at is not None:
        _stay(_("This kiosk is stopped"), _("Please ask a member of staff."), 410)
    return kiosk, wave, survey  # type: ignore[return-value]


def _stay(title: str, message: str, status: int) -> NoReturn:
    """End on a respondent's page, which links nowhere, rather than on the staff's error page."""
    abort(make_response(render_template("respond/notice.html", title=title, message=message), status))


def _title(survey: Survey) -> str:
    language = current_locale()
    return getattr(survey, f"title_{language}", "") or survey.title_en or survey.title_fr


def _page(
    template: str, kiosk: Kiosk, survey: Survey, status: int = 200, idle: int | None = None, **context: object
) -> tuple[str, int]:
    """A kiosk page that goes back to the start after ``idle`` seconds without a touch (0: stays)."""
    idle = current_app.config["KIOSK_IDLE_SECONDS"] if idle is None else idle
    # Without JavaScript a refresh cannot tell whether someone is answering: on the form it waits longer.
    no_script_refresh = idle * NO_JAVASCRIPT_IDLE_FACTOR if template == "kiosk/form.html" else idle
    return render_template(
        template,
        kiosk_token=kiosk_token(current_app.config["SECRET_KEY"], kiosk.id),  # type: ignore[arg-type]
        home=home_url(kiosk, survey),
        idle=idle,
        no_script_refresh=no_script_refresh,
        title=_title(survey),
        survey=survey,
        **context,
    ), status


def _closed(kiosk: Kiosk, survey: Survey) -> tuple[str, int]:
    return _page(
        "kiosk/notice.html",
        kiosk,
        survey,
        heading=_("This survey is not open"),
        message=_("This survey is not accepting answers at the moment. Thank you for your time."),
    )


@blueprint.route("/k/<token>")
def start(token: str) -> tuple[str, int]:
    kiosk, wave, survey = _running(token)
    if not accepts_answers(wave):
        return _closed(kiosk, survey)
    at_home = request.args.get("lang") == survey.default_language  # elsewhere, it comes back to the start's language
    return _page("kiosk/start.html", kiosk, survey, idle=0 if at_home else None)


@blueprint.route("/k/<token>/answer", methods=["GET", "POST"])
def answer(token: str) -> WerkzeugResponse | tuple[str, int]:
    kiosk, wave, survey = _running(token)
    if not accepts_answers(wave):
        return _closed(kiosk, survey)
    session = get_session()
    language = current_locale()
    items = items_of(session, survey, wave)
    form = build_form(items, "customer", language, ask_contact=False)
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            raw = {item.key: form[f"item_{item.key}"].data for item in items}
            why = {item.key: form[f"why_{item.key}"].data for item in items if item.why}
            try:
                answers = check_answers(items, raw, why)
            except ResponseError as error:
                for key, reason in error.problems.items():
                    if f"item_{key}" in form:
                        form[f"item_{key}"].errors = [reason]
            else:
                if not take_turn(session, kiosk, current_app.config["KIOSK_PER_MINUTE"]):
                    session.rollback()
                    return _page(
                        "kiosk/notice.html",
                        kiosk,
                        survey,
                        status=429,
                        heading=_("One moment, please"),
                        message=_("This kiosk has taken many answers in the last minute. Please try again shortly."),
                        idle=current_app.config["KIOSK_THANKS_SECONDS"],
                    )
                segments = kiosk_segments(session, kiosk)
                record_response(
                    current_app, session, survey, wave, "customer", answers, language=language, segments=segments
                )
                return redirect(url_for("kiosk.thanks", token=token, lang=language), 303)
    return _page(
        "kiosk/form.html",
        kiosk,
        survey,
        status=status,
        form=form,
        items=items,
        pages=[items],
        page=0,
        side="customer",
        scales=SCALES,
        csat_labels=CSAT_LABELS,
        lang=language,
        segments=[],
    )


@blueprint.route("/k/<token>/thanks")
def thanks(token: str) -> tuple[str, int]:
    kiosk, _wave, survey = _running(token)
    return _page("kiosk/thanks.html", kiosk, survey, idle=current_app.config["KIOSK_THANKS_SECONDS"])


@blueprint.route("/k/<token>/manifest.webmanifest")
def manifest(token: str) -> Response:
    """Added to a tablet's home screen, the kiosk opens full screen, without the browser's bars."""
    kiosk, _wave, survey = _running(token)
    home = home_url(kiosk, survey)
    body = {
        "name": _title(survey),
        "short_name": kiosk.name[:30],
        # The manifest's own way to set the names' direction: from their first strong character,
        # so that a right-to-left name shows as written; isolate characters could show as boxes.
        "dir": "auto",
        "lang": current_locale(),
        "start_url": home,
        "scope": url_for("kiosk.start", token=token),
        "display": "fullscreen",
        "background_color": "#ffffff",
        "theme_color": "#1d2330",
        "icons": [{"src": url_for("static", filename="favicon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    response = current_app.json.response(body)
    response.mimetype = "application/manifest+json"
    return response
