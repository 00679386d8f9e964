"""Best failures: from a detractor's answer to a published story in the report and the board pack."""

from __future__ import annotations

from xml.etree import ElementTree

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from perception import StoryPublished, create_app, hookimpl
from perception.audit import AuditEvent
from perception.db import session_scope
from perception.models import Account, Alert, Story, StoryApplause, StoryThanks
from tests.conftest import make_account, post_form, sign_in
from tests.test_alerts import alerts, answer, loop_wave

STORY = {
    "title": "The invoice that came three times",
    "problem": "A customer was billed three times for one repair and had called twice.",
    "action": "Ana called her back within the hour, refunded the two extra charges and fixed the billing rule.",
    "outcome": "The customer wrote to thank us and renewed her contract.",
    "lesson": "A call-back the same day turns a detractor around; billing rules now get a second check.",
}


def account_id(app: Flask, email: str) -> int:
    with session_scope(app) as session:
        return session.exec(select(Account.id).where(Account.email == email)).one()


def stories(app: Flask) -> list[Story]:
    with session_scope(app) as session:
        return list(session.exec(select(Story).order_by(Story.id)).all())


def tell(client: FlaskClient, send: str = "submit", **fields: object) -> object:
    return post_form(client, "/stories/new", {**STORY, "send": send, **fields})


class Listener:
    def __init__(self) -> None:
        self.published: list[StoryPublished] = []

    @hookimpl
    def perception_story_published(self, app: Flask, event: StoryPublished) -> None:
        self.published.append(event)


def test_hook_perception_story_published(app_config: dict) -> None:
    """A detractor's answer, its alert resolved, the story told from it, published, in the report."""
    listener = Listener()
    app = create_app(app_config, plugins=[listener])
    try:
        token = loop_wave(app)
        assert answer(app, token, recommend=1, item_comment="Billed three times!") == 302
        (alert,) = alerts(app)
        lead = sign_in(app, "lead")
        resolved = {"action": "close", "close-status": "resolved", "close-note": "Refunded.", "close-kept": "y"}
        assert post_form(lead, f"/alerts/{alert.id}", resolved).status_code == 302
        page = lead.get(f"/alerts/{alert.id}").get_data(as_text=True)
        assert f'href="/stories/new?alert={alert.id}"' in page  # a resolved alert offers "tell this story"

        form = lead.get(f"/stories/new?alert={alert.id}").get_data(as_text=True)
        assert "is your responsibility" in form
        assert f'name="alert" type="hidden" value="{alert.id}"' in form
        assert '<option selected value="support call">' in form  # the alert's touchpoint, chosen
        colleague = make_account(app, "employee", "ana@example.com")
        response = tell(lead, alert=str(alert.id), touchpoint="support call", dimension="Empathy",
                        people=str(account_id(app, colleague)))  # fmt: skip
        assert response.status_code == 302
        (story,) = stories(app)
        assert (story.state, story.alert_id, story.dimension) == ("submitted", alert.id, "Empathy")
        assert listener.published == []

        assert post_form(lead, f"/stories/{story.id}/publish", {}, token_from=f"/stories/{story.id}").status_code == 302
        (event,) = listener.published
        assert (event.story_id, event.title, event.alert_id, event.dimension) == (
            story.id, STORY["title"], alert.id, "Empathy",
        )  # fmt: skip
        with session_scope(app) as session:
            (audit,) = session.exec(select(AuditEvent).where(AuditEvent.action == "story.publish")).all()
            assert audit.actor == "lead@example.com"

        report = lead.get("/surveys/loop/waves/w1/report").get_data(as_text=True)
        section = report[report.index("Best failures of the period") :]
        assert "Empathy" in section and f'href="/stories/{story.id}"' in section
    finally:
        app.extensions["perception"].engine.dispose()


def test_the_board_pack_features_the_stories_of_the_period(app: Flask) -> None:
    from perception.board_pack import board_pack_pdf
    from perception.report import gap_report
    from perception.surveys import items_of
    from perception.waves import find_survey, find_wave

    loop_wave(app)
    author = sign_in(app, "employee")
    assert tell(author, dimension="Resolution").status_code == 302
    (story,) = stories(app)
    lead = sign_in(app, "lead")
    post_form(lead, f"/stories/{story.id}/publish", {}, token_from=f"/stories/{story.id}")
    with app.test_request_context(), session_scope(app) as session:
        survey = find_survey(session, "loop")
        report = gap_report(
            session, survey, find_wave(session, survey, "w1"), items_of(session, survey),
            app.extensions["perception"].registries.scoring_models, 5,
        )  # fmt: skip
        from flask import render_template

        html = render_template("stories/_of_period.html", report=report, linked=False)
        assert "The invoice that came three times" in html and "Resolution" in html
        assert board_pack_pdf(report, "<svg xmlns='http://www.w3.org/2000/svg'/>", "en").startswith(b"%PDF")


