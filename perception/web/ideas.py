"""The idea box's pages: browse, post, support, compare in pairs, and leads' decisions."""

from __future__ import annotations

import random
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from perception import ideas
from perception.accounts import role_required
from perception.audit import record
from perception.bidi import isolate_text
from perception.db import get_session
from perception.idea_impact import ideas_addressing, impact
from perception.ideas import IdeaError
from perception.models import IDEA_STATES, Account, Idea, Item, Survey
from perception.rich_text import render_markdown
from perception.tasks import emit
from perception.types import IdeaStateChanged
from perception.web.forms import ActionForm
from perception.web.helpers import current_locale
from perception.web.idea_forms import DecisionForm, IdeaForm, MergeForm, ReportForm, state_choices

blueprint = Blueprint("ideas", __name__, url_prefix="/ideas")

IDEA_STATE_LABELS: dict[str, Any] = {
    "submitted": _l("submitted"),
    "under_review": _l("under review"),
    "accepted": _l("accepted"),
    "in_progress": _l("in progress"),
    "implemented": _l("implemented"),
    "declined": _l("declined"),
    "merged": _l("merged"),
}
ORDER_LABELS: dict[str, Any] = {
    "random": _l("random"),
    "newest": _l("newest"),
    "supported": _l("most supported"),
}


def _is_lead() -> bool:
    return bool(current_user.has_role("lead"))


def _seed() -> int:
    """The viewer's shuffle of the ideas, kept for their session (Decidim's random order)."""
    if "idea_seed" not in session:
        session["idea_seed"] = ideas.new_seed()
    return int(session["idea_seed"])


def _idea_or_404(idea_id: int) -> Idea:
    idea = get_session().get(Idea, idea_id)
    if idea is None or not ideas.can_see(idea, _is_lead()):
        abort(404)
    return idea


def _target_choices() -> list[tuple[str, str]]:
    choices = [("", _("Nothing in particular"))]
    for choice in ideas.target_choices(get_session(), current_locale()):
        kind = {"item": _("item"), "dimension": _("dimension"), "touchpoint": _("touchpoint")}[choice.target.kind]
        label = f"{isolate_text(choice.survey_title)} · {kind}: {isolate_text(choice.label)}"
        choices.append((choice.target.value, label))
    return choices


