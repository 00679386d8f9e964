"""Each role's home page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as WerkzeugResponse

blueprint = Blueprint("home", __name__)


@blueprint.route("/")
@login_required
def index() -> str | WerkzeugResponse:
    if current_user.has_role("lead", "leader"):
        return redirect(url_for("surveys.index"))
    return render_template("home/employee.html")