def test_a_story_with_script_in_it_is_shown_as_text(app: Flask) -> None:
    author = sign_in(app, "employee")
    script = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    assert tell(author, title=f"Title {script}", problem=script).status_code == 302
    (story,) = stories(app)
    page = author.get(f"/stories/{story.id}").get_data(as_text=True)
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    lead = sign_in(app, "lead")
    post_form(lead, f"/stories/{story.id}/publish", {}, token_from=f"/stories/{story.id}")
    feed = author.get("/stories/feed.atom")
    assert feed.mimetype == "application/atom+xml"
    root = ElementTree.fromstring(feed.get_data())  # well-formed, the script only as text
    titles = [element.text for element in root.iter("{http://www.w3.org/2005/Atom}title")]
    assert f"Title {script}" in titles


def test_a_non_lead_cannot_publish(app: Flask) -> None:
    author = sign_in(app, "employee")
    assert tell(author).status_code == 302
    (story,) = stories(app)
    path = f"/stories/{story.id}"
    assert post_form(author, f"{path}/publish", {}, token_from=path).status_code == 403
    leader = sign_in(app, "leader")
    assert leader.get(path).status_code == 404  # not published: only its author and the leads read it
    assert stories(app)[0].state == "submitted"


def test_a_story_needs_its_four_parts_to_be_submitted_but_not_to_be_drafted(app: Flask) -> None:
    author = sign_in(app, "employee")
    response = tell(author, lesson="")
    assert response.status_code == 422
    assert "lesson: write this part" in response.get_data(as_text=True)
    assert tell(author, send="draft", lesson="").status_code == 302
    (draft,) = stories(app)
    assert draft.state == "draft"
    lead = sign_in(app, "lead")
    post_form(lead, f"/stories/{draft.id}/publish", {}, token_from=f"/stories/{draft.id}")
    assert stories(app)[0].state == "draft"  # a draft is not published, even by a lead


def test_colleagues_applaud_once_each_and_thank_the_people_in_it(app: Flask) -> None:
    ana = make_account(app, "employee", "ana@example.com")
    author = sign_in(app, "employee")
    assert tell(author, people=str(account_id(app, ana))).status_code == 302
    (story,) = stories(app)
    path = f"/stories/{story.id}"
    lead = sign_in(app, "lead")
    post_form(lead, f"{path}/publish", {}, token_from=path)
    leader = sign_in(app, "leader")
    for _ in range(2):
        assert post_form(leader, f"{path}/applaud", {}, token_from=path).status_code == 302
    post_form(lead, f"{path}/applaud", {}, token_from=path)
    with session_scope(app) as session:
        assert len(session.exec(select(StoryApplause)).all()) == 2
    thanks = {"thanks-person": str(account_id(app, ana)), "thanks-pillar": "Empathy"}
    assert post_form(leader, f"{path}/thank", thanks, token_from=path).status_code == 302
    post_form(leader, f"{path}/thank", {**thanks, "thanks-pillar": "Resolution"}, token_from=path)  # once per person
    post_form(lead, f"{path}/thank", {**thanks, "thanks-pillar": "Pride"}, token_from=path)  # not a pillar
    with session_scope(app) as session:
        assert [(row.to_id, row.pillar) for row in session.exec(select(StoryThanks))] == [
            (account_id(app, ana), "Empathy")
        ]
    page = leader.get(path).get_data(as_text=True)
    assert "Applause: 2" in page
    assert "<bdi>Employee</bdi>, thanked for Empathy: 1" in page


def test_only_the_author_edits_and_only_before_publication(app: Flask) -> None:
    author = sign_in(app, "employee")
    assert tell(author, send="draft").status_code == 302
    (story,) = stories(app)
    other = sign_in(app, "leader")
    assert other.get(f"/stories/{story.id}/edit").status_code == 403
    changed = post_form(author, f"/stories/{story.id}/edit", {**STORY, "title": "Better title", "send": "submit"})
    assert changed.status_code == 302
    assert (stories(app)[0].title, stories(app)[0].state) == ("Better title", "submitted")
    lead = sign_in(app, "lead")
    post_form(lead, f"/stories/{story.id}/publish", {}, token_from=f"/stories/{story.id}")
    late = author.get(f"/stories/{story.id}/edit")
    assert late.status_code == 302
    assert stories(app)[0].title == "Better title"


def test_a_story_linked_to_an_unknown_alert_is_refused(app: Flask) -> None:
    author = sign_in(app, "employee")
    response = tell(author, alert="999")
    assert response.status_code == 422
    assert "there is no alert #999" in response.get_data(as_text=True)
    with session_scope(app) as session:
        assert session.exec(select(Alert)).all() == []
    assert stories(app) == []


def test_the_demo_has_alerts_and_published_stories(app: Flask) -> None:
    assert app.test_cli_runner().invoke(args=["demo", "--no-serve"]).exit_code == 0
    with session_scope(app) as session:
        statuses = sorted(alert.status for alert in session.exec(select(Alert)))
        assert statuses == ["closed_without_contact", "in_progress", "open", "resolved"]
        assert [story.state for story in session.exec(select(Story))] == ["published", "published"]
    lead = sign_in(app, "lead")
    assert "1 overdue" in lead.get("/alerts/").get_data(as_text=True)
    assert "Le prêt débloqué un samedi" in lead.get("/stories/").get_data(as_text=True)
