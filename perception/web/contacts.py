"""The contacts page (leads import and forget contacts) and the unsubscribe page (anyone with the link)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlmodel import select
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from perception.accounts import role_required
from perception.audit import record
from perception.contacts import (
    ContactError,
    contact_counts,
    contact_for_unsubscribe_token,
    find_contact,
    forget_contact,
    forgotten_target,
    import_contacts,
    import_detail,
    parse_mapping,
    unsubscribe,
)
from perception.db import get_session
from perception.imports import ImportRefused
from perception.models import Survey

blueprint = Blueprint("contacts", __name__)
SHOWN_PROBLEMS = 200
KIND_CHOICES = [SelectChoice("customer", _l("Customers")), SelectChoice("employee", _l("Employees"))]


@blueprint.record_once
def _exempt_unsubscribe(state: BlueprintSetupState) -> None:
    # The unsubscribe link is its own proof; mail programs post to it without a session (RFC 8058).
    state.app.extensions["csrf"].exempt(f"{__name__}.unsubscribe_page")


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file (UTF-8, comma or semicolon)"), validators=[FileRequired()])
    kind = SelectField(_l("The file lists"), choices=KIND_CHOICES)
    survey = SelectField(_l("Check segment values against"))
    language = SelectField(
        _l("Language of rows without one"), choices=[SelectChoice("en", "English"), SelectChoice("fr", "Français")]
    )
    mapping = TextAreaField(
        _l("Column mapping (optional), one per line, e.g. email=E-mail or segment:region=Region"),
        validators=[Length(max=4000)],
    )


class ForgetForm(FlaskForm):
    address = StringField(_l("Email or phone number"), validators=[DataRequired(), Length(max=254)])
    kind = SelectField(_l("Contact"), choices=[SelectChoice("", _l("Customer and employee")), *KIND_CHOICES])


def _import_form() -> ImportForm:
    form = ImportForm()
    surveys = get_session().exec(select(Survey).order_by(Survey.slug)).all()
    form.survey.choices = [SelectChoice("", _l("any survey")), *(SelectChoice(s.slug, s.slug) for s in surveys)]
    return form


def _page(import_form: ImportForm, forget_form: ForgetForm, problems: list[str] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "contacts/index.html",
        counts=contact_counts(get_session()),
        import_form=import_form,
        forget_form=forget_form,
        problems=(problems or [])[:SHOWN_PROBLEMS],
        more_problems=max(0, len(problems or []) - SHOWN_PROBLEMS),
    ), status


@blueprint.route("/contacts")
@role_required("lead")
def index():  # type: ignore[no-untyped-def]
    return _page(_import_form(), ForgetForm())


@blueprint.route("/contacts/import", methods=["POST"])
@role_required("lead")
def import_view():  # type: ignore[no-untyped-def]
    form = _import_form()
    if not form.validate_on_submit():
        return _page(form, ForgetForm(), status=422)
    session = get_session()
    try:
        mapping = parse_mapping(line for line in (form.mapping.data or "").splitlines() if line.strip()) or None
    except ContactError as error:
        form.mapping.errors = [str(error)]
        return _page(form, ForgetForm(), status=422)
    survey = session.exec(select(Survey).where(Survey.slug == form.survey.data)).first() if form.survey.data else None
    try:
        summary = import_contacts(
            session, form.kind.data or "customer", form.file.data.read(), mapping, survey, form.language.data or "en"
        )
    except ImportRefused as error:
        session.rollback()
        return _page(form, ForgetForm(), problems=error.problems, status=422)
    record(session, current_user, "contacts.import", f"{form.kind.data} contacts", import_detail(summary, survey))
    session.commit()
    flash(
        _(
            "Imported %(count)d contacts: %(created)d new, %(updated)d updated, %(merged)d duplicate lines merged.",
            count=summary.created + summary.updated,
            created=summary.created,
            updated=summary.updated,
            merged=summary.merged_lines,
        ),
        "info",
    )
    if summary.ignored_columns:
        flash(_("Columns not imported: %(columns)s", columns=", ".join(summary.ignored_columns)), "info")
    return redirect(url_for("contacts.index"))


@blueprint.route("/contacts/forget", methods=["POST"])
@role_required("lead")
def forget_view():  # type: ignore[no-untyped-def]
    form = ForgetForm()
    if not form.validate_on_submit():
        return _page(_import_form(), form, status=422)
    session = get_session()
    try:
        found = find_contact(session, form.address.data or "", form.kind.data or None)
    except ContactError as error:
        form.address.errors = [str(error)]
        return _page(_import_form(), form, status=422)
    if not found:
        form.address.errors = [_("No contact has this address.")]
        return _page(_import_form(), form, status=404)
    target = forgotten_target(found)
    for contact in found:
        forget_contact(session, contact)
    record(session, current_user, "contacts.forget", target, {"count": len(found)})
    session.commit()
    flash(_("The contact was erased. Responses stay in the reports, without anything that names the person."), "info")
    return redirect(url_for("contacts.index"))


@blueprint.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    contact = contact_for_unsubscribe_token(session, current_app.config["SECRET_KEY"], token)
    if contact is None:
        abort(404)
    if request.method == "POST":
        unsubscribe(session, contact)
        session.commit()
        return render_template(
            "respond/notice.html",
            title=_("You are unsubscribed"),
            message=_("You will receive no more surveys from us. Thank you for your past answers."),
        )
    return render_template("contacts/unsubscribe.html", token=token, done=contact.unsubscribed_at is not None)
