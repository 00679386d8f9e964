"""Best failures through the API (`stories:read`): published stories only, as employees read them.

Drafts, stories waiting for review and archived ones are not there. People are named as the
story's page names them; who applauded or thanked is never said, only how many.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import col, select

from perception.db import get_session
from perception.models import Account, Story
from perception.stories import applause_counts, people_of
from perception.web.api.base import ApiProblem, PageQuery, decode_cursor, operation, page, page_of


class StoryOut(BaseModel):
    """A customer's problem turned into an exceptional experience by someone's initiative."""

    id: int
    title: str
    problem: str = Field(description="The customer's issue (Markdown).")
    action: str = Field(description="What someone did (Markdown).")
    outcome: str = Field(description="The customer's reaction (Markdown).")
    lesson: str = Field(description="What the company learnt (Markdown).")
    dimension: str | None
    touchpoint: str | None
    author: str | None = Field(description="Who told it, as employees see it (name, or email).")
    people: list[str] = Field(description="The colleagues the story names.")
    applause: int = Field(description="How many colleagues applauded it.")
    published_at: datetime


class StoryQuery(PageQuery):
    dimension: str | None = Field(default=None, max_length=64, description="Only stories of this dimension.")
    touchpoint: str | None = Field(default=None, max_length=64, description="Only stories of this touchpoint.")


def _shown(account: Account) -> str:
    return account.name or account.email


def _out(story: Story, applause: int) -> StoryOut:
    session = get_session()
    author = session.get(Account, story.author_id) if story.author_id else None
    return StoryOut(
        id=story.id or 0, title=story.title, problem=story.problem, action=story.action, outcome=story.outcome,
        lesson=story.lesson, dimension=story.dimension, touchpoint=story.touchpoint,
        author=_shown(author) if author else None, people=[_shown(person) for person in people_of(session, story)],
        applause=applause, published_at=story.published_at,  # type: ignore[arg-type]
    )  # fmt: skip


@operation(
    "GET", "/stories", summary="List published stories", tag="stories", scope="stories:read",
    query=StoryQuery, response=page_of(StoryOut), description="Newest first.",
)  # fmt: skip
def list_stories(query: StoryQuery) -> dict:
    after = decode_cursor("stories", query.cursor)
    statement = select(Story).where(Story.state == "published").order_by(col(Story.id).desc()).limit(query.limit + 1)
    if query.dimension is not None:
        statement = statement.where(Story.dimension == query.dimension)
    if query.touchpoint is not None:
        statement = statement.where(Story.touchpoint == query.touchpoint)
    if after is not None:
        statement = statement.where(col(Story.id) < int(after))
    rows, cursor = page("stories", list(get_session().exec(statement).all()), query.limit, lambda story: story.id)
    applause = applause_counts(get_session(), [story.id for story in rows])
    return {"data": [_out(story, applause.get(story.id, 0)).model_dump(mode="json") for story in rows],
            "next_cursor": cursor}  # fmt: skip


@operation(
    "GET", "/stories/<int:story_id>", summary="Read a published story", tag="stories", scope="stories:read",
    response=StoryOut,
)  # fmt: skip
def read_story(story_id: int) -> StoryOut:
    story = get_session().get(Story, story_id)
    if story is None or story.state != "published":
        raise ApiProblem(404, f"There is no published story {story_id}.")
    return _out(story, applause_counts(get_session(), [story_id]).get(story_id, 0))
