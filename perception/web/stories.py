"""Best-failure stories: write, review, publish, read, applaud and thank."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import select
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from perception.accounts import role_required
from perception.alerts import aware
from perception.audit import record
from perception.bidi import isolate_text
from perception.db import get_session, session_scope
from perception.models import Account, Alert, Story, StoryApplause
from perception.report import DimensionRow, GapReport
from perception.stories import (
    MAX_PART_LENGTH,
    MAX_TITLE_LENGTH,
    PILLARS,
    StoryError,
    StoryText,
    applaud,
    applause_counts,
    archive,
    people_of,
    publish,
    published,
    send_back,
    stories_by_dimension,
    thank,
    thanks_of,
    vocabulary,
    write,
)
from perception.web.forms import ActionForm

blueprint = Blueprint("stories", __name__, url_prefix="/stories")
EVERYONE = ("lead", "leader", "employee")

STATE_LABELS = {
    "draft": _l("draft"),
    "submitted": _l("waiting for review"),
    "published": _l("published"),
    "archived": _l("archived"),
}
PILLAR_LABELS = {
    "Integrity": _l("Integrity"),
    "Resolution": _l("Resolution"),
    "Expectations": _l("Expectations"),
    "Time and Effort": _l("Time and Effort"),
    "Personalisation": _l("Personalisation"),
    "Empathy": _l("Empathy"),
}


class StoryForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=MAX_TITLE_LENGTH)])
    problem = TextAreaField(_l("The problem: what happened to the customer?"), validators=[Length(max=MAX_PART_LENGTH)])
    action = TextAreaField(_l("What was done, and by whom?"), validators=[Length(max=MAX_PART_LENGTH)])
    outcome = TextAreaField(_l("The outcome for the customer"), validators=[Length(max=MAX_PART_LENGTH)])
    lesson = TextAreaField(_l("The lesson: what do we do differently now?"), validators=[Length(max=MAX_PART_LENGTH)])
    touchpoint = SelectField(_l("Touchpoint"), validators=[Optional()])
    dimension = SelectField(_l("Dimension"), validators=[Optional()])
    people = SelectMultipleField(
        _l("Colleagues in this story"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],
    )
    alert = HiddenField()


class ThanksForm(FlaskForm):
    person = SelectField(_l("Colleague"), coerce=int)
    pillar = SelectField(_l("For"), choices=[SelectChoice(pillar, PILLAR_LABELS[pillar]) for pillar in PILLARS])


@blueprint.app_template_global()
def story_state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))


@blueprint.app_template_global()
def pillar_label(pillar: str) -> str:
    return str(PILLAR_LABELS.get(pillar, pillar))


@blueprint.app_template_global()
def stories_of_period(report: GapReport) -> list[tuple[DimensionRow | None, list[Story]]]:
    """For the report and the board pack: the period's stories beside the dimension rows they touch."""
    rows = {row.name: row for row in report.dimensions}
    with session_scope(current_app) as session:
        grouped = stories_by_dimension(session, report.wave, list(rows))
    return [(rows.get(name) if name else None, stories) for name, stories in sorted(
        grouped.items(), key=lambda pair: (pair[0] is None, pair[0] or "")
    )]  # fmt: skip


def _story_or_404(story_id: int) -> Story:
    story = get_session().get(Story, story_id)
    if story is None:
        abort(404)
    return story


def _is_author(story: Story) -> bool:
    return story.author_id is not None and story.author_id == current_user.id


def _may_read(story: Story) -> bool:
    return story.state == "published" or _is_author(story) or current_user.has_role("lead")


def _fill_choices(form: StoryForm) -> None:
    session = get_session()
    touchpoints, dimensions = vocabulary(session)
    form.touchpoint.choices = [SelectChoice("", _l("None"))] + [
        SelectChoice(value, isolate_text(value)) for value in touchpoints
    ]
    form.dimension.choices = [SelectChoice("", _l("None"))] + [
        SelectChoice(value, pillar_label(value) if value in PILLAR_LABELS else isolate_text(value))
        for value in dimensions
    ]
    accounts = session.exec(
        select(Account).where(Account.active.is_(True)).order_by(Account.name, Account.email)  # type: ignore[attr-defined]
    ).all()
    form.people.choices = [
        SelectChoice(account.id, isolate_text(account.name or account.email)) for account in accounts
    ]


