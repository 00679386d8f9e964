"""Admins register webhook endpoints, read their delivery log and send them a test event."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select
from werkzeug.wrappers import Response as WerkzeugResponse

from perception.accounts import role_required
from perception.audit import record
from perception.db import get_session
from perception.models import WebhookEndpoint
from perception.web.forms import ActionForm, WebhookForm
from perception.webhooks import EVENT_TYPES, WebhookError, create_endpoint, recent_deliveries, send_test_event

blueprint = Blueprint("webhooks", __name__, url_prefix="/accounts/webhooks")


def _index(form: WebhookForm, status: int = 200) -> tuple[str, int]:
    endpoints = get_session().exec(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    return render_template("webhooks/index.html", endpoints=endpoints, form=form), status


@blueprint.route("/", methods=["GET", "POST"])
@role_required("admin")
def index() -> tuple[str, int] | WerkzeugResponse:
    form = WebhookForm()
    form.events.choices = list(EVENT_TYPES)
    if not form.validate_on_submit():
        return _index(form, 422 if form.is_submitted() else 200)
    session = get_session()
    try:
        endpoint = create_endpoint(
            session, form.url.data or "", list(form.events.data or []), form.description.data or "", current_user.id
        )
    except WebhookError as error:
        session.rollback()
        form.url.errors = [*form.url.errors, str(error)]
        return _index(form, 422)
    record(session, current_user, "webhook.create", endpoint.url, {"events": endpoint.events})
    session.commit()
    flash(_("Endpoint registered. Give its signing secret to the receiver."), "info")
    return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint.id))


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = get_session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@blueprint.route("/<int:endpoint_id>")
@role_required("admin")
def endpoint(endpoint_id: int) -> str:
    found = _endpoint_or_404(endpoint_id)
    return render_template(
        "webhooks/endpoint.html",
        endpoint=found,
        deliveries=recent_deliveries(get_session(), found.id),
        action_form=ActionForm(),
    )


@blueprint.route("/<int:endpoint_id>/test", methods=["POST"])
@role_required("admin")
def test(endpoint_id: int) -> WerkzeugResponse:
    found = _endpoint_or_404(endpoint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    get_session().close()
    send_test_event(current_app._get_current_object(), found.id)  # type: ignore[attr-defined]
    flash(_("Test event queued: its delivery shows below."), "info")
    return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint_id))


@blueprint.route("/<int:endpoint_id>/active", methods=["POST"])
@role_required("admin")
def toggle(endpoint_id: int) -> WerkzeugResponse:
    found = _endpoint_or_404(endpoint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    found.active = not found.active
    record(get_session(), current_user, "webhook.enable" if found.active else "webhook.disable", found.url)
    get_session().commit()
    flash(_("Endpoint switched on.") if found.active else _("Endpoint switched off: it gets no more events."), "info")
    return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint_id))


@blueprint.route("/<int:endpoint_id>/delete", methods=["POST"])
@role_required("admin")
def delete(endpoint_id: int) -> WerkzeugResponse:
    found = _endpoint_or_404(endpoint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    session = get_session()
    record(session, current_user, "webhook.delete", found.url)
    session.delete(found)
    session.commit()
    flash(_("Endpoint deleted, with its delivery log."), "info")
    return redirect(url_for("webhooks.index"))
