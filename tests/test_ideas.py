"""The idea box, as employees and leads use it: post, find, support, compare, decide, moderate."""

from __future__ import annotations

import random
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, text
from sqlmodel import select

from perception.db import engine_of, session_scope
from perception.ideas import IdeaError, post_idea
from perception.models import Account, Idea, IdeaSupport, Item, Notification
from perception.ranking import choose_pair, rank
from tests.conftest import post_form, sign_in


def account_id(app: Flask, email: str) -> int:
    with session_scope(app) as session:
        return session.exec(select(Account.id).where(Account.email == email)).one()


def post(client: FlaskClient, title: str, body: str = "Details.", **extra: object) -> int:
    response = post_form(client, "/ideas/new", {"title": title, "body": body, "action": "post", **extra})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def employee_named(app: Flask, name: str) -> FlaskClient:
    from tests.conftest import PASSWORD, make_account

    email = make_account(app, "employee", email=f"{name}@example.com")
    client = app.test_client()
    assert post_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302
    return client


def supporters(app: Flask, idea_id: int) -> list[int]:
    with session_scope(app) as session:
        return sorted(session.exec(select(IdeaSupport.account_id).where(IdeaSupport.idea_id == idea_id)))


def decide(lead: FlaskClient, idea_id: int, state: str, answer: str = "We looked at it."):  # type: ignore[no-untyped-def]
    return post_form(
        lead, f"/ideas/{idea_id}/decide", {"state": state, "answer": answer}, token_from=f"/ideas/{idea_id}"
    )


# Posting and finding.


def test_an_employee_posts_an_idea_linked_to_an_item_and_finds_it_by_dimension(
    app: Flask, employee: FlaskClient, core_wave: tuple[str, str]
) -> None:
    with session_scope(app) as session:
        item = session.exec(select(Item).where(Item.key == "effort")).one()
        item_id, dimension = item.id, item.dimension
    page = employee.get("/ideas/new").get_data(as_text=True)
    assert f'value="item:{item_id}"' in page
    idea_id = post(employee, "One number to call for every question", "Customers **hunt** for the right number.",
                   target=f"item:{item_id}")  # fmt: skip
    shown = employee.get(f"/ideas/{idea_id}").get_data(as_text=True)
    assert "<strong>hunt</strong>" in shown
    assert "by <bdi>Employee</bdi>" in shown
    listed = employee.get(f"/ideas/?dimension={dimension}").get_data(as_text=True)
    assert "One number to call for every question" in listed
    assert "One number" not in employee.get("/ideas/?dimension=Empathy").get_data(as_text=True)


