"""Ideas and best-failure stories through the API: what employees see, and nothing more."""

from __future__ import annotations

from flask import Flask
from sqlmodel import select

from perception import ideas, stories
from perception.db import session_scope
from perception.models import Account
from tests.conftest import make_account
from tests.test_api_resources import token_for


def account(app: Flask, role: str, name: str) -> int:
    email = make_account(app, role, email=f"{name.lower()}@example.com")
    with session_scope(app) as session:
        found = session.exec(select(Account).where(Account.email == email)).one()
        found.name = name
        return found.id  # type: ignore[return-value]


def seed_ideas(app: Flask) -> dict[str, int]:
    """Ideas of every kind: signed, anonymous, hidden by reports, removed, merged, decided."""
    ana, lead = account(app, "employee", "Ana"), account(app, "lead", "Lea")
    with session_scope(app) as session:
        signed = ideas.post_idea(session, ana, "Call customers back within a day", "We **lose** them otherwise.")
        signed.dimension = "Time and Effort"
        anonymous = ideas.post_idea(session, ana, "Tell customers when a delivery is late", "Before they ask.",
                                    anonymous=True)  # fmt: skip
        anonymous.dimension = "Expectations"
        hidden = ideas.post_idea(session, ana, "Something colleagues reported", "Hidden until a lead rules.")
        hidden.moderation = "pending"
        removed = ideas.post_idea(session, ana, "Something a lead removed", "Gone.")
        removed.moderation = "removed"
        duplicate = ideas.post_idea(session, ana, "Call back customers the same day", "Same as the first.")
        session.flush()
        ideas.change_state(session, signed, lead, "accepted", "We start next month.")
        ideas.merge(session, duplicate, signed, lead, "The same idea as an earlier one.")
        return {"signed": signed.id, "anonymous": anonymous.id, "hidden": hidden.id, "removed": removed.id,
                "merged": duplicate.id}  # type: ignore[return-value]  # fmt: skip


def test_a_bi_tool_reads_the_ideas_employees_see_and_never_an_anonymous_author(app: Flask) -> None:
    made = seed_ideas(app)
    client, headers = app.test_client(), token_for(app, "ideas:read")
    listed = client.get("/api/v1/ideas", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    data = listed.get_json()["data"]
    assert [idea["id"] for idea in data] == [
        made["anonymous"],
        made["signed"],
    ]  # newest first; no hidden, removed, merged
    anonymous, signed = data
    assert anonymous["author"] is None and "Ana" not in str(anonymous) and "ana@" not in str(anonymous)
    assert signed["author"] == "Ana" and signed["state"] == "accepted" and signed["dimension"] == "Time and Effort"
    assert client.get("/api/v1/ideas?state=merged", headers=headers).get_json()["data"][0]["id"] == made["merged"]
    only = client.get("/api/v1/ideas?dimension=Expectations", headers=headers).get_json()["data"]
    assert [idea["id"] for idea in only] == [made["anonymous"]]
    assert client.get("/api/v1/ideas?state=declined", headers=headers).get_json()["data"] == []
    one = client.get(f"/api/v1/ideas/{made['signed']}", headers=headers).get_json()
    assert [(d["from_state"], d["to_state"], d["answer"]) for d in one["decisions"]] == [
        ("submitted", "accepted", "We start next month.")
    ]
    assert "Lea" not in str(one)  # the lead who decided is not named
    for name in ("hidden", "removed"):
        gone = client.get(f"/api/v1/ideas/{made[name]}", headers=headers)
        assert gone.status_code == 404 and gone.mimetype == "application/problem+json"


def test_ideas_come_in_pages_that_follow_each_other(app: Flask) -> None:
    ana = account(app, "employee", "Ana")
    with session_scope(app) as session:
        for number in range(5):
            ideas.post_idea(session, ana, f"Idea number {number}", "A body.")
    client, headers = app.test_client(), token_for(app, "ideas:read")
    seen, url = [], "/api/v1/ideas?limit=2"
    while url:
        answer = client.get(url, headers=headers).get_json()
        seen += [idea["title"] for idea in answer["data"]]
        url = answer["next_cursor"] and f"/api/v1/ideas?limit=2&cursor={answer['next_cursor']}"
    assert seen == [f"Idea number {number}" for number in reversed(range(5))]
    forged = client.get("/api/v1/ideas?cursor=forged", headers=headers)
    assert forged.status_code == 400 and forged.get_json()["errors"][0]["field"] == "query.cursor"


def seed_stories(app: Flask) -> dict[str, int]:
    ana, bob, lead = account(app, "employee", "Ana"), account(app, "employee", "Bob"), account(app, "lead", "Lea")
    text = stories.StoryText(title="The parcel that came by taxi", problem="A parcel was lost.",
                             action="Bob drove it over.", outcome="The customer stayed.", lesson="Own the problem.",
                             dimension="Resolution", touchpoint="delivery", people=(bob,))  # fmt: skip
    with session_scope(app) as session:
        published = stories.write(session, ana, text, submit=True)
        stories.publish(app, session, published, lead)
        submitted = stories.write(session, ana, stories.StoryText(**{**text.__dict__, "title": "Waiting"}), submit=True)
        draft = stories.write(session, ana, stories.StoryText(**{**text.__dict__, "title": "A draft"}))
        stories.applaud(session, published, bob)
        session.commit()
        return {"published": published.id, "submitted": submitted.id, "draft": draft.id}  # type: ignore[dict-item]


def test_a_bi_tool_reads_published_stories_only(app: Flask) -> None:
    made = seed_stories(app)
    client, headers = app.test_client(), token_for(app, "stories:read")
    data = client.get("/api/v1/stories", headers=headers).get_json()["data"]
    assert [story["id"] for story in data] == [made["published"]]
    story = data[0]
    assert story["author"] == "Ana" and story["people"] == ["Bob"] and story["applause"] == 1
    assert story["action"] == "Bob drove it over." and story["dimension"] == "Resolution"
    assert client.get("/api/v1/stories?touchpoint=website", headers=headers).get_json()["data"] == []
    assert client.get(f"/api/v1/stories/{made['published']}", headers=headers).get_json() == story
    for name in ("submitted", "draft"):
        assert client.get(f"/api/v1/stories/{made[name]}", headers=headers).status_code == 404


def test_ideas_and_stories_each_need_their_scope(app: Flask) -> None:
    client = app.test_client()
    reports = token_for(app, "reports:read")
    assert client.get("/api/v1/ideas").status_code == 401
    assert client.get("/api/v1/stories").status_code == 401
    assert client.get("/api/v1/ideas", headers=reports).status_code == 403
    assert client.get("/api/v1/stories", headers=token_for(app, "ideas:read")).status_code == 403
    assert client.get("/api/v1/ideas", headers=token_for(app, "stories:read")).status_code == 403