def _authors(stories: list[Story]) -> dict[int, Account]:
    ids = {story.author_id for story in stories if story.author_id}
    if not ids:
        return {}
    return {account.id: account for account in get_session().exec(select(Account).where(Account.id.in_(ids)))}  # type: ignore[union-attr,misc]


@blueprint.route("/")
@role_required(*EVERYONE)
def index() -> str:
    session = get_session()
    feed = published(session)
    mine = session.exec(
        select(Story)
        .where(Story.author_id == current_user.id, Story.state.in_(("draft", "submitted")))  # type: ignore[attr-defined]
        .order_by(Story.created_at.desc())  # type: ignore[attr-defined]
    ).all()
    to_review = []
    if current_user.has_role("lead"):
        to_review = session.exec(
            select(Story).where(Story.state == "submitted").order_by(Story.submitted_at)  # type: ignore[arg-type]
        ).all()
    everyone = [*feed, *mine, *to_review]
    return render_template(
        "stories/index.html",
        feed=feed,
        mine=mine,
        to_review=to_review,
        authors=_authors(everyone),
        applause=applause_counts(session, (story.id for story in feed)),  # type: ignore[misc]
    )


@blueprint.route("/feed.atom")
@role_required(*EVERYONE)
def feed() -> Response:
    """The published stories as an Atom feed, for a reader or an intranet page."""
    session = get_session()
    stories = published(session, limit=30)

    def iso(moment: datetime | None) -> str:
        return aware(moment).isoformat() if moment else "1970-01-01T00:00:00+00:00"

    updated = iso(stories[0].published_at if stories else None)
    body = render_template("stories/feed.xml", stories=stories, authors=_authors(stories), iso=iso, updated=updated)
    return Response(body, mimetype="application/atom+xml")


@blueprint.route("/new", methods=["GET", "POST"])
@role_required(*EVERYONE)
def new() -> str | WerkzeugResponse | tuple[str, int]:
    form = StoryForm()
    _fill_choices(form)
    if request.method == "GET" and request.args.get("alert", "").isdigit():
        alert = get_session().get(Alert, int(request.args["alert"]))
        if alert is not None and (current_user.has_role("lead") or alert.owner_id == current_user.id):
            form.alert.data = str(alert.id)
            form.touchpoint.data = alert.touchpoint or ""
            form.dimension.data = alert.dimension or ""
    return _save(form, None)


