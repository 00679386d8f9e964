"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from werkzeug.wrappers import Response as WerkzeugResponse

from perception.accounts import SignedInAccount, authenticate
from perception.db import get_session
from perception.web.forms import LoginForm

blueprint = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so a crafted link cannot send someone elsewhere after login."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | WerkzeugResponse | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        account = authenticate(get_session(), form.email.data or "", form.password.data or "")
        if account is not None:
            login_user(SignedInAccount(account))
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong email or password."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout() -> WerkzeugResponse:
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