def test_a_script_in_markdown_never_reaches_the_page(employee: FlaskClient) -> None:
    body = 'Hi <script>alert(1)</script> [click](javascript:alert(2)) <img src=x onerror="alert(3)">'
    idea_id = post(employee, "Safer pages for customers", body)
    page = employee.get(f"/ideas/{idea_id}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert 'href="javascript' not in page
    assert re.search(r"<img|<[^>]*onerror", page) is None
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as the text it is


def test_bad_inputs_are_refused_with_a_message(employee: FlaskClient) -> None:
    response = post_form(employee, "/ideas/new", {"title": "Hi", "body": "", "action": "post"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Between 5 and 160 characters." in page and "Describe the idea." in page
    response = post_form(employee, "/ideas/new", {"title": "A fine title", "body": "x", "target": "item:999999",
                                                  "action": "post"})  # fmt: skip
    assert "No survey item has the id 999999." in response.get_data(as_text=True)


def test_an_anonymous_idea_leaves_no_trace_of_its_author_in_the_database(app: Flask, lead: FlaskClient) -> None:
    writer = employee_named(app, "zoe.writer")
    writer_id = account_id(app, "zoe.writer@example.com")
    idea_id = post(writer, "Anonymous suggestion about refunds", "Refunds take too long.", anonymous="y")
    assert "anonymously" in writer.get(f"/ideas/{idea_id}").get_data(as_text=True)
    # A lead decides on it: nobody is told, since nobody is known to have written it.
    assert decide(lead, idea_id, "under_review").status_code == 302
    # Read every row of every table: no column pointing at an account holds the author's id, and
    # no text holds their email or name.
    engine = engine_of(app)
    inspector = inspect(engine)
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            if table == "account":
                continue
            account_columns = {
                column
                for key in inspector.get_foreign_keys(table)
                if key["referred_table"] == "account"
                for column in key["constrained_columns"]
            }
            for row in connection.execute(text(f'SELECT * FROM "{table}"')).mappings():
                for column, value in row.items():
                    assert not (column in account_columns and value == writer_id), (table, column)
                    assert "zoe" not in str(value).lower(), (table, column)
        idea = connection.execute(text("SELECT * FROM idea WHERE id = :id"), {"id": idea_id}).mappings().one()
        assert idea["author_id"] is None
        assert connection.execute(text("SELECT count(*) FROM notification")).scalar() == 0


def test_similar_ideas_are_suggested_with_and_without_javascript(employee: FlaskClient) -> None:
    post(employee, "Call customers back within a day")
    post(employee, "Put the invoice in plain words")
    found = employee.get("/ideas/similar?title=call back customers the same day").get_json()
    assert [idea["title"] for idea in found] == ["Call customers back within a day"]
    assert employee.get("/ideas/similar?title=zzz").get_json() == []
    # Without JavaScript: the check step shows them, and posts nothing.
    response = post_form(employee, "/ideas/new", {"title": "call back customers the same day", "body": "",
                                                  "action": "check"})  # fmt: skip
    page = response.get_data(as_text=True)
    assert "Similar ideas already posted:" in page and "Call customers back within a day" in page
    assert page.count('class="card idea-card"') == 0
    assert employee.get("/ideas/?order=newest").get_data(as_text=True).count('class="card idea-card"') == 2


def test_the_new_idea_page_loads_its_script_from_a_file(employee: FlaskClient) -> None:
    page = employee.get("/ideas/new").get_data(as_text=True)
    assert '<script src="/static/ideas.js" defer></script>' in page
    assert re.search(r"<script>(?!</script>)", page) is None
    assert employee.get("/static/ideas.js").status_code == 200


def test_random_order_is_stable_for_one_viewer_and_differs_between_viewers(app: Flask, employee: FlaskClient) -> None:
    for number in range(12):
        post(employee, f"Idea number {number:02d} for customers")

    def order(client: FlaskClient) -> list[str]:
        return re.findall(r"Idea number (\d\d)", client.get("/ideas/").get_data(as_text=True))

    first = order(employee)
    assert order(employee) == first
    assert sorted(first) == [f"{n:02d}" for n in range(12)]
    others = [order(employee_named(app, f"viewer{n}")) for n in range(4)]
    assert any(other != first for other in others)
    newest = re.findall(r"Idea number (\d\d)", employee.get("/ideas/?order=newest").get_data(as_text=True))
    assert newest == [f"{n:02d}" for n in reversed(range(12))]


# Support.


def test_one_support_per_employee_withdrawable_and_most_supported_first(app: Flask, employee: FlaskClient) -> None:
    quiet = post(employee, "A quiet idea about parking")
    loud = post(employee, "A loud idea about waiting times")
    me = account_id(app, "employee@example.com")
    assert post_form(employee, f"/ideas/{loud}/support", {}, token_from=f"/ideas/{loud}").status_code == 302
    again = post_form(employee, f"/ideas/{loud}/support", {}, token_from=f"/ideas/{loud}", follow_redirects=True)
    assert "You support this idea already." in again.get_data(as_text=True)
    assert supporters(app, loud) == [me]
    listed = employee.get("/ideas/?order=supported").get_data(as_text=True)
    assert listed.index("A loud idea") < listed.index("A quiet idea")
    post_form(employee, f"/ideas/{loud}/support", {"withdraw": "1"}, token_from=f"/ideas/{loud}")
    assert supporters(app, loud) == []
    assert quiet


def test_a_decided_idea_takes_no_more_support(employee: FlaskClient, lead: FlaskClient) -> None:
    idea_id = post(employee, "Declined idea about fax machines")
    assert decide(lead, idea_id, "declined", "Fax is gone.").status_code == 302
    response = post_form(employee, f"/ideas/{idea_id}/support", {}, token_from=f"/ideas/{idea_id}",
                         follow_redirects=True)  # fmt: skip
    assert "Voting on this idea is closed" in response.get_data(as_text=True)


# Following through.


def test_the_story_of_an_idea_from_posting_to_implemented(app: Flask, lead: FlaskClient) -> None:
    author = employee_named(app, "ana")
    fan = employee_named(app, "bo")
    idea_id = post(author, "Text customers when the technician is on the way")
    post_form(fan, f"/ideas/{idea_id}/support", {}, token_from=f"/ideas/{idea_id}")
    steps = [
        ("under_review", "We are looking at the SMS provider."),
        ("accepted", "Approved by the service board."),
        ("in_progress", "Pilot in Lyon this month."),
        ("implemented", "Live everywhere since Monday."),
    ]
    for state, answer in steps:
        assert decide(lead, idea_id, state, answer).status_code == 302
    with session_scope(app) as session:
        from perception.audit import AuditFilter, events

        logged = [(event.actor, event.detail) for event in events(session, AuditFilter(action="idea.decide"))]
    assert [actor for actor, _ in logged] == ["lead@example.com"] * 4
    assert '"to": "implemented"' in logged[0][1]
    page = author.get(f"/ideas/{idea_id}").get_data(as_text=True)
    for _state, answer in steps:
        assert answer in page
    assert "implemented" in page
    # Author and supporter each have four notifications, shown with a badge until read.
    for client in (author, fan):
        home = client.get("/ideas/").get_data(as_text=True)
        assert '<span class="badge">4' in home
        notes = client.get("/notifications/").get_data(as_text=True)
        assert "is now implemented" in notes and "Live everywhere since Monday." in notes
        post_form(client, "/notifications/read", {}, token_from="/notifications/")
        assert 'class="badge"' not in client.get("/ideas/").get_data(as_text=True)


def test_an_employee_cannot_change_a_state(app: Flask, employee: FlaskClient) -> None:
    idea_id = post(employee, "I would like to accept my own idea")
    assert decide(employee, idea_id, "accepted").status_code == 403
    with session_scope(app) as session:
        assert session.get(Idea, idea_id).state == "submitted"


def test_a_state_change_needs_an_official_answer(app: Flask, employee: FlaskClient, lead: FlaskClient) -> None:
    idea_id = post(employee, "Answers matter for every decision")
    response = post_form(lead, f"/ideas/{idea_id}/decide", {"state": "accepted", "answer": ""},
                         token_from=f"/ideas/{idea_id}", follow_redirects=True)  # fmt: skip
    assert "Every decision comes with an official answer." in response.get_data(as_text=True)
    with session_scope(app) as session:
        assert session.get(Idea, idea_id).state == "submitted"


def test_merging_moves_supports_without_counting_anyone_twice(app: Flask, lead: FlaskClient) -> None:
    ana, bo, cy = (employee_named(app, name) for name in ("ana", "bo", "cy"))
    kept = post(ana, "Shorter hold music on the support line")
    duplicate = post(bo, "Less waiting on the support phone line")
    for client, idea_id in ((ana, kept), (cy, kept), (cy, duplicate), (bo, duplicate)):
        post_form(client, f"/ideas/{idea_id}/support", {}, token_from=f"/ideas/{idea_id}")
    merging = {"merge-into": kept, "merge-answer": "Same idea: see the other."}
    response = post_form(lead, f"/ideas/{duplicate}/merge", merging, token_from=f"/ideas/{duplicate}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/ideas/{kept}")
    ids = [account_id(app, f"{name}@example.com") for name in ("ana", "bo", "cy")]
    assert supporters(app, kept) == sorted(ids)
    assert supporters(app, duplicate) == []
    assert "3 supports" in lead.get(f"/ideas/{kept}").get_data(as_text=True)
    assert "was merged into" in lead.get(f"/ideas/{duplicate}").get_data(as_text=True)
    # The duplicate's followers (its author and its supporters) are told; the kept idea's author is not.
    with session_scope(app) as session:
        told = sorted(session.exec(select(Notification.account_id)))
    assert told == sorted([ids[1], ids[2]])
    assert "was merged into another idea" in bo.get("/notifications/").get_data(as_text=True)


def test_an_idea_cannot_be_merged_into_itself(app: Flask, employee: FlaskClient, lead: FlaskClient) -> None:
    idea_id = post(employee, "Merge me into myself please")
    response = post_form(lead, f"/ideas/{idea_id}/merge", {"merge-into": idea_id, "merge-answer": "Oops."},
                         token_from=f"/ideas/{idea_id}", follow_redirects=True)  # fmt: skip
    assert "An idea cannot be merged into itself." in response.get_data(as_text=True)
    with session_scope(app) as session, pytest.raises(IdeaError):
        from perception.ideas import merge

        idea = session.get(Idea, idea_id)
        merge(session, idea, idea, 1, "Oops.")


# Moderation.


def test_reports_hide_an_idea_until_a_lead_decides(app_config: dict) -> None:
    from perception import create_app

    app = create_app({**app_config, "IDEA_REPORTS_TO_HIDE": 2})
    author = employee_named(app, "ana")
    idea_id = post(author, "An idea that some find rude")
    first, second = employee_named(app, "bo"), employee_named(app, "cy")
    post_form(first, f"/ideas/{idea_id}/report", {"reason": "Insults a colleague."}, token_from=f"/ideas/{idea_id}")
    twice = post_form(first, f"/ideas/{idea_id}/report", {"reason": "Again."}, token_from=f"/ideas/{idea_id}",
                      follow_redirects=True)  # fmt: skip
    assert "You reported this idea already." in twice.get_data(as_text=True)
    assert author.get(f"/ideas/{idea_id}").status_code == 200
    post_form(second, f"/ideas/{idea_id}/report", {"reason": "Not an idea."}, token_from=f"/ideas/{idea_id}")
    # Hidden: gone from the list and its page, and takes no votes.
    assert author.get(f"/ideas/{idea_id}").status_code == 404
    assert "some find rude" not in author.get("/ideas/").get_data(as_text=True)
    with session_scope(app) as session:
        from perception.ideas import support

        with pytest.raises(IdeaError, match="hidden"):
            support(session, session.get(Idea, idea_id), account_id(app, "bo@example.com"))
    lead = sign_in(app, "lead")
    queue = lead.get("/ideas/moderation").get_data(as_text=True)
    assert "some find rude" in queue and "Insults a colleague." in queue
    response = post_form(lead, f"/ideas/{idea_id}/moderate", {"ruling": "keep"}, token_from=f"/ideas/{idea_id}")
    assert response.status_code == 302
    assert author.get(f"/ideas/{idea_id}").status_code == 200
    assert "Nothing to moderate." in lead.get("/ideas/moderation").get_data(as_text=True)
    post_form(lead, f"/ideas/{idea_id}/moderate", {"ruling": "remove"}, token_from=f"/ideas/{idea_id}")
    assert author.get(f"/ideas/{idea_id}").status_code == 404


# Pairwise comparisons and the Bradley-Terry ranking.


def test_bradley_terry_matches_a_case_worked_out_by_hand() -> None:
    """Strengths 4 : 2 : 1 explain these answers exactly: each idea won as often as the model expects.

    A-B: 3 answers, A won 2 (expected 3 x 4/6 = 2). B-C: 3 answers, B won 2 (3 x 2/3 = 2).
    A-C: 5 answers, A won 4 (5 x 4/5 = 4). So the maximum-likelihood strengths are 4, 2, 1, and
    the chance of beating a random other idea is A: (4/6 + 4/5) / 2 = 11/15, B: (2/6 + 2/3) / 2
    = 1/2, C: (1/5 + 1/3) / 2 = 4/15.
    """
    outcomes = [(1, 2, 2), (2, 1, 1), (2, 3, 2), (3, 2, 1), (1, 3, 4), (3, 1, 1)]
    ranked = rank([1, 2, 3], outcomes, alpha=0.0)
    assert [entry.idea_id for entry in ranked] == [1, 2, 3]
    assert [entry.score for entry in ranked] == pytest.approx([11 / 15, 1 / 2, 4 / 15], abs=1e-6)
    assert [(entry.comparisons, entry.wins) for entry in ranked] == [(8, 6), (6, 3), (8, 2)]


def test_a_newcomer_with_one_win_does_not_jump_to_the_top() -> None:
    outcomes = [(1, 2, 2), (2, 1, 1), (2, 3, 2), (3, 2, 1), (1, 3, 4), (3, 1, 1), (4, 3, 1)]
    ranked = rank([1, 2, 3, 4], outcomes)
    assert ranked[0].idea_id == 1
    newcomer = next(entry for entry in ranked if entry.idea_id == 4)
    assert 0.5 < newcomer.score < 0.7
    assert rank([5], [])[0].score == 0.5


def test_catch_up_sampling_shows_ideas_with_few_comparisons_more_often() -> None:
    rng = random.Random(20261206)
    counts = {1: 200, 2: 200, 3: 200, 4: 0}
    shown = {idea: 0 for idea in counts}
    for _ in range(400):
        first, second = choose_pair(counts, rng)
        assert first != second
        shown[first] += 1
        shown[second] += 1
    assert shown[4] > 350  # the newcomer is in nearly every pair until it catches up
    assert choose_pair({1: 0}, rng) is None


def test_pairwise_answers_rank_the_ideas_and_count_only_for_the_pair_shown(app: Flask, employee: FlaskClient) -> None:
    a = post(employee, "First idea to compare")
    b = post(employee, "Second idea to compare")
    page = employee.get("/ideas/pairs").get_data(as_text=True)
    assert "Which of these two ideas would help customers more?" in page
    shown = sorted(int(value) for value in re.findall(r'name="choice" value="(\d+)"', page))
    assert shown == sorted([a, b])
    assert post_form(employee, "/ideas/pairs", {"choice": a}, token_from="/ideas/pairs").status_code == 302
    # The answer counts for the pair shown when the page was drawn, once: a replay counts nothing.
    replay = post_form(employee, "/ideas/pairs", {"choice": a}, token_from="/ideas/ranking", follow_redirects=True)
    assert "That pair was already answered" in replay.get_data(as_text=True)
    ranking = employee.get("/ideas/ranking").get_data(as_text=True)
    assert ranking.index("First idea to compare") < ranking.index("Second idea to compare")
    assert "How the ranking works" in ranking
    with session_scope(app) as session:
        from perception.models import IdeaComparison

        assert len(session.exec(select(IdeaComparison)).all()) == 1


def test_a_comparison_with_a_closed_idea_is_refused(app: Flask, employee: FlaskClient) -> None:
    with session_scope(app) as session:
        author = account_id(app, "employee@example.com")
        open_idea = post_idea(session, author, "Open idea for comparing", "x")
        closed = post_idea(session, author, "Closed idea for comparing", "x")
        closed.state = "declined"
        session.flush()
        from perception.ideas import record_comparison

        with pytest.raises(IdeaError, match="closed"):
            record_comparison(session, open_idea, closed)


# What plugins and followers hear of decisions.


def test_hook_perception_idea_state_changed(app_config: dict) -> None:
    from perception import IdeaStateChanged, create_app, hookimpl

    class Decisions:
        def __init__(self) -> None:
            self.events: list[IdeaStateChanged] = []

        @hookimpl
        def perception_idea_state_changed(self, app: Flask, event: IdeaStateChanged) -> None:
            assert app.name == "perception"
            self.events.append(event)

    plugin = Decisions()
    app = create_app(app_config, plugins=[plugin])
    author = employee_named(app, "ana")
    lead = sign_in(app, "lead")
    first = post(author, "Greet customers by name at the desk", anonymous="y")
    second = post(author, "Say hello to customers by name")
    decide(lead, first, "accepted", "Yes, from **Monday**.")
    post_form(
        lead,
        f"/ideas/{second}/merge",
        {"merge-into": first, "merge-answer": "Same idea."},
        token_from=f"/ideas/{second}",
    )
    accepted, merged = plugin.events
    assert (accepted.idea_id, accepted.from_state, accepted.to_state) == (first, "submitted", "accepted")
    assert accepted.answer == "Yes, from **Monday**." and accepted.merged_into is None
    assert (merged.idea_id, merged.to_state, merged.merged_into) == (second, "merged", first)
    assert set(vars(accepted)) == {
        "idea_id", "title", "from_state", "to_state", "answer", "decided_on", "merged_into", "decision_id"
    }  # fmt: skip


def test_followers_who_accept_it_are_told_by_email_in_their_language(app_config: dict, mailbox) -> None:  # type: ignore[no-untyped-def]
    from perception import create_app
    from tests.conftest import PASSWORD, make_account

    app = create_app({**app_config, **mailbox.settings, "BASE_URL": "http://perception.example"})
    clients = {}
    for name, language in (("ana", "fr"), ("bo", "en")):
        make_account(app, "employee", email=f"{name}@example.com", language=language)
        clients[name] = app.test_client()
        post_form(clients[name], "/login", {"email": f"{name}@example.com", "password": PASSWORD})
    idea_id = post(clients["ana"], "Rappeler les clients sous 24 heures")
    post_form(clients["bo"], f"/ideas/{idea_id}/support", {}, token_from=f"/ideas/{idea_id}")
    # Ana accepts email; Bo keeps the default (in the app only).
    post_form(clients["ana"], "/notifications/settings", {"email": "y"}, token_from="/notifications/")
    lead = sign_in(app, "lead")
    assert decide(lead, idea_id, "accepted", "Validée par le comité : **lancement en mars**.").status_code == 302
    [message] = mailbox.wait_for(1)
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Votre boîte à idées : « \u2068Rappeler les clients sous 24 heures\u2069 »"
    body = message.get_body(("plain",)).get_content()
    assert "est maintenant acceptée" in body
    assert "lancement en mars" in body and f"http://perception.example/ideas/{idea_id}" in body
    assert "<strong>lancement en mars</strong>" in message.get_body(("html",)).get_content()
    assert len(mailbox.messages) == 1  # sent during the request (immediate queue): Bo got none
    with session_scope(app) as session:
        sent = session.exec(select(Notification).where(Notification.emailed_at.is_not(None))).all()
    assert [n.account_id for n in sent] == [account_id(app, "ana@example.com")]


# The gap link.


def test_an_implemented_idea_shows_its_items_gap_before_and_after(app: Flask, lead: FlaskClient) -> None:
    from datetime import UTC, date, datetime

    from perception.models import IdeaDecision, Wave
    from perception.report import gap_report
    from perception.surveys import items_of
    from perception.waves import find_survey
    from tests.test_report import CARING, EASY, FAIR, RECOMMEND, SATISFIED, seed

    before = {"recommend": RECOMMEND, "satisfied": SATISFIED, "easy": EASY, "caring": CARING, "fair": FAIR}
    # After the idea, customers find it as easy as staff think they do.
    after = {**before, "easy": {"employee": EASY["employee"], "customer": EASY["employee"] * 4}}
    seed(app, before, "w1")
    seed(app, after, "w2")
    with session_scope(app) as session:
        survey = find_survey(session, "gaps")
        waves = {wave.name: wave for wave in session.exec(select(Wave).where(Wave.survey_id == survey.id))}
        waves["w1"].opens_on, waves["w2"].opens_on = date(2027, 1, 1), date(2027, 4, 1)
        easy = next(item for item in items_of(session, survey) if item.key == "easy")
        easy_id = easy.id
    author = employee_named(app, "ana")
    idea_id = post(author, "A callback button on the support page", target=f"item:{easy_id}")
    # The blind spot of the first wave lists the idea that addresses it.
    report_page = lead.get("/surveys/gaps/waves/w1/report").get_data(as_text=True)
    assert "Ideas addressing the blind spots" in report_page
    assert "A callback button on the support page" in report_page
    for state in ("accepted", "implemented"):
        decide(lead, idea_id, state, "Done.")
    with session_scope(app) as session:
        decision = session.exec(select(IdeaDecision).where(IdeaDecision.to_state == "implemented")).one()
        decision.created_at = datetime(2027, 2, 15, 9, tzinfo=UTC)
        models = app.extensions["perception"].registries.scoring_models
        survey = find_survey(session, "gaps")
        items = items_of(session, survey)
        expected = {
            name: next(
                row for row in gap_report(session, survey, waves[name], items, models, 5).rows if row.item.id == easy_id
            )
            for name in ("w1", "w2")
        }
    assert expected["w1"].verdict == "blind_spot" and expected["w2"].verdict != "blind_spot"
    page = author.get(f"/ideas/{idea_id}").get_data(as_text=True)
    assert "You said, we did: what changed" in page and "Implemented on 2027-02-15" in page
    assert "Before: w1" in page and "After: w2" in page
    from perception.web.helpers import format_score

    with app.test_request_context():
        for row in expected.values():
            low, high = row.gap.ci95
            interval = (
                f"[{format_score(low, row.model.unit, False, True)}; {format_score(high, row.model.unit, False, True)}]"
            )
            assert interval in page


def test_the_demo_has_ideas_in_french_and_english_and_one_implemented_between_its_waves(app: Flask) -> None:
    assert app.test_cli_runner().invoke(args=["demo", "--no-serve"]).exit_code == 0
    with session_scope(app) as session:
        ideas = session.exec(select(Idea)).all()
    titles = {idea.title: idea for idea in ideas}
    assert "Un seul numéro pour joindre son conseiller" in titles
    assert "Show the fee schedule in the app before each operation" in titles
    assert titles["Rappeler sous 24 heures toute réclamation"].author_id is None
    implemented = titles["Ne plus redemander les justificatifs déjà fournis"]
    assert implemented.state == "implemented"
    lead = sign_in(app, "lead")
    page = lead.get(f"/ideas/{implemented.id}").get_data(as_text=True)
    assert "Before: 2026-Q3" in page and "After: 2026-Q4" in page
    # Customers felt the change: the item's gap narrowed from the wave before to the wave after.
    with session_scope(app) as session:
        before, after = (_demo_gap(app, session, implemented.item_id, wave) for wave in ("2026-Q3", "2026-Q4"))
    assert after < before - 0.3
    assert "Ne plus redemander" not in lead.get("/ideas/ranking").get_data(as_text=True)
    assert assert_demo_runs_once(app) == len(ideas)


def _demo_gap(app: Flask, session, item_id: int, wave_name: str) -> float:  # type: ignore[no-untyped-def]
    from perception.report import gap_report
    from perception.surveys import items_of
    from perception.waves import find_survey, find_wave

    survey = find_survey(session, "six-pillars")
    wave = find_wave(session, survey, wave_name)
    models = app.extensions["perception"].registries.scoring_models
    report = gap_report(session, survey, wave, items_of(session, survey, wave), models, 5)
    [row] = [row for row in report.rows if row.item.id == item_id]
    return row.gap.value


def assert_demo_runs_once(app: Flask) -> int:
    app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    with session_scope(app) as session:
        return len(session.exec(select(Idea)).all())