@blueprint.route("/<int:story_id>/edit", methods=["GET", "POST"])
@role_required(*EVERYONE)
def edit(story_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    story = _story_or_404(story_id)
    if not _is_author(story):
        abort(403)
    if story.state not in ("draft", "submitted"):
        flash(_("A published or archived story is not edited any more."), "error")
        return redirect(url_for("stories.show", story_id=story.id))
    form = StoryForm(obj=story if request.method == "GET" else None)
    _fill_choices(form)
    if request.method == "GET":
        form.alert.data = str(story.alert_id or "")
        form.touchpoint.data = story.touchpoint or ""
        form.dimension.data = story.dimension or ""
        form.people.data = [account.id for account in people_of(get_session(), story)]
    return _save(form, story)


def _save(form: StoryForm, story: Story | None) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            alert_id = int(form.alert.data) if (form.alert.data or "").isdigit() else None
            text = StoryText(
                title=form.title.data or "",
                problem=form.problem.data or "",
                action=form.action.data or "",
                outcome=form.outcome.data or "",
                lesson=form.lesson.data or "",
                touchpoint=form.touchpoint.data or None,
                dimension=form.dimension.data or None,
                alert_id=alert_id,
                people=tuple(form.people.data or ()),
            )
            submit = request.form.get("send") == "submit"
            try:
                saved = write(session, current_user.id, text, story, submit=submit)
                session.commit()
            except StoryError as error:
                session.rollback()
                form.title.errors = [*form.title.errors, str(error)]
            else:
                if saved.state == "submitted":
                    flash(_("Your story is with the leads for review. Thank you for telling it."), "info")
                else:
                    flash(_("Draft saved."), "info")
                return redirect(url_for("stories.show", story_id=saved.id))
    return render_template("stories/form.html", form=form, story=story), status


@blueprint.route("/<int:story_id>")
@role_required(*EVERYONE)
def show(story_id: int) -> str:
    session = get_session()
    story = _story_or_404(story_id)
    if not _may_read(story):
        abort(404)
    people = people_of(session, story)
    thanks_form = ThanksForm(prefix="thanks")
    thanks_form.person.choices = [
        SelectChoice(person.id, isolate_text(person.name or person.email))
        for person in people
        if person.id != current_user.id
    ]
    return render_template(
        "stories/show.html",
        story=story,
        author=session.get(Account, story.author_id) if story.author_id else None,
        people=people,
        thanks=thanks_of(session, story),
        applause=applause_counts(session, [story.id]).get(story.id, 0),  # type: ignore[list-item]
        applauded=session.get(StoryApplause, (story.id, current_user.id)) is not None,
        thanks_form=thanks_form,
        action_form=ActionForm(),
        is_author=_is_author(story),
    )


@blueprint.route("/<int:story_id>/publish", methods=["POST"], defaults={"action": "publish"})
@blueprint.route("/<int:story_id>/send_back", methods=["POST"], defaults={"action": "send_back"})
@blueprint.route("/<int:story_id>/archive", methods=["POST"], defaults={"action": "archive"})
@blueprint.route("/<int:story_id>/applaud", methods=["POST"], defaults={"action": "applaud"})
@role_required(*EVERYONE)
def act(story_id: int, action: str) -> WerkzeugResponse:
    session = get_session()
    story = _story_or_404(story_id)
    if not _may_read(story):
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    if action in ("publish", "send_back") and not current_user.has_role("lead"):
        abort(403)
    if action == "archive" and not (current_user.has_role("lead") or _is_author(story)):
        abort(403)
    try:
        if action == "publish":
            record(session, current_user, "story.publish", f"#{story.id} {story.title}"[:200])
            publish(current_app, session, story, current_user.id)
            flash(_("The story is published."), "info")
        elif action == "send_back":
            send_back(session, story)
            session.commit()
            flash(_("The story is back with its author as a draft."), "info")
        elif action == "archive":
            record(session, current_user, "story.archive", f"#{story.id} {story.title}"[:200])
            archive(session, story)
            session.commit()
            flash(_("The story is archived."), "info")
        elif applaud(session, story, current_user.id):
            session.commit()
            flash(_("Applause sent."), "info")
        else:
            flash(_("You have applauded this story already."), "info")
    except StoryError as error:
        session.rollback()
        flash(_("This was refused: %(reason)s", reason=str(error)), "error")
    return redirect(url_for("stories.show", story_id=story.id))


@blueprint.route("/<int:story_id>/thank", methods=["POST"])
@role_required(*EVERYONE)
def thank_view(story_id: int) -> WerkzeugResponse:
    session = get_session()
    story = _story_or_404(story_id)
    if not _may_read(story):
        abort(404)
    form = ThanksForm(prefix="thanks")
    form.person.choices = [
        SelectChoice(person.id, isolate_text(person.name or person.email)) for person in people_of(session, story)
    ]
    if not form.validate_on_submit():
        flash(_("Choose a colleague named in the story and a pillar."), "error")
        return redirect(url_for("stories.show", story_id=story.id))
    try:
        thank(session, story, current_user.id, form.person.data, form.pillar.data)
        session.commit()
        flash(_("Thanks sent."), "info")
    except StoryError as error:
        session.rollback()
        flash(_("This was refused: %(reason)s", reason=str(error)), "error")
    return redirect(url_for("stories.show", story_id=story.id))
