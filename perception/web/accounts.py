"""Admins manage accounts: create them with a role, switch them off and on."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select
from werkzeug.wrappers import Response as WerkzeugResponse

from perception.accounts import AccountError, create_account, role_required
from perception.audit import record
from perception.db import get_session
from perception.models import Account, ApiToken
from perception.tokens import SCOPES, TokenError, create_token, revoke
from perception.web.forms import AccountForm, ActionForm, TokenForm

blueprint = Blueprint("accounts", __name__, url_prefix="/accounts")


def _page(form: AccountForm, status: int = 200) -> tuple[str, int]:
    accounts = get_session().exec(select(Account).order_by(Account.role, Account.email)).all()
    return render_template("accounts/index.html", accounts=accounts, form=form, action_form=ActionForm()), status


@blueprint.route("/", methods=["GET", "POST"])
@role_required("admin")
def index() -> tuple[str, int] | WerkzeugResponse:
    form = AccountForm()
    if not form.validate_on_submit():
        return _page(form, 422 if form.is_submitted() else 200)
    session = get_session()
    try:
        account = create_account(
            session,
            form.email.data or "",
            form.role.data or "",
            form.password.data or "",
            name=form.name.data or "",
            language=form.language.data or "en",
        )
    except AccountError as error:
        session.rollback()
        wrong = getattr(form, error.field, form.email)
        wrong.errors = [*wrong.errors, str(error)]
        return _page(form, 422)
    record(session, current_user, "account.create", account.email, {"role": account.role})
    session.commit()
    flash(_("Account created for %(email)s.", email=account.email), "info")
    return redirect(url_for("accounts.index"))


@blueprint.route("/<int:account_id>/active", methods=["POST"])
@role_required("admin")
def toggle_active(account_id: int) -> WerkzeugResponse:
    session = get_session()
    account = session.get(Account, account_id)
    if account is None:
        abort(404)
    if account.id == current_user.id:
        flash(_("You cannot switch off your own account."), "error")
        return redirect(url_for("accounts.index"))
    account.active = not account.active
    record(session, current_user, "account.enable" if account.active else "account.disable", account.email)
    session.commit()
    message = _("%(email)s can sign in again.") if account.active else _("%(email)s can no longer sign in.")
    flash(message % {"email": account.email}, "info")
    return redirect(url_for("accounts.index"))


def _tokens_page(form: TokenForm, status: int = 200, made: str | None = None) -> tuple[str, int]:
    tokens = get_session().exec(select(ApiToken).order_by(ApiToken.created_at.desc())).all()  # type: ignore[attr-defined]
    return render_template(
        "accounts/tokens.html", tokens=tokens, form=form, action_form=ActionForm(), made=made, scopes=SCOPES
    ), status


@blueprint.route("/tokens", methods=["GET", "POST"])
@role_required("admin")
def tokens() -> tuple[str, int]:
    """API tokens: made with a name and scopes, shown once, revocable."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, 422 if form.is_submitted() else 200)
    session = get_session()
    try:
        token, clear = create_token(session, form.name.data or "", list(form.scopes.data or []), current_user.id)
    except TokenError as error:
        session.rollback()
        form.name.errors = [*form.name.errors, str(error)]
        return _tokens_page(form, 422)
    record(session, current_user, "token.create", token.name, {"scopes": token.scopes})
    session.commit()
    return _tokens_page(TokenForm(formdata=None), 201, made=clear)


@blueprint.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke_token(token_id: int) -> WerkzeugResponse:
    session = get_session()
    token = session.get(ApiToken, token_id)
    if token is None:
        abort(404)
    if token.revoked_at is None:
        revoke(token)
        record(session, current_user, "token.revoke", token.name)
    session.commit()
    flash(_("Token %(name)s revoked: it no longer opens the API.", name=token.name), "info")
    return redirect(url_for("accounts.tokens"))
