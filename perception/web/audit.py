"""The admins' view of the audit log, with filters; the log itself is kept by ``perception.audit``."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from perception.accounts import role_required
from perception.audit import PAGE_SIZE, AuditFilter, events, known_actions
from perception.db import get_session

blueprint = Blueprint("audit", __name__, url_prefix="/audit")


class AuditFilterForm(FlaskForm):
    """Filters read from the query string: a GET that changes nothing needs no CSRF token."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), default="", validate_choice=True)
    actor = StringField(_l("Who"), validators=[Optional(), Length(max=254)])
    target = StringField(_l("On what"), validators=[Optional(), Length(max=200)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    before = IntegerField(validators=[Optional(), NumberRange(min=1)])


@blueprint.route("/")
@role_required("admin")
def index() -> tuple[str, int]:
    session = get_session()
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = [SelectChoice("", _l("All actions")), *(SelectChoice(a, a) for a in known_actions(session))]
    if request.args and not form.validate():
        return render_template("audit/index.html", form=form, events=[], older=None), 422
    wanted = AuditFilter(
        action=form.action.data or "",
        actor=(form.actor.data or "").strip(),
        target=(form.target.data or "").strip(),
        since=form.since.data,
        until=form.until.data,
        before_id=form.before.data,
    )
    found = events(session, wanted, PAGE_SIZE + 1)
    older = None
    if len(found) > PAGE_SIZE:
        found = found[:PAGE_SIZE]
        older = {**request.args.to_dict(), "before": found[-1].id}
    return render_template("audit/index.html", form=form, events=found, older=older), 200
