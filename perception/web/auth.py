"""Signing in and out."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from sqlmodel import select
from werkzeug.wrappers import Response as WerkzeugResponse

from perception.accounts import SignedInAccount, authenticate
from perception.audit import record
from perception.db import get_session
from perception.models import Account
from perception.throttle import Policy, forget, keys_for, locked_until, note_failure
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


def _policy() -> Policy:
    return Policy(attempts=current_app.config["SIGN_IN_ATTEMPTS"], minutes=current_app.config["LOCKOUT_MINUTES"])


def _locked(form: LoginForm, until: datetime) -> tuple[str, int, dict[str, str]]:
    """The same answer whether or not the email has an account: a lock tells nothing about it."""
    seconds = max(1, math.ceil((until - datetime.now(UTC)).total_seconds()))
    minutes = math.ceil(seconds / 60)
    flash(_("Too many failed sign-ins. Please wait %(minutes)d min and try again.", minutes=minutes), "error")
    return render_template("auth/login.html", form=form), 429, {"Retry-After": str(seconds)}


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | WerkzeugResponse | tuple[str, int] | tuple[str, int, dict[str, str]]:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    session = get_session()
    email = form.email.data or ""
    policy = _policy()
    keys = keys_for(email, request.remote_addr, policy)
    until = locked_until(session, keys)
    if until is not None:
        return _locked(form, until)
    account = authenticate(session, email, form.password.data or "")
    if account is not None:
        forget(session, email)
        session.commit()
        login_user(SignedInAccount(account))
        return redirect(_safe_next(request.args.get("next")))
    if note_failure(session, keys, policy):
        known = session.exec(select(Account.email).where(Account.email == email.strip().lower())).first()
        if known is not None:
            record(session, f"sign-in from {request.remote_addr or 'unknown address'}", "account.lock", known)
        session.commit()
        until = locked_until(session, keys)
        if until is not None:
            return _locked(form, until)
    session.commit()
    flash(_("Wrong email or password."), "error")
    return render_template("auth/login.html", form=form), 401


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout() -> WerkzeugResponse:
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
