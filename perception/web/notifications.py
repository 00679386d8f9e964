"""An account's notifications, and whether it also wants them by email."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from perception import notifications
from perception.db import get_session
from perception.rich_text import render_markdown
from perception.web.forms import ActionForm
from perception.web.idea_forms import NotificationSettingsForm

blueprint = Blueprint("notifications", __name__, url_prefix="/notifications")


@blueprint.route("/")
@login_required
def index() -> str:
    db = get_session()
    shown = notifications.notifications_of(db, current_user.id)
    settings = NotificationSettingsForm(email=notifications.accepts_email(db, current_user.id))
    return render_template(
        "notifications/index.html",
        shown=[(entry, render_markdown(entry.decision.answer)) for entry in shown],
        settings_form=settings,
        action_form=ActionForm(),
    )


@blueprint.route("/read", methods=["POST"])
@login_required
def read() -> WerkzeugResponse:
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    notifications.mark_all_read(db, current_user.id)
    db.commit()
    return redirect(url_for("notifications.index"))


@blueprint.route("/settings", methods=["POST"])
@login_required
def settings() -> WerkzeugResponse:
    form = NotificationSettingsForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    notifications.set_email(db, current_user.id, bool(form.email.data))
    db.commit()
    flash(
        _("Saved: you will be told by email too.") if form.email.data else _("Saved: you will be told here only."),
        "info",
    )
    return redirect(url_for("notifications.index"))