@blueprint.route("/")
@login_required
def index() -> str:
    db = get_session()
    state = request.args.get("state") or None
    state = state if state in IDEA_STATES else None
    default_order = "random" if state in (None, *ideas.OPEN_STATES) else "newest"
    order = request.args.get("order") or default_order
    order = order if order in ideas.ORDERS else default_order
    dimension = request.args.get("dimension") or None
    page = request.args.get("page", 1, type=int) or 1
    listed, total = ideas.browse(db, _is_lead(), _seed(), order, dimension, state, page)
    return render_template(
        "ideas/index.html",
        listed=listed,
        total=total,
        page=page,
        pages=max(1, -(-total // ideas.PAGE_SIZE)),
        order=order,
        state=state,
        dimension=dimension,
        dimensions=ideas.dimensions_in_use(db),
        order_labels=ORDER_LABELS,
        moderation=len(ideas.awaiting_moderation(db)) if _is_lead() else 0,
    )


@blueprint.route("/new", methods=["GET", "POST"])
@login_required
def new() -> str | WerkzeugResponse:
    db = get_session()
    form = IdeaForm()
    form.target.choices = _target_choices()
    if request.method == "GET" and request.args.get("target"):
        form.target.data = request.args["target"]  # from a blind spot on the report
    similar: list[tuple[Idea, float]] | None = None
    if request.method == "POST" and request.form.get("action") == "check":
        # The step that works without JavaScript: show look-alikes before posting.
        form.validate()
        similar = ideas.similar_ideas(db, form.title.data or "")
    elif form.validate_on_submit():
        try:
            target = ideas.parse_target(db, form.target.data)
            idea = ideas.post_idea(
                db, current_user.id, form.title.data or "", form.body.data or "", target, bool(form.anonymous.data)
            )
        except IdeaError as error:
            db.rollback()
            form.title.errors = [*form.title.errors, str(error)]
        else:
            db.commit()
            flash(_("Your idea is posted."), "info")
            return redirect(url_for("ideas.show", idea_id=idea.id))
    return render_template("ideas/new.html", form=form, similar=similar)


@blueprint.route("/similar")
@login_required
def similar() -> WerkzeugResponse:
    """Look-alike ideas as JSON, for the title field's suggestions while typing."""
    exclude = request.args.get("exclude", type=int)
    found = ideas.similar_ideas(get_session(), request.args.get("title", "")[:160], exclude=exclude)
    return jsonify(
        [
            {
                "id": idea.id,
                "title": idea.title,
                "state": str(IDEA_STATE_LABELS[idea.state]),
                "url": url_for("ideas.show", idea_id=idea.id),
            }
            for idea, _score in found
        ]
    )


def _link_of(idea: Idea) -> dict[str, Any] | None:
    db = get_session()
    if idea.survey_id is None:
        return None
    survey = db.get(Survey, idea.survey_id)
    item = db.get(Item, idea.item_id) if idea.item_id else None
    return {"survey": survey, "item": item, "dimension": idea.dimension, "touchpoint": idea.touchpoint}


@blueprint.route("/<int:idea_id>")
@login_required
def show(idea_id: int) -> str:
    db = get_session()
    idea = _idea_or_404(idea_id)
    author = db.get(Account, idea.author_id) if idea.author_id else None
    decision_form = DecisionForm()
    decision_form.state.choices = state_choices(IDEA_STATE_LABELS, idea.state)
    decisions = ideas.decisions(db, idea)
    leads = {
        account.id: account
        for account in (db.get(Account, decision.lead_id) for decision in decisions if decision.lead_id)
        if account
    }
    return render_template(
        "ideas/show.html",
        idea=idea,
        body=render_markdown(idea.body),
        author=author,
        link=_link_of(idea),
        supports=ideas.support_count(db, idea),
        supporting=ideas.supports(db, idea, current_user.id),
        open_for_votes=idea.state in ideas.OPEN_STATES and idea.moderation == "visible",
        decisions=[(decision, render_markdown(decision.answer), leads.get(decision.lead_id)) for decision in decisions],
        merged_into=db.get(Idea, idea.merged_into_id) if idea.merged_into_id else None,
        reports=ideas.open_reports(db, idea) if _is_lead() else [],
        impact=impact(
            db,
            idea,
            current_app.extensions["perception"].registries.scoring_models,
            current_app.config["REPORTING_THRESHOLD"],
        ),
        action_form=ActionForm(),
        decision_form=decision_form,
        merge_form=MergeForm(prefix="merge"),
        report_form=ReportForm(),
    )


def _back(idea: Idea) -> WerkzeugResponse:
    return redirect(url_for("ideas.show", idea_id=idea.id))


@blueprint.route("/<int:idea_id>/support", methods=["POST"])
@login_required
def support(idea_id: int) -> WerkzeugResponse:
    db = get_session()
    idea = _idea_or_404(idea_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if request.form.get("withdraw"):
            ideas.withdraw_support(db, idea, current_user.id)
            message = _("Your support is withdrawn.")
        else:
            ideas.support(db, idea, current_user.id)
            message = _("You support this idea.")
    except IdeaError as error:
        db.rollback()
        flash(str(error), "error")
    else:
        db.commit()
        flash(message, "info")
    return _back(idea)


@blueprint.route("/<int:idea_id>/report", methods=["POST"])
@login_required
def report(idea_id: int) -> WerkzeugResponse:
    db = get_session()
    idea = _idea_or_404(idea_id)
    form = ReportForm()
    if not form.validate_on_submit():
        for error in form.reason.errors:
            flash(str(error), "error")
        return _back(idea)
    try:
        ideas.report_idea(db, idea, current_user.id, form.reason.data or "", current_app.config["IDEA_REPORTS_TO_HIDE"])
    except IdeaError as error:
        db.rollback()
        flash(str(error), "error")
        return _back(idea)
    db.commit()
    flash(_("Thank you: moderators will look at this idea."), "info")
    if idea.moderation != "visible" and not _is_lead():
        return redirect(url_for("ideas.index"))
    return _back(idea)


def _emit_decision(idea: Idea, decision: Any) -> None:
    """Tell plugins, through the queue, once the decision is committed."""
    emit(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        "perception_idea_state_changed",
        IdeaStateChanged(
            idea_id=idea.id,  # type: ignore[arg-type]
            title=idea.title,
            from_state=decision.from_state,
            to_state=decision.to_state,
            answer=decision.answer,
            decided_on=decision.created_at.date(),
            merged_into=idea.merged_into_id,
            decision_id=decision.id,
        ),
    )


@blueprint.route("/<int:idea_id>/decide", methods=["POST"])
@role_required("lead")
def decide(idea_id: int) -> WerkzeugResponse:
    db = get_session()
    idea = _idea_or_404(idea_id)
    form = DecisionForm()
    form.state.choices = state_choices(IDEA_STATE_LABELS, idea.state)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return _back(idea)
    try:
        decision = ideas.change_state(db, idea, current_user.id, form.state.data or "", form.answer.data or "")
    except IdeaError as error:
        db.rollback()
        flash(str(error), "error")
        return _back(idea)
    record(db, current_user, "idea.decide", f"#{idea.id} {idea.title}", {"from": decision.from_state, "to": idea.state})
    db.commit()
    _emit_decision(idea, decision)
    flash(_("The idea is now %(state)s; its followers are told.", state=IDEA_STATE_LABELS[idea.state]), "info")
    return _back(idea)


@blueprint.route("/<int:idea_id>/merge", methods=["POST"])
@role_required("lead")
def merge(idea_id: int) -> WerkzeugResponse:
    db = get_session()
    idea = _idea_or_404(idea_id)
    form = MergeForm(prefix="merge")
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return _back(idea)
    kept = db.get(Idea, form.into.data)
    if kept is None:
        flash(_("There is no idea #%(id)s.", id=form.into.data), "error")
        return _back(idea)
    try:
        decision = ideas.merge(db, idea, kept, current_user.id, form.answer.data or "")
    except IdeaError as error:
        db.rollback()
        flash(str(error), "error")
        return _back(idea)
    record(db, current_user, "idea.merge", f"#{idea.id} {idea.title}", {"into": kept.id})
    db.commit()
    _emit_decision(idea, decision)
    flash(_("Merged: supports moved to this idea, and the merged idea's followers are told."), "info")
    return _back(kept)


@blueprint.route("/<int:idea_id>/moderate", methods=["POST"])
@role_required("lead")
def moderate(idea_id: int) -> WerkzeugResponse:
    db = get_session()
    idea = _idea_or_404(idea_id)
    if not ActionForm().validate_on_submit() or request.form.get("ruling") not in ("keep", "remove"):
        abort(400)
    ideas.moderate(db, idea, keep=request.form["ruling"] == "keep")
    record(db, current_user, "idea.moderate", f"#{idea.id} {idea.title}", {"ruling": request.form["ruling"]})
    db.commit()
    flash(_("The idea shows again.") if idea.moderation == "visible" else _("The idea is removed."), "info")
    return _back(idea)


@blueprint.route("/moderation")
@role_required("lead")
def moderation() -> str:
    db = get_session()
    waiting = [(idea, ideas.open_reports(db, idea)) for idea in ideas.awaiting_moderation(db)]
    return render_template("ideas/moderation.html", waiting=waiting)


@blueprint.route("/pairs", methods=["GET", "POST"])
@login_required
def pairs() -> str | WerkzeugResponse:
    """ "Which of these two ideas would help customers more?" The pair offered is remembered in
    the session, so an answer counts only for the pair that was shown, and only once."""
    db = get_session()
    if request.method == "POST":
        offered = session.pop("idea_pair", None)
        choice = request.form.get("choice", type=int)
        if not ActionForm().validate_on_submit():
            abort(400)
        if request.form.get("skip"):
            return redirect(url_for("ideas.pairs"))
        if not offered or choice not in offered:
            flash(_("That pair was already answered or is no longer offered: here is a new one."), "error")
            return redirect(url_for("ideas.pairs"))
        winner = db.get(Idea, choice)
        loser = db.get(Idea, next(idea_id for idea_id in offered if idea_id != choice))
        try:
            if winner is None or loser is None:
                raise IdeaError(_l("One of the two ideas is no longer open to votes."))
            ideas.record_comparison(db, winner, loser)
        except IdeaError as error:
            db.rollback()
            flash(str(error), "error")
        else:
            db.commit()
            flash(_("Thank you. Here is another pair."), "info")
        return redirect(url_for("ideas.pairs"))
    pair = ideas.next_pair(db, random.Random())
    session["idea_pair"] = [pair[0].id, pair[1].id] if pair else None
    return render_template(
        "ideas/pairs.html",
        pair=[(idea, render_markdown(idea.body)) for idea in pair] if pair else None,
        action_form=ActionForm(),
    )


@blueprint.route("/ranking")
@login_required
def ranking() -> str:
    db = get_session()
    ranked = ideas.ranking(db)
    titles = {idea.id: idea for idea in (db.get(Idea, entry.idea_id) for entry in ranked) if idea}
    return render_template("ideas/ranking.html", ranked=ranked, ideas_by_id=titles)


@blueprint.app_template_global("idea_state_label")
def idea_state_label(state: str) -> str:
    return str(IDEA_STATE_LABELS.get(state, state))


@blueprint.app_template_global("ideas_addressing_blind_spots")
def ideas_addressing_blind_spots(report: Any) -> dict[int, list[Idea]]:
    """For the gap report: the ideas that address each of its blind spots."""
    return ideas_addressing(get_session(), report.survey, [row.item for row in report.ranked("blind_spot")])


@blueprint.app_template_global("unread_notifications")
def unread_notifications() -> int:
    """The badge in the navigation: decisions on followed ideas not seen yet."""
    from perception.notifications import unread_count

    if not current_user or not current_user.is_authenticated:
        return 0
    return unread_count(get_session(), current_user.id)
